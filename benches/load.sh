#!/usr/bin/env bash
# tokenmint against the node-oidc-provider peer, in one run on this machine: see bench.py.
# usage: benches/load.sh            (RUNS=3 DURATION=10 CONNECTIONS=32 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
# wrk is the load generator (LOAD_TOOL=oha for oha); both run from the peer's own load script.
command -v wrk >/dev/null 2>&1 || { echo "installing wrk..." >&2; apt-get update -q && apt-get install -y -q wrk; }
if [ "${LOAD_TOOL:-wrk}" = oha ] && ! command -v oha >/dev/null 2>&1; then
  echo "installing oha..." >&2
  cargo install oha --locked
fi
cargo build --release --quiet
exec python3 benches/bench.py "$@"
