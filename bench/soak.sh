#!/usr/bin/env bash
# Soak test: two Strongroom instances on one PostgreSQL database (a fresh
# database, dropped on exit), sharing the root key (passphrase provider) and
# one blob directory (disk backend), under DURATION seconds of mixed traffic
# from CONCURRENCY workers spread round-robin over both
# (bench/python/soak.py): logins (2 %), record creates, reads and decrypts,
# blob uploads of BLOB_KIB and 64 KiB range reads of them, transit encrypts
# and decrypts. Users and the transit API key are made with the CLI, the rest
# through the API, as an operator and an application would.
#
# Prints a Markdown report to paste into bench/README.md: per route the
# requests, req/s, p50/p99/max latency and any unexpected status; the total
# throughput; each server's RSS when idle, at the start of the measured load
# (after WARMUP seconds of the same traffic: pools, caches and the redaction
# gazetteers filled), every 10 s, its peak and at the end; the audit log's
# verification (GET /v1/audit/stats through each instance). The RSS bound is
# meant for the release build; a debug build's numbers say only that the
# script works.
#
# Exit 1 when any answer was a 5xx, any other unexpected status, a transport
# error (timeout, reset) or a wrong answer; when either server's RSS did not
# level off (grew by more than LEAK_LIMIT_MIB over the second half of the
# measured load) or peaked above RSS_PEAK_MIB (why two bounds: soak.py's
# docstring); when the audit log does not verify; or when a server died or
# logged a panic.
#
# Usage: bench/soak.sh
#   DURATION=60        seconds of measured load ("60" or "60s")
#   WARMUP=5           seconds of load before it, not measured
#   CONCURRENCY=64     workers (requests in flight), half on each instance
#   BLOB_KIB=256       size of each uploaded blob
#   LEAK_LIMIT_MIB=16  the most each server's RSS may grow over the second half of the load
#   RSS_PEAK_MIB=384   the most each server's RSS may reach
#   PG=postgres://postgres@127.0.0.1:5432   the PostgreSQL server (trust auth);
#                      only the database soak_<pid> is created and dropped
#   STRONGROOM_BIN     the binary (default: this tree's release build, as bench/lib.sh)
#   PYTHON             a Python with httpx (default: scripts/python-env.sh's venv)
#   OUT                also write the report to this file
#   KEEP=1             keep the work dir (server logs) instead of removing it
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-60}"
DURATION="${DURATION%s}"
WARMUP="${WARMUP:-5}"
CONCURRENCY="${CONCURRENCY:-64}"
BLOB_KIB="${BLOB_KIB:-256}"
LEAK_LIMIT_MIB="${LEAK_LIMIT_MIB:-16}"
RSS_PEAK_MIB="${RSS_PEAK_MIB:-384}"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"

# Only this script's settings reach the servers: none of the caller's STRONGROOM_*.
for name in $(env | grep -o '^STRONGROOM_[A-Z0-9_]*' || true); do
    [ "$name" = STRONGROOM_BIN ] || unset "$name"
done

strongroom="${STRONGROOM_BIN:-}"
if [ -z "$strongroom" ]; then
    cargo build --release -q -p strongroom
    target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    strongroom="$target_dir/release/strongroom"
fi
python="${PYTHON:-$(bash scripts/python-env.sh)}"

work=$(mktemp -d)
db="soak_$$"
pids=()
db_created=
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$db_created" ]; then
        psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
    fi
    if [ "${KEEP:-}" = 1 ]; then echo "soak: work dir kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

