#!/usr/bin/env bash
# Schema fuzzing: Schemathesis (pinned in schemathesis/requirements.txt, its
# settings in schemathesis/schemathesis.toml) runs every check against a live
# service, for the tenant document as the tenant's admin and as a learner,
# and for the platform document as an operator. Any failure fails the run.
#
# Usage: tests/contract/run-fuzz.sh [path to the lms binary]
# LMS_FUZZ_EXAMPLES bounds the generated cases per operation (default 20).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lms="${1:-$root/target/debug/lms}"
work="$root/target/fuzz"
port="${LMS_FUZZ_PORT:-18090}"
examples="${LMS_FUZZ_EXAMPLES:-20}"

rm -rf "$work"
mkdir -p "$work"

# The tokens outlive the run; the login limits stay as they are.
export LMS_ACCESS_TOKEN_TTL_SECS=14400
. "$here/serve.sh"
serve_start

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check \
    -r "$here/schemathesis/requirements.txt"

serve_wait

base="http://127.0.0.1:$port"
# Media types Schemathesis does not generate by itself (organization archives).
export PYTHONPATH="$here/schemathesis${PYTHONPATH:+:$PYTHONPATH}"
export SCHEMATHESIS_HOOKS=hooks
eval "$("$work/venv/bin/python" "$here/schemathesis/tokens.py" "$base")"

fuzz() {
    local name="$1" document="$2" prefix="$3" host="$4" token="$5"
    shift 5
    printf '\n--- %s\n' "$name"
    (cd "$work" && "$work/venv/bin/schemathesis" \
        --config-file "$here/schemathesis/schemathesis.toml" \
        run "$root/openapi/$document" \
        --url "$base$prefix" \
        --header "X-Forwarded-Host: $host" \
        --header "Authorization: Bearer $token" \
        --max-examples "$examples" \
        --seed 1 \
        --report junit --report-dir "$work/reports/$name" \
        "$@") || { tail -30 "$work/server.log"; return 1; }
}

fuzz tenant-admin tenant.json /api/v1 demo.localhost "$ADMIN_TOKEN"
fuzz tenant-learner tenant.json /api/v1 demo.localhost "$LEARNER_TOKEN"
fuzz platform-operator platform.json /platform/v1 admin.localhost "$OPERATOR_TOKEN"
