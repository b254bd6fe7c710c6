#!/usr/bin/env bash
# Serving benchmark (issues #4 and #9): 8 concurrent clients whose chats share a ~400-token system
# prompt and differ in a ~50-token question, 64 output tokens each, against `swell engine serve`
# with 2 threads — and against llama.cpp's llama-server (-np 4, same model, threads and prompt
# caching; installed by hack/setup-bench.sh) in the same invocation, printing the ratios. Reports
# throughput, TTFT p50/p99, the prefix hit rate, and the TTFT of a request whose system prompt is
# cached vs a cold one.
#
#   hack/bench-serving.sh
#   SWELL_MODEL=/path/model.gguf CLIENTS=8 REQUESTS=4 hack/bench-serving.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/bench-lib.sh

model=${SWELL_MODEL:-$(bench_model q4_1)}
[ -f "$model" ] || die "model not found at $model; run 'make setup' or set SWELL_MODEL"
threads=${THREADS:-2}
clients=${CLIENTS:-8}
requests=${REQUESTS:-4}

bin=$(swell_release_binary)
work=$(mktemp -d "${TMPDIR:-/tmp}/swell-bench-serving.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # url
    for _ in $(seq 1 600); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
    die "$1 did not come up"
}

bench() { # name url
    "$bin" engine bench-serve --name "$1" --url "$2" --clients "$clients" --requests "$requests" \
        --system-tokens 400 --question-tokens 50 --max-tokens 64 --probes 15 --json-out "$work/$1.json"
}

"$bin" engine serve --model "$model" --port 0 --threads "$threads" --kv-cache-tokens 16384 \
    --log-level warning >"$work/swell.out" 2>"$work/swell.err" &
pids+=($!)
url=""
for _ in $(seq 1 600); do
    url=$(sed -n 's/^swell engine listening on //p' "$work/swell.out")
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { cat "$work/swell.err" >&2; die "swell engine serve did not start"; }
bench swell "$url"
kill -TERM "${pids[0]}"; wait "${pids[0]}" || true; pids=()

llama_server=""
if dir=$(llama_bin_dir); then llama_server=$dir/llama-server; fi
if [ -n "$llama_server" ]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$llama_server" -m "$model" -t "$threads" -np 4 -c 16384 --port "$port" --host 127.0.0.1 \
        >"$work/llama.out" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:$port/health"
    bench llama-server "http://127.0.0.1:$port"
    python3 - "$work/swell.json" "$work/llama-server.json" <<'PY'
import json, sys
s, l = (json.load(open(p)) for p in sys.argv[1:3])
throughput = s['throughput_tokens_per_second'] / l['throughput_tokens_per_second']
ttft = s['ttft_p50_seconds'] / l['ttft_p50_seconds']
print(f"ratios swell/llama-server: throughput {throughput:.2f}x (goals >= 1.5x #4, >= 2x #9: "
      f"{'met' if throughput >= 2 else 'met for #4 only' if throughput >= 1.5 else 'NOT met'}), "
      f"TTFT p50 {ttft:.2f}x (goal <= 0.5x: {'met' if ttft <= 0.5 else 'NOT met'}), "
      f"TTFT p99 {s['ttft_p99_seconds']/l['ttft_p99_seconds']:.2f}x")
PY
else
    echo "llama-server is not installed (run hack/setup-bench.sh): no comparison run. Goals: throughput >= 2x llama-server's, TTFT p50 <= 0.5x; cached-prefix TTFT <= 15% of cold."
fi
python3 - "$work/swell.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
share = s['cached_ttft_share']
print(f"cached-prefix TTFT is {share*100:.1f}% of cold (median of 15 back-to-back pairs; goal <= 15%): {'met' if share <= 0.15 else 'NOT met'}")
PY
