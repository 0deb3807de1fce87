//! 安装包 — the Debian package built by `deploy/deb/build.sh` from this build's binary: what it installs,
//! where, with which modes, its control fields and maintainer scripts (issue 18). Needs `dpkg-deb`
//! (every Debian-family system has it).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("node/ is in the workspace")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_package_installs_the_binary_the_unit_etc_and_the_data_dir_with_its_user() {
    let out = tempfile::tempdir().expect("tempdir");
    let deb = run(Command::new(root().join("deploy/deb/build.sh"))
        .arg(env!("CARGO_BIN_EXE_safemesh"))
        .arg(out.path())
        .env("ARCH", "amd64")
        // A debug binary is large: stored, not compressed, so the test stays quick.
        .env("DEB_COMPRESS", "none"));
    let deb = PathBuf::from(deb.trim());
    assert!(deb.exists(), "{}", deb.display());
    assert!(
        deb.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("safemesh_0.1.0_amd64"),
        "{}",
        deb.display()
    );

    // Control fields.
    let field = |f: &str| run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(f));
    assert_eq!(field("Package").trim(), "safemesh");
    assert_eq!(field("Architecture").trim(), "amd64");
    assert!(field("Depends").contains("adduser"));

    // Contents, owners and modes (root-owned files; the data dir is made by postinst for its user).
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let entry = |path: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} not in the package:\n{listing}"))
            .to_string()
    };
    assert!(entry("./usr/bin/safemesh").starts_with("-rwxr-xr-x root/root"));
    assert!(entry("./lib/systemd/system/safemesh.service").starts_with("-rw-r--r-- root/root"));
    entry("./etc/safemesh/safemesh.env");
    entry("./etc/safemesh/safemesh.toml.example");
    entry("./usr/share/doc/safemesh/OPERATIONS.md");
    entry("./usr/share/doc/safemesh/copyright");

    // The installed unit runs the packaged binary on the package's data dir, with its env file.
    let x = tempfile::tempdir().expect("tempdir");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(x.path()));
    let unit = std::fs::read_to_string(x.path().join("lib/systemd/system/safemesh.service"))
        .expect("unit");
    assert!(
        unit.contains("ExecStart=/usr/bin/safemesh run --data-dir /var/lib/safemesh"),
        "{unit}"
    );
    assert!(
        unit.contains("EnvironmentFile=-/etc/safemesh/safemesh.env"),
        "{unit}"
    );
    assert!(!unit.contains("/usr/local/"), "{unit}");
    let version = run(Command::new(x.path().join("usr/bin/safemesh")).arg("--version"));
    assert!(version.starts_with("safemesh 0.1.0"), "{version}");

    // Maintainer scripts: present, executable, valid shell; postinst makes the user and the data dir
    // and starts nothing; the env file is a conffile (an operator's edits survive upgrades).
    let ctrl = tempfile::tempdir().expect("tempdir");
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(ctrl.path()));
    for s in ["postinst", "prerm", "postrm"] {
        let p = ctrl.path().join(s);
        run(Command::new("sh").arg("-n").arg(&p));
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p).unwrap().permissions());
        assert_eq!(mode & 0o755, 0o755, "{s}");
    }
    let postinst = std::fs::read_to_string(ctrl.path().join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system"), "{postinst}");
    assert!(postinst.contains("install -d -m 0750 -o safemesh -g safemesh /var/lib/safemesh"));
    let code: Vec<&str> = postinst
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(
        !code
            .iter()
            .any(|l| l.contains("systemctl enable") || l.contains("systemctl start")),
        "a node is initialised before it starts: {postinst}"
    );
    let conffiles = std::fs::read_to_string(ctrl.path().join("conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/safemesh/safemesh.env");
}
