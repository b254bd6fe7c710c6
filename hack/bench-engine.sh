#!/usr/bin/env bash
# Engine throughput against llama.cpp (issue #9), SmolLM2-135M in Q4_1, Q8_0 and F16, 2 threads:
# prompt processing (pp512) and generation (tg128) as medians of 5 runs, measured by
# `swell engine bench` and llama.cpp's `llama-bench` one after the other in this invocation, with
# the ratios and goals; batched decode of 8 sequences against one; and the share of the
# memory-bandwidth bound that generation reaches.
#
#   hack/bench-engine.sh
#   THREADS=2 REPETITIONS=5 TYPES="q4_1 q8_0" BANDWIDTH_GBPS=35 hack/bench-engine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/bench-lib.sh

threads=${THREADS:-2}
repetitions=${REPETITIONS:-5}
types=${TYPES:-q4_1 q8_0 f16}
bandwidth=${BANDWIDTH_GBPS:-35}
bin=$(swell_release_binary)
llama=$(llama_bin_dir) || die "llama.cpp is not installed: run hack/setup-bench.sh (make bench does)"
work=$(mktemp -d "${TMPDIR:-/tmp}/swell-bench-engine.XXXXXX")
trap 'rm -rf "$work"' EXIT

for type in $types; do
    model=$(bench_model "$type")
    [ -f "$model" ] || die "$model not found: run hack/setup-bench.sh"
    printf 'bench-engine: %s ...\n' "$type" >&2
    "$bin" engine bench --model "$model" -p 512 -n 128 --threads "$threads" --repetitions "$repetitions" \
        --batched-sequences 8 >"$work/swell-$type.txt"
    "$llama/llama-bench" -m "$model" -t "$threads" -p 512 -n 128 -r "$repetitions" -o json \
        >"$work/llama-$type.json" 2>"$work/llama-$type.err" || { cat "$work/llama-$type.err" >&2; die "llama-bench failed"; }
    stat -L -c %s "$model" >"$work/size-$type.txt"
done

python3 - "$work" "$bandwidth" $types <<'PY'
import json, statistics, sys
work, bandwidth, types = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
goals = {("pp", "q4_1"): 1.5, ("pp", "q8_0"): 1.0, ("pp", "f16"): 1.0}
print(f"{'model':6} {'test':9} {'swell tok/s':>12} {'llama.cpp':>10} {'ratio':>6} {'goal':>6}  met")
notes = []
for t in types:
    swell = {}
    for line in open(f"{work}/swell-{t}.txt"):
        fields = line.split()
        if len(fields) >= 3 and fields[0].isdigit():
            swell[fields[1]] = float(fields[2])
    llama = {}
    for entry in json.load(open(f"{work}/llama-{t}.json")):
        test = f"pp{entry['n_prompt']}" if entry["n_gen"] == 0 else f"tg{entry['n_gen']}"
        llama[test] = statistics.median(entry["samples_ts"])
    for test in ("pp512", "tg128"):
        goal = goals.get((test[:2], t), 1.1 if test.startswith("tg") else 1.0)
        ratio = swell[test] / llama[test]
        print(f"{t:6} {test:9} {swell[test]:12.1f} {llama[test]:10.1f} {ratio:5.2f}x {goal:5.1f}x  {'yes' if ratio >= goal else 'NO'}")
    batched = swell.get("tg128x8")
    if batched:
        ratio = batched / swell["tg128"]
        print(f"{t:6} {'tg128x8':9} {batched:12.1f} {'':>10} {ratio:5.2f}x {4.0:5.1f}x  {'yes' if ratio >= 4 else 'NO'}  (8 sequences vs 1)")
    size = int(open(f"{work}/size-{t}.txt").read())
    bound = bandwidth * 1e9 / size
    notes.append(f"{t}: weights {size / 1e6:.0f} MB per token; bound at {bandwidth:.0f} GB/s = {bound:.0f} tok/s; "
                 f"swell tg128 reaches {100 * swell['tg128'] / bound:.0f}%, llama.cpp {100 * llama['tg128'] / bound:.0f}%")
print()
for note in notes: print(note)
PY
