#!/usr/bin/env bash
# Builds the Debian package of safemesh from a built binary, with dpkg-deb (no cargo-deb needed).
#
#   deploy/deb/build.sh [BINARY] [OUT_DIR]
#
# BINARY defaults to target/release/safemesh (build it first: cargo build --release -p safemesh-node);
# OUT_DIR to target/deb. ARCH (default: this machine's, from dpkg) names the architecture, e.g.
# ARCH=arm64 for a binary cross-built with --target aarch64-unknown-linux-gnu (docs/OPERATIONS.md).
# DEB_COMPRESS (default xz) is dpkg-deb's compressor: xz, gzip, zstd or none.
# Prints the path of the .deb it wrote.
#
# The package installs /usr/bin/safemesh, the systemd unit (not enabled: a node is initialised first),
# /etc/safemesh (safemesh.env, the example config), /var/lib/safemesh (mode 0750, owned by the
# `safemesh` system user it creates) and the operations manual under /usr/share/doc/safemesh.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$root/target/release/safemesh}"
out="${2:-$root/target/deb}"
arch="${ARCH:-$(dpkg --print-architecture)}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"
[ -x "$bin" ] || { echo "没有可执行文件 / no binary at $bin (cargo build --release -p safemesh-node)" >&2; exit 2; }
[ -n "$version" ] || { echo "cannot read the version from Cargo.toml" >&2; exit 2; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
pkg="$stage/safemesh_${version}_${arch}"
install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/safemesh" \
  "$pkg/usr/share/doc/safemesh"
install -m 0755 "$bin" "$pkg/usr/bin/safemesh"
sed 's#/usr/local/bin/safemesh#/usr/bin/safemesh#g; s#file:///usr/local/share/doc/safemesh#file:///usr/share/doc/safemesh#g' \
  "$root/deploy/safemesh.service" > "$pkg/lib/systemd/system/safemesh.service"
chmod 0644 "$pkg/lib/systemd/system/safemesh.service"
install -m 0644 "$root/deploy/deb/safemesh.env" "$pkg/etc/safemesh/safemesh.env"
install -m 0644 "$root/deploy/example/safemesh.toml" "$pkg/etc/safemesh/safemesh.toml.example"
install -m 0644 "$root/docs/OPERATIONS.md" "$pkg/usr/share/doc/safemesh/OPERATIONS.md"
install -m 0644 "$root/deploy/deb/copyright" "$pkg/usr/share/doc/safemesh/copyright"
for s in postinst prerm postrm; do
  install -m 0755 "$root/deploy/deb/$s" "$pkg/DEBIAN/$s"
done
echo "/etc/safemesh/safemesh.env" > "$pkg/DEBIAN/conffiles"
size="$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: safemesh
Version: $version
Architecture: $arch
Maintainer: safemesh <safemesh@localhost>
Installed-Size: $size
Depends: adduser, libc6
Section: net
Priority: optional
Homepage: https://example.invalid/safemesh
Description: 安委办分级节点 / work-safety committee office node
 One node per administrative level (province, city, county, township): hazards
 and directives as CRDT documents, replicated up and down over gRPC with mutual
 TLS, usable while cut off from the parent. Web UI, Excel ledgers and the
 statutory monthly report. See /usr/share/doc/safemesh/OPERATIONS.md.
CONTROL
mkdir -p "$out"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" --build "$pkg" "$out/safemesh_${version}_${arch}.deb" >/dev/null
echo "$out/safemesh_${version}_${arch}.deb"
