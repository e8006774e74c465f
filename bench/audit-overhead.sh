#!/usr/bin/env bash
# What the audit log costs a transit encrypt: the current Strongroom (every
# request recorded, durably, before it is answered) against the last revision
# without an audit log, same machine, same wrk load, run alternately.
# Since metadata caching and the decision memory (2026-12-01/02) the current
# tree is faster than that baseline even with its audit, so this no longer
# isolates the audit's cost: bench/README.md, 2026-12-03, says how that was measured.
#
# Usage: bench/audit-overhead.sh     (BASELINE_REV=2a8d440 DURATION=10s CONNECTIONS=32 ROUNDS=3 to change)
# Needs: wrk (apt-get install wrk). Builds the baseline once in a git worktree, in a target
# dir of its own (~/.cache/strongroom-baseline-target): two checkouts of the same workspace in
# one target dir overwrite each other's artifacts.
set -euo pipefail
# wrk loads Strongroom from one address as one principal: the per-address and
# per-user rate limits would measure themselves, not the server.
export STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND=0 STRONGROOM_RATELIMIT_PER_USER_PER_SECOND=0
cd "$(dirname "$0")/.."
BASELINE_REV="${BASELINE_REV:-2a8d440}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-3}"
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    git worktree remove --force "$work/baseline-src" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
baseline_target="${BASELINE_TARGET_DIR:-$HOME/.cache/strongroom-baseline-target}"
git worktree add --detach -q "$work/baseline-src" "$BASELINE_REV"
(cd "$work/baseline-src" && CARGO_TARGET_DIR="$baseline_target" cargo build --release -q -p strongroom)
cp "$baseline_target/release/strongroom" "$work/strongroom-baseline"
cargo build --release -q -p strongroom
cp "$target_dir/release/strongroom" "$work/strongroom-current"

python3 -c "
import base64, json, os
json.dump({'plaintext': base64.b64encode(os.urandom(64)).decode()}, open('$work/enc64.json', 'w'))"

wait_for() { for _ in $(seq 1 100); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

start() { # $1 = name, $2 = port; sets $token (not a subshell: the server's pid must reach the cleanup)
    local dir="$work/$1"
    STRONGROOM_DATA_DIR="$dir" STRONGROOM_SERVER_LISTEN="127.0.0.1:$2" STRONGROOM_LOG_LEVEL=warn \
        "$work/strongroom-$1" server > "$work/$1.out" 2> "$work/$1.log" &
    pids+=($!)
    wait_for "http://127.0.0.1:$2/readyz"
    token=$(STRONGROOM_DATA_DIR="$dir" "$work/strongroom-$1" apikey create --name bench --scope transit:use --scope transit:manage 2>/dev/null)
    curl -sf -H "X-Vault-Token: $token" -X POST "http://127.0.0.1:$2/v1/transit/keys/bench" >/dev/null
}

run() { # $1 = port, $2 = token -> "rps p50_ms p99_ms"
    local out
    out=$(TOKEN="$2" BODY_FILE="$work/enc64.json" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s bench/lua/post.lua "http://127.0.0.1:$1/v1/transit/encrypt/bench")
    python3 bench/wrk-summary.py <<<"$out"
}

start baseline 8340
baseline_token=$token
start current 8350
current_token=$token
printf '%-6s %-28s %10s %9s %9s\n' round server "req/s" "p50 ms" "p99 ms"
base_total=0; cur_total=0
for round in $(seq 1 "$ROUNDS"); do
    read -r b_rps b_p50 b_p99 < <(run 8340 "$baseline_token")
    read -r c_rps c_p50 c_p99 < <(run 8350 "$current_token")
    printf '%-6s %-28s %10s %9s %9s\n' "$round" "no audit ($BASELINE_REV)" "$b_rps" "$b_p50" "$b_p99"
    printf '%-6s %-28s %10s %9s %9s\n' "$round" "audit on (this tree)" "$c_rps" "$c_p50" "$c_p99"
    base_total=$((base_total + b_rps)); cur_total=$((cur_total + c_rps))
done
python3 -c "b, c = $base_total, $cur_total; print(f'mean over $ROUNDS rounds: {b / $ROUNDS:.0f} req/s without audit, {c / $ROUNDS:.0f} with: audit costs {100 * (1 - c / b):.1f}% of throughput')"
events=$(curl -s "http://127.0.0.1:8350/v1/audit/checkpoint" | sed -n 2p)
echo "the audited server's log holds $events events (wrk -t$THREADS -c$CONNECTIONS -d$DURATION, encrypt of 64 B)"
