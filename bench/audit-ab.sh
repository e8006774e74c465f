#!/usr/bin/env bash
# A/B of two release builds on audit ingestion: durable events/s and server
# CPU per event for batches of 100 (the bodies of bench/audit-ingest.sh),
# taking turns, each turn on a fresh database (3 s warm-up, then DURATION
# seconds of wrk -t2 -c32; CPU time read from /proc/<pid>/stat around it).
# For a change that should cost less per event, where bench/audit-ingest.sh
# measures the rate against peers.
#
# Usage: bench/audit-ab.sh BINARY_A BINARY_B   (ROUNDS=4 DURATION=10 to change)
# Needs: wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2
work=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def event(i):
    return {"type": "app.transcript.exported", "category": "export",
        "severity": ["info", "notice", "warning", "critical"][i % 4],
        "target": {"kind": "transcript", "id": f"t-{i:06d}"},
        "details": {"format": "pdf", "pages": 12 + i, "client": {"name": "web", "version": "4.2.1"}, "email": f"user{i}@example.com"},
        "hmac_fields": ["email"]}
json.dump({"events": [event(i) for i in range(100)]}, open(f"{work}/batch100.json", "w"))
PY
for name in $(env | grep -o '^STRONGROOM_[A-Z0-9_]*' || true); do unset "$name"; done
export STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND=0 STRONGROOM_RATELIMIT_PER_USER_PER_SECOND=0

turn() { # BINARY LABEL
    local data="$work/data-$RANDOM" key t0 t1
    STRONGROOM_DATA_DIR="$data" STRONGROOM_SERVER_LISTEN=127.0.0.1:8499 STRONGROOM_LOG_LEVEL=warn "$1" server >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf http://127.0.0.1:8499/readyz >/dev/null && break; sleep 0.1; done
    key=$(STRONGROOM_DATA_DIR="$data" "$1" apikey create --name ingest --scope audit:write 2>/dev/null)
    TOKEN="$key" BODY_FILE="$work/batch100.json" wrk -t2 -c32 -d3s -s bench/lua/post.lua \
        http://127.0.0.1:8499/v1/audit/events >/dev/null
    sync
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    TOKEN="$key" BODY_FILE="$work/batch100.json" wrk -t2 -c32 -d"${DURATION:-10}"s -s bench/lua/post.lua \
        http://127.0.0.1:8499/v1/audit/events >"$work/wrk.out"
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    python3 - "$2" "$t0" "$t1" "$(getconf CLK_TCK)" "$work/wrk.out" <<'PY'
import re, sys
label, t0, t1, ticks = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
text = open(sys.argv[5]).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
rate = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
refused = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if refused:
    sys.exit(f"{label}: {refused.group(1)} answers were not 2xx")
print(f"{label}: {rate * 100:,.0f} events/s, server CPU {(t1 - t0) / ticks * 1e6 / (requests * 100):.1f} us/event")
PY
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
for _ in $(seq "${ROUNDS:-4}"); do
    turn "$a" A
    turn "$b" B
done