psql -q "$PG/postgres" -c "CREATE DATABASE $db" >/dev/null
db_created=1
mkdir -m 0700 "$work/blobs"
password="correct horse battery staple"
settings=(
    STRONGROOM_DATABASE_URL="$PG/$db"
    STRONGROOM_ROOT_KEY_PROVIDER=passphrase
    # Not a secret worth keeping: this deployment lives for one run.
    STRONGROOM_ROOT_KEY_PASSPHRASE="soak-$$-$(head -c 18 /dev/urandom | base64)"
    STRONGROOM_BLOBS_DIR="$work/blobs"
    STRONGROOM_LOG_LEVEL=warn
    # The load comes from one address as a handful of users: the rate limits
    # would measure themselves, not the server.
    STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND=0
    STRONGROOM_RATELIMIT_PER_USER_PER_SECOND=0
    STRONGROOM_IDENTITY_LOCKOUT_THRESHOLD=1000000
    STRONGROOM_IDENTITY_ACCOUNT_LOCKOUT_THRESHOLD=1000000
    STRONGROOM_IDENTITY_IP_LOCKOUT_THRESHOLD=1000000
    # Eight users' sessions are shared by 64 workers, and every login in the
    # mix makes one more: past identity.max_sessions_per_user (10) a login
    # revokes the oldest session, which other workers still use (401).
    STRONGROOM_IDENTITY_MAX_SESSIONS_PER_USER=1000000
)
# The CLI acts on the deployment through instance A's settings.
operator() { env "${settings[@]}" STRONGROOM_DATA_DIR="$work/a" "$strongroom" "$@"; }

echo "$password" | operator init --password-stdin >"$work/init.out"
clerks=() reviewers=()
for i in 1 2 3 4; do
    # Analysts write and read records and upload blobs; decrypts and blob
    # reads (reveals) need the admin role under the default policies.
    echo "$password" | operator user create --username "clerk$i" --email "clerk$i@example.com" \
        --role analyst --password-stdin >/dev/null
    echo "$password" | operator user create --username "reviewer$i" --email "reviewer$i@example.com" \
        --role admin --password-stdin >/dev/null
    clerks+=(--clerk "clerk$i") reviewers+=(--reviewer "reviewer$i")
done
transit_token=$(operator apikey create --name soak-transit --scope transit:use --scope transit:manage 2>"$work/apikey.err")

urls=()
start_instance() { # $1 = name: its data dir, log and listening address
    env "${settings[@]}" STRONGROOM_DATA_DIR="$work/$1" STRONGROOM_SERVER_LISTEN=127.0.0.1:0 \
        "$strongroom" server >"$work/$1.out" 2>"$work/$1.log" </dev/null &
    local pid=$! url=
    pids+=("$pid")
    for _ in $(seq 300); do
        url=$(grep -o 'listening on [^ ]*' "$work/$1.out" 2>/dev/null | awk '{print $3}' || true)
        [ -n "$url" ] && curl -sf "$url/readyz" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || { cat "$work/$1.log" >&2; echo "soak: server $1 did not start" >&2; exit 1; }
        sleep 0.2
    done
    curl -sf "$url/readyz" >/dev/null || { echo "soak: server $1 is not ready" >&2; exit 1; }
    urls+=("$url")
}
# A first: it migrates and creates the system keys; B finds them.
start_instance a
start_instance b

status=0
SOAK_PASSWORD="$password" SOAK_TRANSIT_TOKEN="$transit_token" "$python" bench/python/soak.py \
    --url "${urls[0]}" --pid "${pids[0]}" --url "${urls[1]}" --pid "${pids[1]}" \
    "${clerks[@]}" "${reviewers[@]}" --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" \
    --blob-kib "$BLOB_KIB" --leak-limit-mib "$LEAK_LIMIT_MIB" --rss-peak-mib "$RSS_PEAK_MIB" \
    --label "$("$strongroom" --version | head -1), $(nproc) cores shared by servers, PostgreSQL and load" \
    >"$work/report.md" || status=$?
cat "$work/report.md"
[ -z "${OUT:-}" ] || cp "$work/report.md" "$OUT"

for i in 0 1; do
    name=$([ "$i" = 0 ] && echo a || echo b)
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
        echo "soak: FAIL: server $name died" >&2
        status=1
    fi
    # With log level warn, anything in the log is worth a look; a panic fails the run.
    if [ -s "$work/$name.log" ]; then
        echo "soak: server $name logged $(wc -l <"$work/$name.log") lines; the first 20:" >&2
        head -20 "$work/$name.log" >&2
    fi
    if grep -q 'panicked' "$work/$name.log"; then
        echo "soak: FAIL: server $name panicked" >&2
        status=1
    fi
done
exit "$status"
