#!/usr/bin/env bash
# A tour of what Swell does today: build, start `swell server` (API server, controllers and the
# embedded node agent) on a free port with a scratch data directory, apply the chat example
# (SmolLM2-135M, one replica), wait until its engine is Ready, ask it one question, scale it to
# two replicas, then stop the server with SIGTERM and check that no engine process is left.
# Any failure exits non-zero.
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
"$BIN/swell" server --listen 127.0.0.1:0 --router-listen 127.0.0.1:0 --data-dir "$WORK/data" --log-level warning \
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

step "apply the chat service (SmolLM2-135M-Instruct, 1 replica)"
run "$BIN/swellctl" apply -f manifests/examples/chat.yaml

ready_count() {
    "$BIN/swellctl" get isvc chat -o json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",{}).get("readyReplicas") or 0)'
}
wait_ready() { # count
    for _ in $(seq 1 600); do
        [ "$(ready_count)" -ge "$1" ] && return 0
        sleep 0.1
    done
    "$BIN/swellctl" get rep -o wide >&2
    die "chat did not reach $1 Ready replicas"
}
started=$(date +%s%N)
wait_ready 1
echo "Ready after $(( ($(date +%s%N) - started) / 1000000 )) ms"
run "$BIN/swellctl" get isvc chat
run "$BIN/swellctl" get rep -o wide

step "one chat completion, straight to the replica"
ENDPOINT=$("$BIN/swellctl" get rep -o json | python3 -c 'import json,sys; print([r["status"]["endpoint"] for r in json.load(sys.stdin)["items"] if r.get("status",{}).get("endpoint")][0])')
echo "POST $ENDPOINT/v1/chat/completions"
curl -fsS "$ENDPOINT/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"messages":[{"role":"user","content":"Write one sentence about the sea."}],"max_tokens":48,"temperature":0}' \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("answer:", r["choices"][0]["message"]["content"].strip()); print("usage:", r["usage"])'

step "scale to 2 replicas"
run "$BIN/swellctl" scale isvc chat --replicas 2
wait_ready 2
run "$BIN/swellctl" get rep
run "$BIN/swellctl" logs "rep/$("$BIN/swellctl" get rep -o name | head -n 1 | sed 's|.*/||')" --tail 3
run "$BIN/swellctl" get events
ENGINE_PIDS=$("$BIN/swellctl" get rep -o json | python3 -c 'import json,sys; print(" ".join(str(r["status"]["pid"]) for r in json.load(sys.stdin)["items"] if r.get("status",{}).get("pid")))')

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
for pid in $ENGINE_PIDS; do
    if kill -0 "$pid" 2>/dev/null; then die "engine process $pid is still running"; fi
done
echo "no engine processes left (were: $ENGINE_PIDS)"

step "demo complete"
