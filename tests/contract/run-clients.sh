#!/usr/bin/env bash
# Generates clients from the checked-in OpenAPI documents and runs the
# contract scenario through them against a live service (the `lms` binary
# on its embedded database). The generated code stays under target/.
#
# Usage: tests/contract/run-clients.sh [path to the lms binary]
# (after `npm ci --prefix tests/contract`)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lms="${1:-$root/target/debug/lms}"
work="$root/target/contract"
port="${LMS_CONTRACT_PORT:-18089}"

rm -rf "$work"
mkdir -p "$work"

# The service, with a data folder of its own.
. "$here/serve.sh"
serve_start

# The Python client, generated.
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/python/requirements.txt"
for api in tenant platform; do
    (cd "$work" && PATH="$work/venv/bin:$PATH" "$work/venv/bin/openapi-python-client" generate \
        --path "$root/openapi/$api.json" --meta none --output-path "${api}_client" --overwrite \
        >"$work/generate-$api.log" 2>&1) || { cat "$work/generate-$api.log"; exit 1; }
done

serve_wait

PYTHONPATH="$work" "$work/venv/bin/python" "$here/python/scenario.py" "http://127.0.0.1:$port" \
    || { tail -50 "$work/server.log"; exit 1; }

# The TypeScript client, generated and compiled (strict) with the scenario.
# The tools come from tests/contract's lockfile (`npm ci` before this).
mkdir -p "$work/ts"
for api in tenant platform; do
    "$here/node_modules/.bin/openapi-ts" -i "$root/openapi/$api.json" -o "$work/ts/$api" \
        >"$work/generate-ts-$api.log" 2>&1 || { cat "$work/generate-ts-$api.log"; exit 1; }
done
cp "$here/ts/scenario.ts" "$here/ts/tsconfig.json" "$work/ts/"
"$here/node_modules/.bin/tsc" -p "$work/ts/tsconfig.json"
node "$work/ts/scenario.js" "http://127.0.0.1:$port" || { tail -50 "$work/server.log"; exit 1; }
