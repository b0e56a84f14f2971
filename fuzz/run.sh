#!/usr/bin/env bash
# Fuzzes every target for SECONDS each (default 300) with cargo-fuzz on the nightly toolchain,
# adding new inputs to fuzz/corpus/ and crashes to fuzz/artifacts/. Prints executions per target.
#   bash fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
command -v cargo-fuzz >/dev/null || { echo "install it: cargo install cargo-fuzz" >&2; exit 1; }
for target in $(cargo +nightly fuzz list); do
  echo "== $target (${seconds}s)"
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -max_len=8192 \
    -print_final_stats=1 2>&1 | grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|ERROR|panicked|SUMMARY' || true
done
