#!/usr/bin/env bash
# A blob of SIZE MiB (default 1024) streamed up to a recording and back over
# HTTP through the release server, with the data dir on tmpfs (/dev/shm):
# throughput each way and the server's RSS growth while it happens (sampled
# from /proc every 50 ms). Targets (issue 7): >= 400 MB/s, RSS growth < 64 MiB.
# Peer, printed alongside: `openssl speed -evp aes-256-gcm` (16 KiB blocks),
# the bound on sealing speed for one core on this machine.
# Usage: bench/blob-http.sh [MiB]
set -euo pipefail
# wrk loads Strongroom from one address as one principal: the per-address and
# per-user rate limits would measure themselves, not the server.
export STRONGROOM_RATELIMIT_PER_ADDRESS_PER_SECOND=0 STRONGROOM_RATELIMIT_PER_USER_PER_SECOND=0
cd "$(dirname "$0")/.."
size="${1:-1024}"
cargo build --release -q -p strongroom
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
strongroom="$target_dir/release/strongroom"
work=$(mktemp -d /dev/shm/strongroom-blob-bench.XXXXXX)
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
export STRONGROOM_DATA_DIR="$work/data" STRONGROOM_SERVER_LISTEN=127.0.0.1:18600 STRONGROOM_LOG_LEVEL=warn
echo "correct horse battery staple" | "$strongroom" init --password-stdin > /dev/null
"$strongroom" server > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18600/healthz > /dev/null && break; sleep 0.1; done
api() { curl -sf -H "authorization: Bearer $token" -H 'content-type: application/json' "$@"; }
token=$(curl -sf -XPOST http://127.0.0.1:18600/v1/auth/login -H 'content-type: application/json' \
  -d '{"username":"admin","password":"correct horse battery staple"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
api -XPOST http://127.0.0.1:18600/v1/matters -d '{"id":"bench","name":"Bench"}' > /dev/null
record=$(api -XPOST http://127.0.0.1:18600/v1/collections/recordings/records \
  -d '{"matter":"bench","fields":{"title":"bench"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
url="http://127.0.0.1:18600/v1/collections/recordings/records/$record/blobs/audio"
head -c "$((size * 1024 * 1024))" /dev/urandom > "$work/audio.bin"
rss() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
sample() { local peak=0; while kill -0 "$server_pid" 2>/dev/null && [ ! -f "$work/stop" ]; do
  local now; now=$(rss); [ "$now" -gt "$peak" ] && peak=$now; echo "$peak" > "$work/peak"; sleep 0.05; done; }
base=$(rss)
rm -f "$work/stop"; sample & sampler=$!
start=$(date +%s.%N)
curl -sf -T "$work/audio.bin" -H "authorization: Bearer $token" -H 'content-type: audio/wav' "$url" > /dev/null
up=$(echo "$(date +%s.%N) - $start" | bc)
start=$(date +%s.%N)
curl -sf -H "authorization: Bearer $token" -H 'x-justification: benchmark of the blob path, no real data' \
  -H 'x-purpose: quality_review' "$url" -o "$work/back.bin"
down=$(echo "$(date +%s.%N) - $start" | bc)
touch "$work/stop"; wait "$sampler" 2>/dev/null || true
peak=$(cat "$work/peak")
cmp -s "$work/audio.bin" "$work/back.bin" && same=identical || same=DIFFERENT
bytes=$((size * 1024 * 1024))
printf 'blob of %d MiB over HTTP, data dir on tmpfs: %s round trip\n' "$size" "$same"
printf '  upload   %.2f s = %.0f MB/s\n' "$up" "$(echo "$bytes / $up / 1000000" | bc -l)"
printf '  download %.2f s = %.0f MB/s\n' "$down" "$(echo "$bytes / $down / 1000000" | bc -l)"
printf '  server RSS: %d MiB before, peak %d MiB, growth %d MiB\n' "$((base / 1024))" "$((peak / 1024))" "$(((peak - base) / 1024))"
echo "peer: openssl speed -evp aes-256-gcm (16 KiB column, in 1000s of bytes/s):"
openssl speed -evp aes-256-gcm -seconds 1 2>/dev/null | tail -1
