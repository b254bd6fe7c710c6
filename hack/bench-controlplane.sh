#!/usr/bin/env bash
# Control-plane reaction (issue #5): for 5 services in turn, the time from `swellctl apply` to the
# replica's engine process being spawned (the control plane's share: API write, controller,
# scheduler, agent) and to the replica being Ready (plus the engine's own start-up). Medians.
#
#   hack/bench-controlplane.sh          # release build, the demo model
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'bench-controlplane: error: %s\n' "$*" >&2; exit 1; }
model=${SWELL_MODEL:-/var/lib/swell/models/smollm2-135m-instruct-q4_1.gguf}
[ -f "$model" ] || die "model not found at $model; run 'make setup'"

swift build -c release -Xswiftc -target-cpu -Xswiftc haswell --product swell >&2
swift build -c release -Xswiftc -target-cpu -Xswiftc haswell --product swellctl >&2
bin=$(swift build -c release -Xswiftc -target-cpu -Xswiftc haswell --show-bin-path)
work=$(mktemp -d "${TMPDIR:-/tmp}/swell-bench-cp.XXXXXX")
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$bin/swell" server --listen 127.0.0.1:0 --router-listen 127.0.0.1:0 --data-dir "$work/data" --log-level warning --node-cpu 16 \
    >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=""
for _ in $(seq 1 600); do
    url=$(sed -n 's/^swell server listening on //p' "$work/server.out"); [ -n "$url" ] && break; sleep 0.1
done
[ -n "$url" ] || die "server did not start"

python3 - "$bin/swellctl" "$url" "$model" "$work" <<'PY'
import json, statistics, subprocess, sys, time, urllib.request
swellctl, url, model, work = sys.argv[1:5]
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
PY
