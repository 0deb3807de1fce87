#!/usr/bin/env bash
# safemesh — set up a real 4-level chain on one machine:
#   53 云南省 → 5301 昆明市 → 530181 安宁市 → 530181006 禄脿街道
# Creates a CA and four node data directories under DIR, then prints the commands that run them.
#
# Usage:  deploy/chain/setup.sh DIR [BASE_PORT]
#   DIR        a new or empty directory (CA in DIR/ca, nodes in DIR/<code>)
#   BASE_PORT  first HTTP port (default 8400): HTTP on BASE..BASE+3, links on BASE+10..BASE+13
# Env:    SAFEMESH  the safemesh binary (default: `safemesh` on PATH)
#         BIND      the address to listen on (default 127.0.0.1)
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || "$1" == -h || "$1" == --help ]]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

DIR=$1
BASE=${2:-8400}
SAFEMESH=${SAFEMESH:-safemesh}
BIND=${BIND:-127.0.0.1}
CODES=(53 5301 530181 530181006)

if ! command -v "$SAFEMESH" >/dev/null 2>&1; then
    echo "找不到 safemesh / safemesh binary not found: $SAFEMESH (set SAFEMESH=/path/to/safemesh)" >&2
    exit 1
fi
if [[ ! "$BASE" =~ ^[0-9]+$ ]] || (( BASE < 1024 || BASE + 13 > 65535 )); then
    echo "BASE_PORT 应在 1024–65522 之间 / BASE_PORT must be between 1024 and 65522" >&2
    exit 2
fi
if [[ -e "$DIR" ]] && [[ -n "$(ls -A "$DIR")" ]]; then
    echo "$DIR 不是空目录 / is not empty; choose a new directory" >&2
    exit 1
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# 1. The CA. Its key (DIR/ca/ca.key) signs every node certificate; see deploy/CA.md.
"$SAFEMESH" ca init --dir "$DIR/ca" --name "chain-demo"

# 2. The nodes, top first; each child names its parent's link address.
parent=()
for i in "${!CODES[@]}"; do
    code=${CODES[$i]}
    http_port=$((BASE + i))
    link_port=$((BASE + 10 + i))
    "$SAFEMESH" init \
        --data-dir "$DIR/$code" \
        --code "$code" \
        --listen "$BIND:$link_port" \
        --http "$BIND:$http_port" \
        --ca-dir "$DIR/ca" \
        ${parent[@]+"${parent[@]}"}
    parent=(--parent "https://$BIND:$link_port")
done

# 3. How to run them.
cat <<MSG

已初始化 4 个节点 / 4 nodes initialised in $DIR

运行（每个节点一个终端，或加 & 放到后台）/ run (one terminal per node, or background them with &):
MSG
for code in "${CODES[@]}"; do
    echo "  $SAFEMESH run --data-dir $DIR/$code"
done
cat <<MSG

查看同步状态 / sync status:
  $SAFEMESH status --data-dir $DIR/530181006
查看汇总 / roll-up:
  $SAFEMESH rollup --data-dir $DIR/53
HTTP API（令牌 / token in DIR/<code>/admin.token）:
  curl -s -H "Authorization: Bearer \$(cat $DIR/53/admin.token)" http://$BIND:$BASE/api/v1/rollup
MSG
