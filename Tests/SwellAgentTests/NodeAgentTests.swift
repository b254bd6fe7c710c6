import AsyncHTTPClient
import Foundation
import NIOCore
import SwellAPI
import SwellClient
import Testing
@testable import SwellAgent

/// The agent against a real API server, running real `swell engine serve` processes on the real
/// SmolLM2 model. Serialized: each test starts engines, and the machine has two cores.
@Suite("Node agent with real engines", .serialized)
struct NodeAgentTests {
    static func get(_ url: String) async throws -> (code: Int, body: String) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    static func requireModel() throws {
        try #require(FileManager.default.fileExists(atPath: AgentHarness.modelPath),
                     "the SmolLM2 model is missing at \(AgentHarness.modelPath): run `make setup`")
    }

    @Test("registers its Node: capacity, allocatable minus the reserve, Ready, heartbeats; NotReady once stopped")
    func registration() async throws {
        try await AgentHarness.with { harness in
            try await harness.startAgent()
            var registered: Node?
            try await harness.waitUntil("the node registered") {
                registered = try? await harness.client.get(Node.self, namespace: nil, name: harness.nodeName)
                return registered?.status?.heartbeatTime != nil
            }
            let node = try #require(registered)
            #expect(node.status?.capacity?["cpu"]?.millis == 4000)
            #expect(node.status?.capacity?["memory"]?.integerValue == 8 << 30)
            #expect(node.status?.allocatable?["cpu"]?.millis == 3500)
            #expect(node.status?.conditions?[type: "Ready"]?.status == .true)
            #expect(node.status?.agentVersion == swellVersion)
            let address = try #require(node.status?.address)
            #expect(try await Self.get(address + "/healthz").code == 200)

            let first = try #require(node.status?.heartbeatTime)
            try await harness.waitUntil("a later heartbeat") {
                let now = try await harness.client.get(Node.self, namespace: nil, name: harness.nodeName)
                return (now.status?.heartbeatTime ?? first) > first
            }

            try await harness.stopAgent()
            let stopped = try await harness.client.get(Node.self, namespace: nil, name: harness.nodeName)
            #expect(stopped.status?.conditions?[type: "Ready"]?.status == .false)
            #expect(stopped.status?.conditions?[type: "Ready"]?.reason == "AgentStopped")
        }
    }

    @Test("a bound replica runs until Ready with pid, port, usage and its QoS cgroup; its log is served; delete drains, stops and releases it")
    func replicaLifecycle() async throws {
        try Self.requireModel()
        try await AgentHarness.with { harness in
            try await harness.startAgent()
            try await harness.createReplica("elsewhere", node: "some-other-node")
            let burstable = ResourceRequirements(requests: ["cpu": Quantity(millis: 250), "memory": Quantity(bytes: 128 << 20)],
                                                 limits: ["cpu": Quantity(millis: 1000), "memory": Quantity(bytes: 1 << 30)])
            try await harness.createReplica("r1", resources: burstable)
            var current: Replica?
            try await harness.waitUntil("r1 Ready") {
                current = try await harness.replica("r1")
                return current?.status?.phase == .ready
            }
            let ready = try #require(current)
            let status = try #require(ready.status)
            let pid = try #require(status.pid)
            let port = try #require(status.port)
            #expect(AgentHarness.isAlive(pid))
            #expect(status.endpoint == "http://127.0.0.1:\(port)")
            #expect(status.restarts == 0)
            #expect(status.conditions?[type: "Ready"]?.status == .true)
            #expect(ready.metadata.finalizers?.contains(ReplicaRuntime.finalizer) == true)
            #expect(try await Self.get("http://127.0.0.1:\(port)/v1/models").code == 200)
            let cmdline = try #require(FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"))
            let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            #expect(Array(arguments.dropFirst().prefix(2)) == ["engine", "serve"])
            #expect(arguments.contains(AgentHarness.modelPath) && arguments.suffix(2) == ["--port", String(port)])
            // Its own process group.
            #expect(getpgid(Int32(pid)) == Int32(pid))
            // Held to its Burstable class by its own cgroup: 256 shares, 1 core of quota, 1Gi, and
            // the OOM killer's preference for 128Mi of the node's 8Gi.
            #expect(status.qosClass == .burstable)
            let cgroups = try AgentHarness.expectCgroupEnforced(status, pid: pid)
            #expect(cgroups.allSatisfy { $0.hasSuffix("/swell/\(harness.nodeName)/default_r1") })
            let settings = status.qos?.settings ?? [:]
            #expect(settings["cpu.shares"] ?? settings["cpu.weight"] == (status.qos?.mechanism == .cgroupV1 ? "256" : "10"))
            #expect(settings["memory.limit_in_bytes"] ?? settings["memory.max"] == "1073741824")
            #expect(settings["oom_score_adj"] == "985")

            try await harness.waitUntil("CPU and memory reported") {
                let usage = try await harness.replica("r1")?.status
                return (usage?.memoryBytes ?? 0) > 1 << 20 && usage?.cpuSeconds != nil
            }
            #expect(try await harness.events(for: "r1").contains { $0.reason == "Started" && $0.type == .normal })

            // The log, from the agent and through the API server.
            let node = try await harness.client.get(Node.self, namespace: nil, name: harness.nodeName)
            let address = try #require(node.status?.address)
            let whole = try await Self.get(address + "/logs/default/r1")
            #expect(whole.code == 200 && whole.body.contains("starting: swell engine serve --model \(AgentHarness.modelPath)"))
            let last = try await Self.get(address + "/logs/default/r1?tailLines=1")
            #expect(last.code == 200 && last.body.split(separator: "\n").count == 1)
            #expect(try await Self.get(address + "/logs/default/nope").code == 404)
            #expect(try await Self.get(address + "/logs/default/r1?tailLines=-1").code == 400)
            let proxied = try await Self.get(harness.client.baseURL + "/apis/swell.dev/v1/namespaces/default/replicas/r1/log?tailLines=50")
            #expect(proxied.code == 200 && proxied.body.contains("starting: swell engine serve"))

            // The replica bound to another node was left alone.
            let other = try #require(try await harness.replica("elsewhere"))
            #expect(other.metadata.finalizers == nil && other.status == nil)
            #expect(OrphanScanner.scan(stateFile: harness.configuration.stateFilePath).map(\.pid) == [Int32(pid)])

            // Delete: the finalizer holds the object until the engine is gone.
            let deleting = try await harness.client.delete(Replica.self, namespace: "default", name: "r1")
            #expect(deleting.metadata.deletionTimestamp != nil)
            try await harness.waitUntil("r1 gone") { try await harness.replica("r1") == nil }
            #expect(!AgentHarness.isAlive(pid))
            #expect(cgroups.allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "its cgroups went with it")
            // The Released event is recorded after the update that lets the object go, so it may
            // land after the object is gone.
            try await harness.waitUntil("Killing and Released recorded") {
                let reasons = try await harness.events(for: "r1").map(\.reason)
                return reasons.contains("Killing") && reasons.contains("Released")
            }
            try await harness.waitUntil("its log removed") {
                !FileManager.default.fileExists(atPath: ReplicaLogFile.path(directory: harness.logDirectory, key: "default/r1"))
            }
            #expect(AgentStateFile(path: harness.configuration.stateFilePath).all.isEmpty)
        }
    }

    @Test("follow streams what is appended to the log and ends when the replica is gone")
    func followLog() async throws {
        try Self.requireModel()
        try await AgentHarness.with { harness in
            try await harness.startAgent()
            try await harness.createReplica("follow")
            try await harness.waitUntil("Ready") { try await harness.replica("follow")?.status?.phase == .ready }
            let node = try await harness.client.get(Node.self, namespace: nil, name: harness.nodeName)
            let address = try #require(node.status?.address)
            let response = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: address + "/logs/default/follow?follow=true&tailLines=0"), timeout: .seconds(120))
            #expect(response.status == .ok)
            let marker = "marker-\(UUID().uuidString)"
            let path = ReplicaLogFile.path(directory: harness.logDirectory, key: "default/follow")
            // Appended until seen: a line written before the stream took its starting point is
            // (rightly) not part of a `tailLines=0` follow.
            let writer = Task {
                while !Task.isCancelled {
                    if let handle = FileHandle(forWritingAtPath: path) {
                        _ = try? handle.seekToEnd()
                        try? handle.write(contentsOf: Data("\(marker)\n".utf8))
                        try? handle.close()
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            defer { writer.cancel() }
            // A guard against a stream that never ends, not a measurement.
            let watchdog = Task {
                try await Task.sleep(for: .seconds(90))
                Issue.record("the follow stream did not end after the replica was deleted")
                _ = try? await harness.client.delete(Replica.self, namespace: "default", name: "follow")
                try? FileManager.default.removeItem(atPath: path)
            }
            defer { watchdog.cancel() }

            var received = ""
            var deleted = false
            for try await chunk in response.body {
                received += String(buffer: chunk)
                if received.contains(marker), !deleted {
                    deleted = true
                    writer.cancel()
                    _ = try await harness.client.delete(Replica.self, namespace: "default", name: "follow")
                }
            }
            // The loop ended by itself: the stream finished when the log went with the replica.
            #expect(received.contains(marker))
            #expect(!received.contains("starting:"), "tailLines=0 skips what was there before")
            #expect(try await harness.replica("follow") == nil)
        }
    }

    @Test("an invalid model path: Failed with the engine's error line, backed off instead of restarted at once")
    func invalidModel() async throws {
        // A long back-off, so the first retry cannot happen while the test looks.
        try await AgentHarness.with(backoff: RestartBackoff(initial: .seconds(120), maximum: .seconds(300))) { harness in
            try await harness.startAgent()
            let missing = harness.directory.appendingPathComponent("missing.gguf").path
            try await harness.createReplica("bad", model: missing)
            var current: Replica?
            try await harness.waitUntil("Failed") {
                current = try await harness.replica("bad")
                return current?.status?.phase == .failed
            }
            let status = try #require(current?.status)
            #expect(status.reason == "CrashLoopBackOff")
            #expect(status.message?.contains("error: \(missing)") == true, "\(status.message ?? "")")
            #expect(status.message?.contains("back-off 2m0s") == true, "\(status.message ?? "")")
            #expect(status.restarts == 0 && status.pid == nil)
            #expect(status.conditions?[type: "Ready"]?.status == .false)
            // The agent writes the status before it records the step's events.
            try await harness.waitUntil("BackOff event") {
                try await harness.events(for: "bad").contains { $0.reason == "BackOff" }
            }
            let backoff = try #require(try await harness.events(for: "bad").first { $0.reason == "BackOff" })
            #expect(backoff.type == .warning && backoff.message.contains(missing))
            #expect(OrphanScanner.scan(stateFile: harness.configuration.stateFilePath).isEmpty, "nothing runs while it backs off")

            // Nothing runs, so deleting it needs no drain.
            _ = try await harness.client.delete(Replica.self, namespace: "default", name: "bad")
            try await harness.waitUntil("bad gone") { try await harness.replica("bad") == nil }
        }
    }

    @Test("kill -9 of an engine: restarted after the back-off, restart counted, BackOff event recorded")
    func engineCrash() async throws {
        try Self.requireModel()
        try await AgentHarness.with { harness in
            try await harness.startAgent()
            try await harness.createReplica("crash")
            var current: Replica?
            try await harness.waitUntil("Ready") {
                current = try await harness.replica("crash")
                return current?.status?.phase == .ready
            }
            let victim = try #require(current?.status?.pid)
            kill(Int32(victim), SIGKILL)
            try await harness.waitUntil("Ready again under a new pid, one restart counted") {
                current = try await harness.replica("crash")
                return current?.status?.phase == .ready && current?.status?.restarts == 1 && current?.status?.pid != victim
            }
            #expect(!AgentHarness.isAlive(victim))
            let events = try await harness.events(for: "crash")
            let backoff = try #require(events.first { $0.reason == "BackOff" })
            #expect(backoff.type == .warning && backoff.message.contains("signal 9 (SIGKILL)"))
            #expect(events.filter { $0.reason == "Started" }.count == 2)
            #expect(OrphanScanner.scan(stateFile: harness.configuration.stateFilePath).count == 1, "exactly one engine")
        }
    }

    @Test("engines left by an earlier agent: the one whose replica is bound here is adopted, the other stopped")
    func adoption() async throws {
        try Self.requireModel()
        try await AgentHarness.with { harness in
            let kept = try await harness.createReplica("kept")
            let swell = try AgentHarness.swellExecutable()
            // Engines as a crashed agent would have left them: tagged with its state file and replica.
            func spawnEngine(_ replica: Replica) throws -> (Process, Int) {
                let port = try EngineLauncher.freePort()
                let process = Process()
                process.executableURL = URL(fileURLWithPath: swell)
                process.arguments = EngineLauncher.arguments(command: EngineLauncher.command(for: replica), port: port)
                var environment = ProcessInfo.processInfo.environment
                environment[EngineLauncher.ownerVariable] = harness.configuration.stateFilePath
                environment[EngineLauncher.replicaVariable] = replica.metadata.key
                environment[EngineLauncher.replicaUIDVariable] = replica.metadata.uid
                process.environment = environment
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                return (process, port)
            }
            let (keptEngine, keptPort) = try spawnEngine(kept)
            let (goneEngine, gonePort) = try spawnEngine(harness.makeReplica("gone"))
            defer {
                for engine in [keptEngine, goneEngine] where engine.isRunning { kill(engine.processIdentifier, SIGKILL) }
            }
            for port in [keptPort, gonePort] {
                try await harness.waitUntil("the stand-in engine on \(port) Ready") {
                    (try? await Self.get("http://127.0.0.1:\(port)/ready").code) == 200
                }
            }

            try await harness.startAgent()
            try await harness.waitUntil("kept Ready on the adopted engine") {
                let status = try await harness.replica("kept")?.status
                return status?.phase == .ready && status?.pid == Int(keptEngine.processIdentifier)
            }
            try await harness.waitUntil("the engine of the missing replica stopped") { !goneEngine.isRunning }
            #expect(keptEngine.isRunning)
            // Started outside any cgroup of the agent's, the adopted engine now runs in its replica's.
            var adopted: ReplicaStatus?
            try await harness.waitUntil("kept reports its QoS") {
                adopted = try await harness.replica("kept")?.status
                return adopted?.qos != nil
            }
            let cgroups = try AgentHarness.expectCgroupEnforced(try #require(adopted), pid: Int(keptEngine.processIdentifier))
            #expect(cgroups.allSatisfy { $0.hasSuffix("/swell/\(harness.nodeName)/default_kept") })
            #expect(adopted?.qos?.settings?["oom_score_adj"] == "1000", "no resources: BestEffort")
            let engines = OrphanScanner.scan(stateFile: harness.configuration.stateFilePath)
            #expect(engines.map(\.pid) == [keptEngine.processIdentifier], "no duplicate started for the adopted replica")
            #expect(try await harness.replica("kept")?.status?.port == keptPort)
        }
    }

    @Test("agent shutdown drains and stops its engines, leaves the replicas Pending; the next agent starts them again")
    func shutdownAndReturn() async throws {
        try Self.requireModel()
        try await AgentHarness.with { harness in
            try await harness.startAgent()
            try await harness.createReplica("stay")
            var current: Replica?
            try await harness.waitUntil("Ready") {
                current = try await harness.replica("stay")
                return current?.status?.phase == .ready
            }
            let first = try #require(current?.status?.pid)
            let cgroups = try AgentHarness.expectCgroupEnforced(try #require(current?.status), pid: first)
            try await harness.stopAgent()
            #expect(!AgentHarness.isAlive(first), "the engine stopped with the agent")
            #expect(cgroups.allSatisfy { !FileManager.default.fileExists(atPath: URL(fileURLWithPath: $0).deletingLastPathComponent().path) },
                    "a graceful stop removes the node's cgroups")
            let stopped = try #require(try await harness.replica("stay"))
            #expect(stopped.status?.phase == .pending && stopped.status?.reason == "NodeShutdown")
            #expect(stopped.status?.pid == nil)
            #expect(stopped.metadata.finalizers?.contains(ReplicaRuntime.finalizer) == true)
            #expect(AgentStateFile(path: harness.configuration.stateFilePath).all.isEmpty)

            try await harness.startAgent()
            try await harness.waitUntil("Ready again under the new agent") {
                current = try await harness.replica("stay")
                return current?.status?.phase == .ready
            }
            #expect(current?.status?.pid != first)
            #expect(current?.status?.restarts == 0, "a stop for shutdown is not a crash")
        }
    }
}
