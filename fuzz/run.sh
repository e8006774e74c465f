#!/usr/bin/env bash
# Runs every fuzz target (strongroom-crypto's parsers, the policy check) for SECONDS each (default 30) and
# prints libFuzzer's final "Done N runs in T second(s)" line per target.
# Exits non-zero if a target crashes (panic, failed assertion, sanitizer
# report) or fails to build; the crashing input is left in fuzz/artifacts/<target>/.
#
# Usage: fuzz/run.sh [SECONDS]
#
# cargo-fuzz needs nightly-only flags (-Zsanitizer=address, sanitizer coverage);
# on the stable toolchain RUSTC_BOOTSTRAP=1 unlocks them. Needs cargo-fuzz:
# `cargo install cargo-fuzz --locked`.
#
# Corpora: fuzz/corpus/<target> (generated, git-ignored) is the writable one;
# fuzz/seeds/<target> (the published test vectors, committed) is read-only input.
set -euo pipefail

seconds="${1:-30}"
case "$seconds" in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS]" >&2
    exit 2
    ;;
esac

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir/.."

export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strongroom-fuzz-target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

targets=(sealed_value blob jwt signed_note policy_text)
status=0

for target in "${targets[@]}"; do
    mkdir -p "$fuzz_dir/corpus/$target" "$fuzz_dir/artifacts/$target"
    log="$fuzz_dir/artifacts/$target/last-run.log"
    echo "== $target: ${seconds}s" >&2
    # -a: debug assertions and overflow checks, so arithmetic overflow is a crash.
    if cargo fuzz run -a --target-dir "$CARGO_TARGET_DIR" "$target" \
        "$fuzz_dir/corpus/$target" "$fuzz_dir/seeds/$target" \
        -- -max_total_time="$seconds" >"$log" 2>&1; then
        done_line="$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)"
        if [ -z "$done_line" ]; then
            done_line="no Done line in the output of libFuzzer, see $log"
        fi
        echo "$target: $done_line"
    else
        status=1
        echo "$target: FAILED (crash or build error); full output in $log"
        grep -E -A3 'panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|^error(\[|:)' "$log" | sed 's/^/    /' || true
        grep -E 'Test unit written to|^Base64' "$log" | sed 's/^/    /' || true
    fi
done

exit "$status"
