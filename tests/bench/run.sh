#!/usr/bin/env bash
# The benchmark, in one command: bash tests/bench/run.sh [--quick]
# Builds the release binary, installs the load generator (wrk, from Debian)
# when it is missing, then runs tests/bench/bench.py. The first run
# generates the data (a few minutes); later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null
    fi
fi
cargo build --release --locked -q
exec python3 tests/bench/bench.py "$@"
