#!/usr/bin/env bash
# `systemd-analyze verify` on deploy/*.service, plus `systemd-analyze
# security` held to an exposure of at most 2.0 (`--threshold=20`: tenths), as .ci/run runs them.
#
#   deploy/verify-unit.sh [BINARY]
#
# verify insists that ExecStart= names an executable file, and the unit says
# /usr/local/bin/strongroom: the check runs in a mount namespace of its own
# with a tmpfs over /usr/local/bin holding BINARY (default: the debug build),
# so the machine's /usr/local/bin is never touched. Installs systemd's tools
# if they are missing; skips (exit 0, saying why) only when systemd-analyze
# cannot run at all.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/strongroom-target}/debug/strongroom}
[[ -x $binary ]] || { echo "verify-unit: no binary at $binary (build it first)" >&2; exit 1; }

if ! command -v systemd-analyze >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
if ! systemd-analyze --version >/dev/null 2>&1; then
    echo "verify-unit: skipped: systemd-analyze cannot run on this machine"
    exit 0
fi

units=(deploy/*.service)
unshare --mount --propagation private bash -euo pipefail -c '
    binary=$1; shift
    mount -t tmpfs -o mode=0755,size=256m tmpfs /usr/local/bin
    cp "$binary" /usr/local/bin/strongroom
    systemd-analyze verify "$@"
    for unit in "$@"; do
        systemd-analyze security --offline=yes --threshold=20 --no-pager "$unit" | tail -n 1
    done
' verify-unit "$binary" "${units[@]}"
echo "verify-unit: ${units[*]} verified"
