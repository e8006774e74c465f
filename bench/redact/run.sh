#!/usr/bin/env bash
# `strongroom redact` over a file of N sentences (default 100,000) on one
# core: sentences per second and peak RSS. Release build in its own target
# dir (TARGET, default ~/.cache/target-redact-release).
#   bash bench/redact/run.sh [N] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-100000}"
ROUNDS="${2:-3}"
TARGET="${TARGET:-$HOME/.cache/target-redact-release}"
CARGO_TARGET_DIR="$TARGET" cargo build --release -q -p strongroom --bin strongroom
BIN="$TARGET/release/strongroom"
INPUT="$(mktemp)"
trap 'rm -f "$INPUT" "$INPUT.time"' EXIT
python3 bench/redact/sentences.py "$N" > "$INPUT"
echo "input: $N sentences, $(wc -c < "$INPUT") bytes; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
    /usr/bin/time -v taskset -c 0 "$BIN" redact < "$INPUT" > /dev/null 2> "$INPUT.time"
    seconds=$(grep -oP 'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): \K.*' "$INPUT.time" | awk -F: '{print $(NF-1)*60 + $NF}')
    cpu=$(awk -F': ' '/User time|System time/ { total += $2 } END { print total }' "$INPUT.time")
    rss=$(grep -oP 'Maximum resident set size \(kbytes\): \K\d+' "$INPUT.time")
    # On a shared machine the wall clock counts other jobs' turns on the
    # core too; the CPU time (user + system) is this process's own.
    awk -v n="$N" -v s="$seconds" -v c="$cpu" -v r="$rss" -v round="$round" \
        'BEGIN { printf "round %d: wall %.2f s (%.0f sentences/s), CPU %.2f s (%.0f sentences/s), peak RSS %.1f MiB\n",
                 round, s, n / s, c, n / c, r / 1024 }'
done
