#!/usr/bin/env bash
# Control-plane reaction.
#  1. (issue #5) For 5 services in turn, the time from `swellctl apply` to the replica's engine
#     process being spawned (the control plane's share: API write, controller, scheduler, agent)
#     and to the replica being Ready (plus the engine's own start-up).
#  2. (issue #7) Autoscaler reaction, 5 times: a step of concurrent chats through the router on
#     an autoscaled service (QueueLength target 2, one request per replica at a time) → the time
#     to the scale-up decision (status.autoscaler.desiredReplicas rising) and to the new replica
#     being Ready. Kubernetes' HPA takes 15-60 s for the decision alone.
# Medians.
#
#   hack/bench-controlplane.sh          # release build, the demo model
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/server-lib.sh

die() { printf 'bench-controlplane: error: %s\n' "$*" >&2; exit 1; }
model=${SWELL_MODEL:-/var/lib/swell/models/smollm2-135m-instruct-q4_1.gguf}
[ -f "$model" ] || die "model not found at $model; run 'make setup'"

prepare_swell_run bench-cp
bin=$BIN_DIR work=$WORK_DIR

start_swell_server "$bin" "$work" --node-cpu 16
url=$API_URL router=$ROUTER_URL

python3 - "$bin/swellctl" "$url" "$model" "$work" "$router" <<'PY'
import json, statistics, subprocess, sys, time, urllib.request
swellctl, url, model, work, router = sys.argv[1:6]
def replicas(name):
    with urllib.request.urlopen(f"{url}/apis/swell.dev/v1/namespaces/default/replicas?labelSelector=swell.dev/service={name}") as r:
        return json.load(r)["items"]
spawn, ready, engine = [], [], []
for i in range(5):
    name = f"bench-{i}"
    path = f"{work}/{name}.yaml"
    open(path, "w").write(f"""apiVersion: swell.dev/v1
kind: InferenceService
metadata: {{name: {name}}}
spec:
  model: {{path: {model}}}
  engine: {{threads: 1, kvCacheTokens: 2048}}
  replicas: 1
""")
    start = time.monotonic()
    subprocess.run([swellctl, "apply", "-f", path, "--server", url], check=True, capture_output=True)
    spawned = None
    while True:
        items = replicas(name)
        status = items[0].get("status", {}) if items else {}
        now = time.monotonic()
        if spawned is None and status.get("pid"):
            spawned = now
        if status.get("phase") == "Ready":
            break
        if now - start > 120:
            sys.exit(f"{name} not Ready after 120 s")
        time.sleep(0.005)
    spawn.append((spawned - start) * 1000)
    ready.append((now - start) * 1000)
    engine.append((now - spawned) * 1000)
    subprocess.run([swellctl, "delete", "isvc", name, "--server", url], check=True, capture_output=True)
print(f"apply -> first replica Ready: median {statistics.median(ready):.0f} ms (runs: {', '.join(f'{v:.0f}' for v in ready)})")
print(f"  control plane share (apply -> engine spawned and reported): median {statistics.median(spawn):.0f} ms (goal <= 100 ms)")
print(f"  engine start-up (spawn -> /ready, incl. model load): median {statistics.median(engine):.0f} ms")

# 2. Autoscaler reaction to a step in load.
import threading
def service(name):
    with urllib.request.urlopen(f"{url}/apis/swell.dev/v1/namespaces/default/inferenceservices/{name}") as r:
        return json.load(r)
def ready_count(name):
    return sum(1 for r in replicas(name) if r.get("status", {}).get("phase") == "Ready" and not r["metadata"].get("deletionTimestamp"))
def wait(what, condition, limit=120):
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            sys.exit(f"timed out: {what}")
        time.sleep(0.01)
def chat(index):
    body = json.dumps({"model": "react", "messages": [{"role": "user", "content": f"Story {index}"}],
                       "max_tokens": 48, "ignore_eos": True}).encode()
    request = urllib.request.Request(f"{router}/v1/chat/completions", body, {"content-type": "application/json"})
    urllib.request.urlopen(request, timeout=300).read()
path = f"{work}/react.yaml"
open(path, "w").write(f"""apiVersion: swell.dev/v1
kind: InferenceService
metadata: {{name: react}}
spec:
  model: {{path: {model}}}
  engine: {{threads: 1, kvCacheTokens: 2048}}
  routing: {{maxConcurrencyPerReplica: 1}}
  autoscaling:
    minReplicas: 1
    maxReplicas: 2
    metrics: [{{type: QueueLength, targetPerReplica: 2}}]
    behavior:
      scaleDown: {{stabilizationWindowSeconds: 1, policies: [{{type: Pods, value: 1, periodSeconds: 1}}]}}
""")
subprocess.run([swellctl, "apply", "-f", path, "--server", url], check=True, capture_output=True)
decision, scaled = [], []
for run in range(5):
    wait("one Ready replica", lambda: ready_count("react") == 1 and len(replicas("react")) == 1)
    time.sleep(2)  # a quiet stable window before the step
    start = time.monotonic()
    threads = [threading.Thread(target=chat, args=(run * 100 + i,)) for i in range(8)]
    for thread in threads: thread.start()
    wait("scale-up decision", lambda: (service("react").get("status", {}).get("autoscaler", {}).get("desiredReplicas") or 0) >= 2)
    decision.append((time.monotonic() - start) * 1000)
    wait("second replica Ready", lambda: ready_count("react") >= 2)
    scaled.append((time.monotonic() - start) * 1000)
    for thread in threads: thread.join()
print(f"autoscaler: load step -> scale-up decision: median {statistics.median(decision):.0f} ms (goal <= 1000 ms; runs: {', '.join(f'{v:.0f}' for v in decision)})")
print(f"autoscaler: load step -> new replica Ready: median {statistics.median(scaled):.0f} ms (goal <= 2000 ms + engine start-up {statistics.median(engine):.0f} ms; runs: {', '.join(f'{v:.0f}' for v in scaled)})")
PY
