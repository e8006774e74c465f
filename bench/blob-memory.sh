#!/usr/bin/env bash
# Peak memory and throughput of streaming a blob (default 1 GiB) through
# SRBLOB v1 encryption to a file and back, in a release build.
# Target (issue 3): peak RSS under 64 MiB for 1 GiB. Usage: bench/blob-memory.sh [MiB]
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1024}"
cargo build --release -q -p strongroom-crypto --example blob_stream
target="${CARGO_TARGET_DIR:-target}"
"$target/release/examples/blob_stream" "$size"
echo "peer: openssl speed -evp aes-256-gcm (16 KiB column, in 1000s of bytes/s):"
openssl speed -evp aes-256-gcm -seconds 1 2>/dev/null | tail -1
