#!/usr/bin/env bash
# Creates (once) the virtualenv the Python black-box tests and the client
# package (clients/python) run in, and prints its python path (the console's
# browser tests, tests/browser, add Selenium). Reused across runs: ~/.cache/strongroom-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${STRONGROOM_VENV:-$HOME/.cache/strongroom-venv}"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
fi
# The client package is installed editable (its extras too), so its source is
# what the tests import; reinstalled when a requirements file or its
# pyproject.toml changes, or when the venv imports it from another checkout
# (an editable install points at one directory, which may be gone).
wanted=$(cat tests/python/requirements.txt tests/browser/requirements.txt clients/python/requirements-dev.txt \
    clients/python/pyproject.toml)
here="$PWD/clients/python/src/strongroom/__init__.py"
imported=$("$venv/bin/python" -c 'import strongroom; print(strongroom.__file__)' 2>/dev/null || true)
if [ "$wanted" != "$(cat "$stamp" 2>/dev/null)" ] || [ "$imported" != "$here" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt \
        -r tests/browser/requirements.txt -r clients/python/requirements-dev.txt \
        -e "clients/python[fastapi,flask,sqlalchemy]" >&2
    printf '%s' "$wanted" > "$stamp"
fi
echo "$venv/bin/python"
