#!/usr/bin/env bash
# The README's load generator chart: a real `swell server` (release build; API server,
# autoscaler, router, agent) on a 2-CPU node with the autoscaled `chat` service of the demo
# (SmolLM2, 1..2 replicas on QueueLength), driven through the router by
# manifests/scenarios/burst.yaml for its 60 s: the SVG, the timeline and the report, with the
# replicas the autoscaler added second by second.
#
#   hack/loadgen-chart.sh                      # → docs/images/loadgen-burst.{svg,csv,json}
#   SCENARIO=manifests/scenarios/diurnal-ramp.yaml OUT=/tmp/diurnal hack/loadgen-chart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/server-lib.sh

die() { printf 'loadgen-chart: error: %s\n' "$*" >&2; exit 1; }
[ -f /var/lib/swell/models/smollm2-135m-instruct-q4_1.gguf ] || die "the SmolLM2 model is missing; run 'make setup'"
scenario=${SCENARIO:-manifests/scenarios/burst.yaml}
out=${OUT:-docs/images/loadgen-burst}

prepare_swell_run loadgen-chart
bin=$BIN_DIR work=$WORK_DIR

start_swell_server "$bin" "$work" --cpu 2
api=$API_URL router=$ROUTER_URL
export SWELL_SERVER=$api
"$bin/swellctl" apply -f manifests/examples/00-priorityclasses.yaml >/dev/null
"$bin/swellctl" apply -f manifests/demo/chat.yaml >/dev/null
for _ in $(seq 1 1200); do
    ready=$("$bin/swellctl" get isvc chat -o json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",{}).get("readyReplicas") or 0)')
    [ "$ready" -ge 1 ] && break
    sleep 0.1
done

mkdir -p "$(dirname "$out")"
status=0
"$bin/swellctl" loadgen -f "$scenario" --target "$router" \
    --out "$out.json" --timeline "$out.csv" --svg "$out.svg" || status=$?
echo "loadgen-chart: wrote $out.svg, $out.csv and $out.json" >&2
exit "$status"
