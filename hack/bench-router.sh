#!/usr/bin/env bash
# Router benchmark (issue #6), on a release build with real SmolLM2 replicas:
#  1. Overhead: the same short non-streaming request straight to a replica and through the
#     router, interleaved, over kept-alive connections: p50/p99 of each and the difference (goal:
#     the router adds <= 1 ms at p99). Twice: a one-token chat completion, and a request the
#     engine answers at once (a 400 for max_tokens 0), which leaves only the proxying to measure.
#  2. Policies: the shared-system-prompt chat workload of the serving benchmark (8 clients,
#     ~400-token system prompt, ~50-token questions, 64 tokens out) through the router onto 2
#     replicas, once with round-robin and once with prefix-affinity, each client's 8 chats as one
#     conversation (every request carries the earlier turns); prefix hit rate, TTFT p50 and mean,
#     and throughput of each, medians of 3 alternating rounds (ROUNDS=n for more).
#
#   hack/bench-router.sh
#   SAMPLES=500 hack/bench-router.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/server-lib.sh

die() { printf 'bench-router: error: %s\n' "$*" >&2; exit 1; }
model=${SWELL_MODEL:-/var/lib/swell/models/smollm2-135m-instruct-q4_1.gguf}
[ -f "$model" ] || die "model not found at $model; run 'make setup'"
samples=${SAMPLES:-300}

prepare_swell_run bench-router
bin=$BIN_DIR work=$WORK_DIR

start_swell_server "$bin" "$work" --cpu 2
url=$API_URL router=$ROUTER_URL

service() { # name replicas policy
    cat >"$work/$1.yaml" <<EOF
apiVersion: swell.dev/v1
kind: InferenceService
metadata: {name: $1}
spec:
  model: {path: $model, contextLength: 4096}
  engine: {threads: 1, kvCacheTokens: 16384}
  replicas: $2
  routing: {policy: $3}
EOF
    "$bin/swellctl" apply -f "$work/$1.yaml" --server "$url" >/dev/null
}
ready() { # name count
    for _ in $(seq 1 1200); do
        n=$("$bin/swellctl" get isvc "$1" -o json --server "$url" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",{}).get("readyReplicas") or 0)')
        [ "$n" -ge "$2" ] && return 0
        sleep 0.1
    done
    die "$1 did not reach $2 Ready replicas"
}
endpoint() { # name
    "$bin/swellctl" get rep -o json --server "$url" | python3 -c "import json,sys; print([r['status']['endpoint'] for r in json.load(sys.stdin)['items'] if r['spec']['serviceName']=='$1' and r.get('status',{}).get('endpoint')][0])"
}

# 1. Overhead, one replica.
service solo 1 round-robin
ready solo 1
python3 - "$router" "$(endpoint solo)" "$samples" <<'PY'
import http.client, json, statistics, sys, time, urllib.parse
router, direct, samples = sys.argv[1], sys.argv[2], int(sys.argv[3])
def connection(base):
    parts = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(parts.hostname, parts.port)
def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]
def measure(label, body, expected):
    connections = {"direct": connection(direct), "router": connection(router)}
    times = {"direct": [], "router": []}
    payload = json.dumps(body)
    for index in range(samples + 20):
        for name in (("direct", "router") if index % 2 == 0 else ("router", "direct")):
            c = connections[name]
            start = time.perf_counter()
            c.request("POST", "/v1/chat/completions", payload, {"content-type": "application/json"})
            response = c.getresponse()
            response.read()
            elapsed = (time.perf_counter() - start) * 1000
            if response.status != expected:
                sys.exit(f"{name}: HTTP {response.status}, expected {expected}")
            if index >= 20:  # warm-up left out
                times[name].append(elapsed)
    d50, d99 = percentile(times["direct"], 0.5), percentile(times["direct"], 0.99)
    r50, r99 = percentile(times["router"], 0.5), percentile(times["router"], 0.99)
    print(f"{label}: direct p50 {d50:.2f} ms p99 {d99:.2f} ms | router p50 {r50:.2f} ms p99 {r99:.2f} ms | "
          f"added p50 {r50 - d50:+.2f} ms p99 {r99 - d99:+.2f} ms (goal <= 1 ms at p99), {samples} each, interleaved")
message = [{"role": "user", "content": "Say yes."}]
measure("one-token chat completion", {"model": "solo", "messages": message, "max_tokens": 1, "temperature": 0}, 200)
measure("request the engine refuses at once (400)", {"model": "solo", "messages": message, "max_tokens": 0}, 400)
PY
"$bin/swellctl" delete isvc solo --server "$url" >/dev/null

# 2. Round-robin vs prefix-affinity, two replicas each (one service at a time: 2 CPUs), in
#    alternating rounds so a busy spell of the machine does not land on one policy only.
rounds=${ROUNDS:-3}
for round in $(seq 1 "$rounds"); do
    for policy in round-robin prefix-affinity; do
        name="chat-${policy%%-*}-$round"
        service "$name" 2 "$policy"
        ready "$name" 2
        "$bin/swell" engine bench-serve --name "$policy (round $round)" --url "$router" --model "$name" --clients 8 \
            --requests 8 --system-tokens 400 --question-tokens 50 --max-tokens 64 --conversation \
            --json-out "$work/$policy-$round.json"
        "$bin/swellctl" delete isvc "$name" --server "$url" >/dev/null
        for _ in $(seq 1 300); do
            [ -z "$("$bin/swellctl" get rep -o name --server "$url" 2>/dev/null)" ] && break
            sleep 0.1
        done
    done
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def runs(policy):
    return [json.load(open(f"{work}/{policy}-{r}.json")) for r in range(1, rounds + 1)]
def median(policy, key):
    return statistics.median(run[key] for run in runs(policy))
rr_hit, pa_hit = median("round-robin", "prefix_hit_rate"), median("prefix-affinity", "prefix_hit_rate")
rr_ttft, pa_ttft = median("round-robin", "ttft_p50_seconds"), median("prefix-affinity", "ttft_p50_seconds")
print(f"medians of {rounds} alternating rounds, 2 replicas, 8 clients in conversations:")
print(f"prefix hit rate: round-robin {rr_hit*100:.0f}%, prefix-affinity {pa_hit*100:.0f}% ({'better' if pa_hit > rr_hit else 'NOT better'})")
print(f"TTFT p50: round-robin {rr_ttft*1000:.0f} ms, prefix-affinity {pa_ttft*1000:.0f} ms "
      f"({pa_ttft/rr_ttft:.2f}x; {'better' if pa_ttft < rr_ttft else 'NOT better'})")
print(f"TTFT mean: round-robin {median('round-robin', 'ttft_mean_seconds')*1000:.0f} ms, "
      f"prefix-affinity {median('prefix-affinity', 'ttft_mean_seconds')*1000:.0f} ms")
print(f"throughput: round-robin {median('round-robin', 'throughput_tokens_per_second'):.0f} tok/s, "
      f"prefix-affinity {median('prefix-affinity', 'throughput_tokens_per_second'):.0f} tok/s")
PY
