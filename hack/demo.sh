#!/usr/bin/env bash
# A tour of what Swell does today: build, start `swell server` on a free port with a scratch
# data directory, apply the example manifests, look at them with swellctl, then stop the
# server with SIGTERM and check that it shut down cleanly. Any failure exits non-zero.
#
#   hack/demo.sh              # debug build (fast to build)
#   CONFIGURATION=release hack/demo.sh
set -euo pipefail

cd "$(dirname "$0")/.."
CONFIGURATION=${CONFIGURATION:-debug}

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

step "swift build -c $CONFIGURATION"
swift build -c "$CONFIGURATION" --product swell
swift build -c "$CONFIGURATION" --product swellctl
BIN="$(swift build -c "$CONFIGURATION" --show-bin-path)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/swell-demo.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

step "swell server --listen 127.0.0.1:0 --data-dir $WORK/data"
"$BIN/swell" server --listen 127.0.0.1:0 --data-dir "$WORK/data" --log-level warning \
    >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!

# The server prints its address once it listens; then /readyz says the store answers.
SERVER=""
for _ in $(seq 1 600); do
    SERVER="$(sed -n 's/^swell server listening on //p' "$WORK/server.out" | head -n 1)"
    [ -n "$SERVER" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; die "swell server exited before listening"; }
    sleep 0.1
done
[ -n "$SERVER" ] || die "swell server did not start listening"
for _ in $(seq 1 100); do
    curl -fsS "$SERVER/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$SERVER/readyz" >/dev/null || die "$SERVER/readyz is not ready"
echo "listening on $SERVER"
export SWELL_SERVER="$SERVER"

run() {
    printf '\n$ %s\n' "$*"
    "$@"
}

step "apply the examples"
run "$BIN/swellctl" apply -f manifests/examples/
run "$BIN/swellctl" apply -f manifests/examples/

step "look at them"
run "$BIN/swellctl" get pc
run "$BIN/swellctl" get isvc
run "$BIN/swellctl" get isvc -o wide -l tier=interactive
run "$BIN/swellctl" describe isvc chat
run "$BIN/swellctl" scale isvc chat --replicas 2
run "$BIN/swellctl" get isvc chat -o yaml
run "$BIN/swellctl" version

step "stop the server (SIGTERM)"
kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=""
if [ "$status" -ne 0 ]; then
    cat "$WORK/server.err" >&2
    die "swell server exited with status $status after SIGTERM"
fi
echo "swell server shut down cleanly"

step "demo complete"
