# Shared by hack/demo.sh, hack/bench-router.sh, hack/bench-controlplane.sh and
# hack/loadgen-chart.sh (sourced, not run).

# prepare_swell_run NAME
# Builds swell and swellctl for release (the benchmarks' flags: haswell baseline, AVX-512 chosen
# at run time), sets BIN_DIR and WORK_DIR (a fresh temporary directory named after NAME), and
# installs an exit trap that stops the server start_swell_server started and removes WORK_DIR.
prepare_swell_run() {
    local flags=(-c release -Xswiftc -target-cpu -Xswiftc haswell)
    swift build "${flags[@]}" --product swell >&2
    swift build "${flags[@]}" --product swellctl >&2
    BIN_DIR=$(swift build "${flags[@]}" --show-bin-path)
    WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/swell-$1.XXXXXX")
    SERVER_PID=""
    trap stop_swell_run EXIT
}

stop_swell_run() {
    [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK_DIR"
}

# start_swell_server BIN_DIR WORK_DIR [server args...]
# Starts `swell server` with the API server and the router on free loopback ports and its data
# in WORK_DIR/data, and waits until it prints both addresses. Sets SERVER_PID (set it before the
# caller's exit trap reads it), API_URL and ROUTER_URL; exits with the server's stderr when it
# does not come up.
start_swell_server() {
    local bin=$1 work=$2
    shift 2
    "$bin/swell" server --listen 127.0.0.1:0 --router-listen 127.0.0.1:0 --data-dir "$work/data" \
        --log-level warning "$@" >"$work/server.out" 2>"$work/server.err" &
    SERVER_PID=$!
    API_URL="" ROUTER_URL=""
    for _ in $(seq 1 600); do
        API_URL=$(sed -n 's/^swell server listening on //p' "$work/server.out" | head -n 1)
        ROUTER_URL=$(sed -n 's/^swell router listening on //p' "$work/server.out" | head -n 1)
        [ -n "$API_URL" ] && [ -n "$ROUTER_URL" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$work/server.err" >&2
    printf '%s: error: swell server did not start listening\n' "$(basename "$0" .sh)" >&2
    exit 1
}
