#!/usr/bin/env bash
# tokenmint against the node-oidc-provider peer, in one run on this machine: see bench.py.
# usage: benches/load.sh            (RUNS=3 DURATION=10 CONNECTIONS=32 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v oha >/dev/null 2>&1 || { echo "installing oha (the load generator)..." >&2; cargo install oha --locked; }
command -v wrk >/dev/null 2>&1 || { echo "installing wrk..." >&2; apt-get update -q && apt-get install -y -q wrk; }
cargo build --release --quiet
exec python3 benches/bench.py "$@"
