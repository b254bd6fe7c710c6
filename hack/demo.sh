#!/usr/bin/env bash
# The Swell story on one 2-CPU node, end to end, with real SmolLM2 engines:
#   1. start `swell server` (API server, controllers, autoscaler, router, node agent);
#   2. a batch service takes both CPUs; a critical, autoscaled chat service arrives and preempts
#      one batch replica;
#   3. one chat completion through the router;
#   4. a short load burst (`swellctl loadgen`) while `swellctl get isvc -w` shows the autoscaler
#      taking chat to 2 replicas (preempting the other batch replica);
#   5. the load stops: chat returns to 1 replica after its scale-down window and a batch replica
#      comes back; `swellctl describe` explains every decision;
#   6. SIGTERM: the server drains and stops every engine.
# Any failure exits non-zero.
#
#   hack/demo.sh                    # release build: engines run at their real speed
#   CONFIGURATION=debug hack/demo.sh  # faster to build, much slower engines
set -euo pipefail

cd "$(dirname "$0")/.."
. hack/server-lib.sh
CONFIGURATION=${CONFIGURATION:-release}

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

# The release build takes the benchmarks' flags (x86-64 with AVX2), so the two share one build.
flags=(-c "$CONFIGURATION")
[ "$CONFIGURATION" = release ] && [ "$(uname -m)" = x86_64 ] && flags+=(-Xswiftc -target-cpu -Xswiftc haswell)
step "swift build ${flags[*]}"
swift build "${flags[@]}" --product swell
swift build "${flags[@]}" --product swellctl
BIN="$(swift build "${flags[@]}" --show-bin-path)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/swell-demo.XXXXXX")"
SERVER_PID=""
WATCH_PID=""
cleanup() {
    [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null || true
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

step "swell server on a 2-CPU node (API, controllers, autoscaler, router, agent)"
start_swell_server "$BIN" "$WORK" --cpu 2 --drain-grace-period 5
SERVER=$API_URL ROUTER=$ROUTER_URL
# Listening; /readyz says the store answers.
for _ in $(seq 1 100); do
    curl -fsS "$SERVER/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$SERVER/readyz" >/dev/null || die "$SERVER/readyz is not ready"
echo "API server on $SERVER, router on $ROUTER"
export SWELL_SERVER="$SERVER"
ctl() { "$BIN/swellctl" "$@"; }
run() {
    printf '\n$ swellctl %s\n' "$*"
    ctl "$@"
}

ready_count() { # service
    ctl get isvc "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",{}).get("readyReplicas") or 0)'
}
wait_for() { # description, seconds, command...
    local what=$1 limit=$2
    shift 2
    for _ in $(seq 1 $((limit * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    ctl get isvc >&2 || true
    ctl get rep -o wide >&2 || true
    die "timed out after ${limit}s: $what"
}
has_ready() { [ "$(ready_count "$1")" -eq "$2" ]; }

step "priority classes, and a batch service that fills both CPUs"
run apply -f manifests/examples/00-priorityclasses.yaml
run apply -f manifests/demo/offline.yaml
wait_for "offline has 2 Ready replicas" 120 has_ready offline 2
run get rep -o wide

step "a critical, autoscaled chat service arrives: it preempts a batch replica"
run apply -f manifests/demo/chat.yaml
wait_for "chat has 1 Ready replica" 120 has_ready chat 1
wait_for "offline is down to 1 replica" 60 has_ready offline 1
run get isvc
run get rep -o wide
printf '\n$ swellctl get events | grep Preempt\n'
ctl get events | grep -E 'Preempt' || true

step "one chat completion through the router"
echo "POST $ROUTER/v1/chat/completions  (model: chat)"
curl -fsS "$ROUTER/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model":"chat","messages":[{"role":"user","content":"Write one sentence about the sea."}],"max_tokens":32,"temperature":0}' \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("answer:", r["choices"][0]["message"]["content"].strip()); print("usage:", r["usage"])'

step "a load burst on chat (swellctl loadgen), watched with swellctl get isvc -w"
# The binary itself, not the ctl function: killing a backgrounded function kills only its subshell.
"$BIN/swellctl" get isvc -w > >(sed -u 's/^/  [watch] /') &
WATCH_PID=$!
printf '\n$ swellctl loadgen --target %s --model chat --users 8 --think-time 250ms --duration 25s\n' "$ROUTER"
ctl loadgen --target "$ROUTER" --model chat --users 8 --think-time 250ms --duration 25s --output-tokens 24 \
    --svg "$WORK/burst.svg" --timeline "$WORK/burst.csv" --quiet
peak=$(python3 -c 'import csv,sys; rows=list(csv.DictReader(open(sys.argv[1]))); print(max(int(float(r.get("desired_replicas") or 0)) for r in rows))' "$WORK/burst.csv")
[ "$peak" -ge 2 ] || die "the autoscaler did not scale chat up during the burst (peak desired $peak)"
echo "chat peaked at $peak desired replicas during the burst"

step "the load has stopped: chat returns to 1 replica after its 15 s window, batch comes back"
wait_for "chat back to 1 replica" 120 has_ready chat 1
wait_for "offline back to 1 Ready replica" 120 has_ready offline 1
kill "$WATCH_PID" 2>/dev/null || true
WATCH_PID=""
run get isvc
printf '\n$ swellctl describe isvc chat   (its autoscaling summary)\n'
ctl describe isvc chat | sed -n '/^Replicas:/,/^Spec:/p' | sed '$d'
run get events | tail -n 12

ENGINE_PIDS=$(ctl get rep -o json | python3 -c 'import json,sys; print(" ".join(str(r["status"]["pid"]) for r in json.load(sys.stdin)["items"] if r.get("status",{}).get("pid")))')

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
