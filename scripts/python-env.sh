#!/usr/bin/env bash
# Creates (once) the virtualenv the Python black-box tests run in and prints
# its python path. Reused across runs: ~/.cache/strongroom-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${STRONGROOM_VENV:-$HOME/.cache/strongroom-venv}"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
fi
if ! cmp -s tests/python/requirements.txt "$stamp" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt >&2
    cp tests/python/requirements.txt "$stamp"
fi
echo "$venv/bin/python"
