#!/usr/bin/env bash
# Records over HTTP, wrk c=32: create an interview (3 secret fields sealed
# under a new data key, one transaction with its audit event), read it (the
# caller's view, audited), and decrypt its 3 secret fields (a reveal,
# audited), on SQLite and on PostgreSQL. Beside it, the same three calls as
# the seed applications make them today (bench/python/fernet_app.py: FastAPI,
# Fernet under a PBKDF2-derived key per call, row + audit row in one
# transaction) on the same kind of database, for the ratio.
#
# Usage: bench/records.sh     (DURATION=10s CONNECTIONS=32 THREADS=2 BACKENDS="sqlite postgres"
#                              PG=postgres://postgres@127.0.0.1:5432 to change)
# Needs: wrk, a local PostgreSQL for the postgres rows, Python 3 with venv (the
# peer's packages go to ~/.cache/strongroom-bench-venv).
set -euo pipefail
# wrk loads Strongroom from one address as one principal: the per-address and
# per-user rate limits would measure themselves, not the server.
export STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND=0 STRONGROOM_RATELIMIT_PER_USER_PER_SECOND=0
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
work=$(mktemp -d)
pids=()
databases=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for db in "${databases[@]}"; do psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

venv="$HOME/.cache/strongroom-bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! cmp -s bench/python/requirements.txt "$venv/.requirements" 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check -r bench/python/requirements.txt
    cp bench/python/requirements.txt "$venv/.requirements"
fi

# STRONGROOM_BIN runs a binary built beforehand instead of building this tree.
strongroom="${STRONGROOM_BIN:-}"
if [ -z "$strongroom" ]; then
    cargo build --release -q -p strongroom
    target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    strongroom="$target_dir/release/strongroom"
fi

# One interview: public metadata, a ~1 KB transcript, 256 tokens, a 384-float embedding.
python3 - "$work" <<'PY'
import json, random, sys
work = sys.argv[1]
random.seed(7)
fields = {
    "user_id": "cand-4711", "consent_id": "consent-2026-11", "timestamp": "2026-11-30T10:15:00Z",
    "transcribed_text": ("I led the migration of our billing system to a new database, " * 20)[:1200],
    "tokens": [random.randrange(50_000) for _ in range(256)],
    "embedding": [round(random.uniform(-1, 1), 6) for _ in range(384)],
    "anonymized_answer": "The candidate led a database migration.", "score": 4, "status": "scored",
}
json.dump({"matter": "bench", "fields": fields}, open(f"{work}/create.json", "w"))
reveal = {"fields": ["transcribed_text", "tokens", "embedding"],
          "reason": "benchmark of the records path, no real data", "purpose": "quality_review"}
json.dump(reveal, open(f"{work}/decrypt.json", "w"))
PY

wait_for() { for _ in $(seq 1 150); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

# run METHOD URL TOKEN BODY_FILE -> "rps p50_ms p99_ms"
run() {
    local out
    out=$(METHOD="$1" TOKEN="$3" BODY_FILE="$4" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s bench/lua/request.lua "$2")
    python3 bench/wrk-summary.py <<<"$out"
}

password="correct horse battery staple"
port=8400
printf '%-9s %-9s %-26s %9s %8s %8s\n' backend call server "req/s" "p50 ms" "p99 ms"
for backend in $BACKENDS; do
    port=$((port + 10))
    sr_env=(STRONGROOM_DATA_DIR="$work/sr-$backend" STRONGROOM_SERVER_LISTEN="127.0.0.1:$port" STRONGROOM_LOG_LEVEL=warn)
    if [ "$backend" = postgres ]; then
        sr_db="sr_bench_$$"; py_db="py_bench_$$"; databases+=("$sr_db" "$py_db")
        psql -q "$PG/postgres" -c "CREATE DATABASE $sr_db" -c "CREATE DATABASE $py_db"
        sr_env+=(STRONGROOM_DATABASE_URL="$PG/$sr_db")
        py_url="postgresql://${PG#postgres://}/$py_db"
    else
        py_url="sqlite:$work/py-sqlite.db"
    fi
    echo "$password" | env "${sr_env[@]}" "$strongroom" init --password-stdin >/dev/null
    env "${sr_env[@]}" "$strongroom" server >"$work/sr-$backend.log" 2>&1 &
    pids+=($!)
    base="http://127.0.0.1:$port"
    wait_for "$base/readyz"
    token=$(curl -sf -XPOST "$base/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"username\":\"admin\",\"password\":\"$password\"}" | json_field access_token)
    curl -sf -XPOST "$base/v1/matters" -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"id":"bench","name":"Bench"}' >/dev/null
    id=$(curl -sf -XPOST "$base/v1/collections/interviews/records" -H "authorization: Bearer $token" \
        -H 'content-type: application/json' --data-binary "@$work/create.json" | json_field id)
    records="$base/v1/collections/interviews/records"

    py_port=$((port + 5))
    (cd bench/python && APP_DB="$py_url" APP_SECRET="bench-app-secret-not-real-0123456789abcdef" \
        exec "$venv/bin/uvicorn" fernet_app:app --host 127.0.0.1 --port "$py_port" --workers 2 --log-level warning) \
        >"$work/py-$backend.log" 2>&1 &
    pids+=($!)
    py_base="http://127.0.0.1:$py_port"
    wait_for "$py_base/openapi.json"
    py_token=$("$venv/bin/python" -c "import jwt; print(jwt.encode({'sub': 'admin'}, 'bench-app-secret-not-real-0123456789abcdef', algorithm='HS256'))")
    py_id=$(curl -sf -XPOST "$py_base/records" -H "authorization: Bearer $py_token" -H 'content-type: application/json' \
        --data-binary "@$work/create.json" | json_field id)

    for call in create read decrypt; do
        case $call in
            create) sr=(POST "$records" "$work/create.json"); py=(POST "$py_base/records" "$work/create.json") ;;
            read) sr=(GET "$records/$id" ""); py=(GET "$py_base/records/$py_id" "") ;;
            decrypt) sr=(POST "$records/$id/decrypt" "$work/decrypt.json"); py=(POST "$py_base/records/$py_id/decrypt" "$work/decrypt.json") ;;
        esac
        read -r s_rps s_p50 s_p99 < <(run "${sr[0]}" "${sr[1]}" "$token" "${sr[2]}")
        read -r p_rps p_p50 p_p99 < <(run "${py[0]}" "${py[1]}" "$py_token" "${py[2]}")
        printf '%-9s %-9s %-26s %9s %8s %8s\n' "$backend" "$call" strongroom "$s_rps" "$s_p50" "$s_p99"
        printf '%-9s %-9s %-26s %9s %8s %8s\n' "$backend" "$call" "python fernet+pbkdf2" "$p_rps" "$p_p50" "$p_p99"
        python3 -c "print(f'{\"$backend\":<9} {\"$call\":<9} ratio: {$s_rps/max($p_rps,1):.1f}x the Python way')"
    done
done
echo "(wrk -t$THREADS -c$CONNECTIONS -d$DURATION; servers and wrk share this machine's cores, one server loaded at a time)"
