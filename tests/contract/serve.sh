# Sourced by the contract scripts: starts the `lms` binary on its embedded
# database with a data folder of its own under $work, waits until the demo
# tenant is there, and stops it (and removes a relocated cluster) on exit.
#
# Needs: $lms (the binary), $work (a fresh folder), $port.

serve_start() {
    LMS_LISTEN="127.0.0.1:$port" LMS_DATA_DIR="$work/lms-data" LMS_TRUSTED_PROXIES=127.0.0.1 \
        "$lms" >"$work/server.log" 2>&1 &
    server=$!
    trap serve_stop EXIT
}

serve_stop() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    # Run as root from a folder the postgres user cannot reach, the cluster
    # lived elsewhere: remove it too.
    if [ -f "$work/lms-data/CLUSTER_LOCATION" ]; then
        moved="$(grep -o '/var/lib/tenantry-lms/[^:]*' "$work/lms-data/CLUSTER_LOCATION" || true)"
        [ -n "$moved" ] && rm -rf "$moved"
    fi
}

serve_wait() {
    for _ in $(seq 1 120); do
        if curl -fsS -H 'Host: admin.localhost' "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 \
            && grep -q "demo" "$work/server.log"; then
            return 0
        fi
        if ! kill -0 "$server" 2>/dev/null; then
            cat "$work/server.log"
            return 1
        fi
        sleep 1
    done
    echo "the service did not start in time" >&2
    tail -50 "$work/server.log"
    return 1
}
