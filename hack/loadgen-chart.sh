#!/usr/bin/env bash
# The README's load generator chart: `swell engine serve` (release build) on SmolLM2, one replica
# with 2 threads, driven by manifests/scenarios/burst.yaml for its 60 s, writing the SVG, the
# timeline and the report. With a `swell server` running (and the router, once it exists), point
# TARGET at the router and SWELL_SERVER at the API server to chart the replicas the autoscaler adds.
#
#   hack/loadgen-chart.sh                      # → docs/images/loadgen-burst.svg
#   SCENARIO=manifests/scenarios/diurnal-ramp.yaml OUT=/tmp/diurnal hack/loadgen-chart.sh
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'loadgen-chart: error: %s\n' "$*" >&2; exit 1; }
model=${SWELL_MODEL:-/var/lib/swell/models/smollm2-135m-instruct-q4_1.gguf}
scenario=${SCENARIO:-manifests/scenarios/burst.yaml}
out=${OUT:-docs/images/loadgen-burst}
[ -f "$model" ] || die "model not found at $model; run 'make setup' or set SWELL_MODEL"

release=(-c release -Xswiftc -target-cpu -Xswiftc haswell)   # as the serving benchmark builds the engine
swift build "${release[@]}" --product swell >&2
swift build "${release[@]}" --product swellctl >&2
bin=$(swift build "${release[@]}" --show-bin-path)
work=$(mktemp -d "${TMPDIR:-/tmp}/swell-loadgen-chart.XXXXXX")
engine=""
cleanup() {
    [ -n "$engine" ] && kill -TERM "$engine" 2>/dev/null && wait "$engine" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

target=${TARGET:-}
if [ -z "$target" ]; then
    "$bin/swell" engine serve --model "$model" --port 0 --threads 2 --kv-cache-tokens 16384 \
        --served-model-name chat --log-level warning >"$work/engine.out" 2>"$work/engine.err" &
    engine=$!
    for _ in $(seq 1 600); do
        target=$(sed -n 's/^swell engine listening on //p' "$work/engine.out")
        [ -n "$target" ] && break
        sleep 0.1
    done
    [ -n "$target" ] || { cat "$work/engine.err" >&2; die "swell engine serve did not start"; }
fi

mkdir -p "$(dirname "$out")"
status=0
"$bin/swellctl" loadgen -f "$scenario" --target "$target" \
    --out "$out.json" --timeline "$out.csv" --svg "$out.svg" || status=$?
echo "loadgen-chart: wrote $out.svg, $out.csv and $out.json" >&2
exit "$status"
