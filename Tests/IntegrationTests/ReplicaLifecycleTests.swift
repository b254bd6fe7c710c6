import AsyncHTTPClient
import Foundation
import SwellAPI
import SwellClient
import Testing

/// The declarative loop end to end: `swell server` with its embedded agent runs real
/// `swell engine serve` processes on the real SmolLM2 model.
@Suite("Replica lifecycle with real engines", .serialized)
struct ReplicaLifecycleTests {
    static let modelPath = "/var/lib/swell/models/smollm2-135m-instruct-q4_1.gguf"
    static let agent = ["--node-name", "it-node", "--node-cpu", "8", "--drain-grace-period", "5"]

    static func manifest(_ name: String, replicas: Int, threads: Int = 1, model: String = modelPath) -> String {
        """
        apiVersion: swell.dev/v1
        kind: InferenceService
        metadata: {name: \(name)}
        spec:
          model: {path: \(model), contextLength: 1024}
          engine: {threads: \(threads), kvCacheTokens: 2048}
          resources: {requests: {cpu: "1", memory: 256Mi}}
          replicas: \(replicas)
        """
    }

    static func uniqueName(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(6).lowercased())" }

    static func replicas(_ server: ServerProcess, _ service: String) async throws -> [Replica] {
        try await server.client.list(Replica.self, namespace: "default", labelSelector: "swell.dev/service=\(service)").items
    }

    static func isAlive(_ pid: Int) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// Engine processes serving `service` (its name is the served model name), from /proc.
    static func enginePIDs(serving service: String) -> Set<Int> {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var pids = Set<Int>()
        for entry in entries {
            guard let pid = Int(entry), isAlive(pid),
                  let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.contains("serve"), let index = arguments.firstIndex(of: "--served-model-name"),
               index + 1 < arguments.count, arguments[index + 1] == service {
                pids.insert(pid)
            }
        }
        return pids
    }

    static func waitUntil(_ what: Comment, limit: Duration = .seconds(120), sourceLocation: SourceLocation = #_sourceLocation,
                          _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting: \(what)", sourceLocation: sourceLocation)
        throw CancellationError()
    }

