#!/usr/bin/env bash
# Resident memory per replica (issue #9): starts REPLICAS `swell engine serve` processes on the
# same model and reports each one's RSS, PSS (shared pages divided among the processes that map
# them) and private memory from /proc/PID/smaps_rollup, next to the KV cache size. Weights are
# mapped read-only and shared, so an extra replica should cost about its KV cache and scratch.
#
#   hack/bench-memory.sh
#   REPLICAS=3 KV_CACHE_MEMORY=256Mi hack/bench-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/bench-lib.sh

model=${SWELL_MODEL:-$(bench_model q4_1)}
[ -f "$model" ] || die "model not found at $model; run 'make setup'"
replicas=${REPLICAS:-2}
cache=${KV_CACHE_MEMORY:-128Mi}
bin=$(swell_release_binary)
work=$(mktemp -d "${TMPDIR:-/tmp}/swell-bench-memory.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

urls=()
for index in $(seq 1 "$replicas"); do
    "$bin" engine serve --model "$model" --port 0 --threads 1 --no-pin --kv-cache-memory "$cache" \
        --log-level warning >"$work/$index.out" 2>"$work/$index.err" &
    pids+=($!)
    url=""
    for _ in $(seq 1 600); do
        url=$(sed -n 's/^swell engine listening on //p' "$work/$index.out")
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { cat "$work/$index.err" >&2; die "replica $index did not start"; }
    urls+=("$url")
done
# One request each, so every replica has touched its weights, scratch and some cache.
for url in "${urls[@]}"; do
    curl -fsS "$url/v1/completions" -H 'content-type: application/json' \
        -d '{"prompt":"The capital of France is","max_tokens":16,"temperature":0}' >/dev/null
done
printf 'model %s (%s MB), KV cache %s per replica (F16)\n' "$(basename "$model")" "$(( $(stat -L -c %s "$model") / 1000000 ))" "$cache"
printf '%-8s %10s %10s %12s\n' replica "RSS MB" "PSS MB" "private MB"
for index in $(seq 1 "$replicas"); do
    pid=${pids[$((index - 1))]}
    awk -v name="$index" '
        /^Rss:/ { rss = $2 } /^Pss:/ { pss = $2 } /^Private_Clean:/ { pc = $2 } /^Private_Dirty:/ { pd = $2 }
        END { printf "%-8s %10.1f %10.1f %12.1f\n", name, rss / 1024, pss / 1024, (pc + pd) / 1024 }' "/proc/$pid/smaps_rollup"
done
echo "(private memory is what each extra replica adds; the mapped weights are shared through the page cache)"
