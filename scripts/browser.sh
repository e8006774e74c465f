#!/usr/bin/env bash
# Installs (once) the browser the console's browser tests drive (tests/browser):
# Debian's chromium and chromium-driver, from apt, as root. Does nothing when
# both are there already, so every run of scripts/test can call it.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
