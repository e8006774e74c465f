#!/usr/bin/env bash
# Checks the OpenAPI document against the server it describes: starts a real
# `strongroom server` (its own data dir, lockout thresholds raised so the
# fuzzer's own failed logins lock nothing), issues an API key with every scope
# through the CLI, and runs schemathesis (tests/python/requirements.txt) with
# every phase and every check against /openapi.json. Any failure exits non-zero.
#
# Decoys keep the fuzzer from cutting the branch it sits on: the operations
# on /v1/api-keys/{id} (rotate, revoke) act on a second API key, never on the
# one it authenticates with, and the key changes of /v1/keys/{name}/… (state,
# rotate, config, rewrap) on a key of its own, never on the server's (it
# learns their names from answers; destroying the API-key hashing key would
# turn every later request into a 401).
#
# Usage: scripts/schemathesis.sh [extra schemathesis run options]
#   STRONGROOM_BIN      the binary (default: the workspace's debug build)
#   SCHEMATHESIS_MAX_EXAMPLES  cases per operation and phase (default 15;
#                       2-4 minutes on 2 cores)
#   SCHEMATHESIS_SEED   the random seed (default fixed, so CI is reproducible;
#                       pass another, or `random`, to explore further)
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash scripts/python-env.sh)
schemathesis="$(dirname "$python")/schemathesis"
if [ -z "${STRONGROOM_BIN:-}" ]; then
    target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    STRONGROOM_BIN="$target_dir/debug/strongroom"
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Only this script's settings: none of the caller's STRONGROOM_* leak in.
for name in $(env | grep -o '^STRONGROOM_[A-Z0-9_]*' || true); do
    [ "$name" = STRONGROOM_BIN ] || unset "$name"
done
export STRONGROOM_DATA_DIR="$work/data" STRONGROOM_SERVER_LISTEN=127.0.0.1:0
export STRONGROOM_IDENTITY_LOCKOUT_THRESHOLD=1000000
export STRONGROOM_IDENTITY_ACCOUNT_LOCKOUT_THRESHOLD=1000000
export STRONGROOM_IDENTITY_IP_LOCKOUT_THRESHOLD=1000000
# The fuzzer sends as fast as it can from one address: no address or user limits.
export STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND=0 STRONGROOM_RATELIMIT_PER_USER_PER_SECOND=0

"$STRONGROOM_BIN" server >"$work/stdout" 2>"$work/stderr" </dev/null &
server_pid=$!
url=
for _ in $(seq 300); do
    url=$(grep -o 'listening on [^ ]*' "$work/stdout" 2>/dev/null | awk '{print $3}' || true)
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr" >&2; echo "strongroom server did not start" >&2; exit 1; }
    sleep 0.2
done
[ -n "$url" ] || { echo "strongroom server did not say where it listens" >&2; exit 1; }

scopes=(transit:use transit:manage keys:manage audit:read users:manage roles:assign api_keys:manage
        matters:manage collections:manage records:decrypt audit:write auth:introspect)
scope_args=()
for scope in "${scopes[@]}"; do scope_args+=(--scope "$scope"); done
key=$("$STRONGROOM_BIN" apikey create --name schemathesis "${scope_args[@]}" 2>/dev/null)
decoy=$("$STRONGROOM_BIN" apikey create --name schemathesis-decoy --scope audit:read 2>/dev/null)
decoy_id=$(cut -d_ -f2 <<<"$decoy")
"$STRONGROOM_BIN" key create schemathesis-decoy >/dev/null 2>&1
# The project's settings (schemathesis.toml: the operations that may refuse a
# schema-valid request with 400, and why), plus the decoys.
{
    cat schemathesis.toml
    cat <<EOF

[[operations]]
include-path-regex = "^/v1/api-keys/"
parameters = { "id" = "$decoy_id" }

[[operations]]
include-path-regex = "^/v1/keys/[^/]+/"
parameters = { "name" = "schemathesis-decoy" }
EOF
} >"$work/schemathesis.toml"

seed="${SCHEMATHESIS_SEED:-20261206}"
seed_args=()
[ "$seed" = random ] || seed_args=(--seed "$seed")
"$schemathesis" --config-file "$work/schemathesis.toml" run "$url/openapi.json" \
    --checks all --phases examples,coverage,fuzzing,stateful \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-15}" \
    "${seed_args[@]}" \
    --header "Authorization: Bearer $key" \
    "$@"