    /// A server with its agent, always stopped afterwards (which stops its engines).
    static func withServer(_ body: (ServerProcess) async throws -> Void) async throws {
        let server = try await ServerProcess(agentArguments: agent)
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    static func readyCount(_ server: ServerProcess, _ service: String) async throws -> Int {
        try await replicas(server, service).filter { $0.status?.phase == .ready && !$0.metadata.isBeingDeleted }.count
    }

    @Test("apply → Ready engines; scale; kill -9 of an engine restarts it with an Event; delete leaves no process")
    func lifecycle() async throws {
        try #require(FileManager.default.fileExists(atPath: Self.modelPath), "run hack/setup.sh to install the model")
        try await Self.withServer { server in
            let name = Self.uniqueName("life")
            try #require(try await server.swellctl("apply", "-f", server.write("a.yaml", Self.manifest(name, replicas: 1))).succeeded)
            try await Self.waitUntil("one Ready replica") { try await Self.readyCount(server, name) == 1 }
            let first = try #require(try await Self.replicas(server, name).first)
            let pid = try #require(first.status?.pid)
            #expect(Self.isAlive(pid))
            #expect(first.spec.nodeName == "it-node")
            let endpoint = try #require(first.status?.endpoint)
            let models = try await HTTPClient.shared.execute(HTTPClientRequest(url: endpoint + "/v1/models"), timeout: .seconds(30))
            #expect(models.status == .ok)
            #expect(Self.enginePIDs(serving: name) == [pid])

            // Its log, through the API server from the agent.
            let logs = try await server.swellctl("logs", "rep/\(first.metadata.name)")
            #expect(logs.succeeded, "\(logs)")
            #expect(logs.stdout.contains("starting: swell engine serve --model \(Self.modelPath)"))
            let tail = try await server.swellctl("logs", first.metadata.name, "--tail", "1")
            #expect(tail.stdoutLines.count == 1)
            let missing = try await server.swellctl("logs", "rep/nope")
            #expect(!missing.succeeded && missing.stderr.contains("NotFound"), "\(missing)")

            // Scale up and down.
            #expect(try await server.swellctl("scale", "isvc", name, "--replicas", "2").succeeded)
            try await Self.waitUntil("two Ready replicas") { try await Self.readyCount(server, name) == 2 }
            #expect(Self.enginePIDs(serving: name).count == 2)
            #expect(try await server.swellctl("scale", "isvc", name, "--replicas", "1").succeeded)
            try await Self.waitUntil("back to one engine process") {
                try await Self.replicas(server, name).count == 1 && Self.enginePIDs(serving: name).count == 1
            }

            // kill -9 of the engine: the agent restarts it after the back-off and says so.
            let survivor = try #require(try await Self.replicas(server, name).first)
            let victim = try #require(survivor.status?.pid)
            kill(Int32(victim), SIGKILL)
            try await Self.waitUntil("restarted and Ready again") {
                let replica = try await Self.replicas(server, name).first
                return replica?.status?.restarts == 1 && replica?.status?.phase == .ready && replica?.status?.pid != victim
            }
            let events = try await server.client.list(Event.self, namespace: "default").items
            #expect(events.contains { $0.involvedObject.name == survivor.metadata.name && $0.reason == "BackOff" })

            // Delete the service: every process goes.
            #expect(try await server.swellctl("delete", "isvc", name).succeeded)
            try await Self.waitUntil("no replicas and no engine processes") {
                try await Self.replicas(server, name).isEmpty && Self.enginePIDs(serving: name).isEmpty
            }
        }
    }

    @Test("kill -9 of the server: after a restart the engines are adopted, none duplicated")
    func serverCrashAdoptsEngines() async throws {
        try #require(FileManager.default.fileExists(atPath: Self.modelPath), "run hack/setup.sh to install the model")
        let server = try await ServerProcess(agentArguments: Self.agent)
        let name = Self.uniqueName("crash")
        try #require(try await server.swellctl("apply", "-f", server.write("a.yaml", Self.manifest(name, replicas: 2))).succeeded)
        try await Self.waitUntil("two Ready replicas") { try await Self.readyCount(server, name) == 2 }
        let before = Self.enginePIDs(serving: name)
        #expect(before.count == 2)
        _ = await server.kill()
        #expect(Self.enginePIDs(serving: name) == before, "engines outlive a crashed server")

        let restarted = try await ServerProcess(dataDirectory: server.dataDirectory, workDirectory: server.workDirectory,
                                                agentArguments: Self.agent)
        do {
        try await Self.waitUntil("both replicas Ready under the new server") { try await Self.readyCount(restarted, name) == 2 }
        // Give the agent a few probe periods to (wrongly) start anything extra.
        try await Task.sleep(for: .seconds(2))
        #expect(Self.enginePIDs(serving: name) == before, "the same engines, adopted; no duplicates")
        let pids = Set(try await Self.replicas(restarted, name).compactMap(\.status?.pid))
        #expect(pids == before)
        #expect(try await Self.replicas(restarted, name).count == 2)

        #expect(try await restarted.swellctl("delete", "isvc", name).succeeded)
        try await Self.waitUntil("engines stopped") { Self.enginePIDs(serving: name).isEmpty }
        } catch {
            await restarted.stop()
            throw error
        }
        await restarted.stop()
    }

    @Test("an invalid model path: the replica is Failed with the engine's message, retried only after its back-off")
    func invalidModel() async throws {
        try await Self.withServer { server in
            let name = Self.uniqueName("bad")
            let manifest = Self.manifest(name, replicas: 1, model: "/nonexistent/missing.gguf")
            try #require(try await server.swellctl("apply", "-f", server.write("a.yaml", manifest)).succeeded)
            try await Self.waitUntil("Failed with the engine's error") {
                let replica = try await Self.replicas(server, name).first
                return replica?.status?.phase == .failed && replica?.status?.message?.contains("/nonexistent/missing.gguf") == true
            }
            try await Task.sleep(for: .seconds(2))
            let replica = try #require(try await Self.replicas(server, name).first)
            // The first retry waits out the 10 s crash-loop back-off.
            #expect(replica.status?.restarts ?? 0 == 0, "no restart storm")
            #expect(replica.status?.reason == "CrashLoopBackOff")
            #expect(replica.status?.message?.contains("error: /nonexistent/missing.gguf") == true)
            #expect(Self.enginePIDs(serving: name).isEmpty)
            let service = try await server.client.get(InferenceService.self, namespace: "default", name: name)
            #expect(service.status?.conditions?[type: "ReplicaFailure"]?.status == .true)
            #expect(try await server.swellctl("delete", "isvc", name).succeeded)
        }
    }

    @Test("a spec change rolls real replicas over with at least one Ready at every moment")
    func rollingUpdate() async throws {
        try #require(FileManager.default.fileExists(atPath: Self.modelPath), "run hack/setup.sh to install the model")
        try await Self.withServer { server in
            let name = Self.uniqueName("roll")
            try #require(try await server.swellctl("apply", "-f", server.write("a.yaml", Self.manifest(name, replicas: 1))).succeeded)
            try await Self.waitUntil("Ready") { try await Self.readyCount(server, name) == 1 }
            let old = try #require(try await Self.replicas(server, name).first)
            try #require(try await server.swellctl("apply", "-f", server.write("b.yaml", Self.manifest(name, replicas: 1, threads: 2))).succeeded)
            var lowest = Int.max
            try await Self.waitUntil("rolled over to a new replica") {
                lowest = min(lowest, try await Self.readyCount(server, name))
                let replicas = try await Self.replicas(server, name)
                return replicas.count == 1 && replicas[0].metadata.name != old.metadata.name && replicas[0].status?.phase == .ready
            }
            #expect(lowest >= 1, "never zero Ready replicas")
            #expect(try await server.swellctl("delete", "isvc", name).succeeded)
            try await Self.waitUntil("engines stopped") { Self.enginePIDs(serving: name).isEmpty }
        }
    }

    @Test("swell agent on its own registers a Node, runs the replica, and stops its engine on SIGTERM")
    func standaloneAgent() async throws {
        try #require(FileManager.default.fileExists(atPath: Self.modelPath), "run hack/setup.sh to install the model")
        let server = try await ServerProcess()
        let agent = try ChildProcess(
            executable: try Binaries.swell,
            arguments: ["agent", "--server", server.url, "--node-name", "remote-1", "--node-cpu", "4",
                        "--data-dir", server.workDirectory.appendingPathComponent("agent").path, "--log-level", "warning"],
            logDirectory: server.workDirectory)
        do {
            let name = Self.uniqueName("remote")
            try #require(try await server.swellctl("apply", "-f", server.write("a.yaml", Self.manifest(name, replicas: 1))).succeeded)
            try await Self.waitUntil("Ready on the remote node") {
                let replica = try await Self.replicas(server, name).first
                return replica?.spec.nodeName == "remote-1" && replica?.status?.phase == .ready
            }
            let node = try await server.client.get(Node.self, namespace: nil, name: "remote-1")
            #expect(node.status?.capacity?["cpu"]?.millis == 4000)
            #expect(node.status?.address?.hasPrefix("http://127.0.0.1:") == true)
            #expect(Self.enginePIDs(serving: name).count == 1)
            agent.signal(SIGTERM)
            let exit = await agent.waitForExit()
            #expect(exit.isCleanExit, "\(exit)\n\(agent.stderr)")
            #expect(Self.enginePIDs(serving: name).isEmpty, "the agent stops its engines when it stops")
        } catch {
            agent.signal(SIGTERM)
            _ = await agent.waitForExit()
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
