import Foundation
import Logging
import ServiceLifecycle
import SwellAPI
import SwellClient
import SwellServer
import SwellStore
import Synchronization
import Testing
@testable import SwellAgent

/// A real API server on an ephemeral loopback port over a temporary SQLite file, and a real
/// `NodeAgent` against it that runs real `swell engine serve` processes. The test plays the
/// controller and the scheduler: it creates Replicas already bound to the agent's node.
final class AgentHarness: Sendable {
    static let modelPath = "/var/lib/swell/models/smollm2-135m-instruct-q4_1.gguf"

    let directory: URL
    let store: SQLiteStore
    let client: APIClient
    let nodeName: String
    let configuration: NodeAgent.Configuration
    private let apiURL: LateValue<String>
    private let serverGroup: ServiceGroup
    private let serverTask: Task<Void, any Error>
    private let agentGroup = Mutex<(group: ServiceGroup, task: Task<Void, any Error>)?>(nil)

    static var quietLogger: Logger {
        var logger = Logger(label: "test.agent")
        logger.logLevel = .critical
        return logger
    }

    /// The `swell` executable built beside this test bundle (or in `$SWELL_BIN_DIR`).
    static func swellExecutable() throws -> String {
        if let directory = ProcessInfo.processInfo.environment["SWELL_BIN_DIR"], !directory.isEmpty {
            return directory + "/swell"
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        if let executable = Bundle.main.executableURL { url = executable.resolvingSymlinksInPath() }
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("swell").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw AgentError("the swell executable is not built next to the tests: run `swift build` first")
    }

    init(backoff: RestartBackoff = RestartBackoff(initial: .seconds(1), maximum: .seconds(4)),
         drainGracePeriod: Duration = .seconds(5)) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-agent-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: directory.appendingPathComponent("swell.db").path, logger: Self.quietLogger)
        let url = LateValue<String>()
        apiURL = url
        let server = APIServer(store: store, configuration: .init(host: "127.0.0.1", port: 0, onServerRunning: { port in
            url.set("http://127.0.0.1:\(port)")
        }), logger: Self.quietLogger)
        serverGroup = ServiceGroup(configuration: .init(services: [server], logger: Self.quietLogger))
        let group = serverGroup
        serverTask = Task { try await group.run() }
        guard let base = await url.value() else { throw CancellationError() }
        client = APIClient(baseURL: base)
        nodeName = "node-\(UUID().uuidString.prefix(6).lowercased())"
        configuration = NodeAgent.Configuration(
            nodeName: nodeName, dataDirectory: directory.appendingPathComponent("agent").path,
            swellExecutable: try Self.swellExecutable(), cpuCores: 4, memoryBytes: 8 << 30, reservedCPUMillis: 500,
            drainGracePeriod: drainGracePeriod, terminationTimeout: .seconds(5), heartbeatInterval: .milliseconds(500),
            backoff: backoff)
    }

    /// Starts (or restarts) the agent; returns once its log endpoint listens.
    @discardableResult
    func startAgent() async throws -> NodeAgent {
        let agent = NodeAgent(apiURL: apiURL, configuration: configuration, logger: Self.quietLogger)
        let group = ServiceGroup(configuration: .init(services: [agent], logger: Self.quietLogger))
        agentGroup.withLock { $0 = (group, Task { try await group.run() }) }
        _ = try #require(await agent.address)
        return agent
    }

    /// Graceful agent shutdown: its engines are drained and stopped.
    func stopAgent() async throws {
        guard let running = agentGroup.withLock({ current in defer { current = nil }; return current }) else { return }
        await running.group.triggerGracefulShutdown()
        try await running.task.value
    }

    /// Stops everything; any engine still alive is killed, so a failing test leaks nothing.
    func stop() async {
        try? await stopAgent()
        for engine in OrphanScanner.scan(stateFile: configuration.stateFilePath) { kill(engine.pid, SIGKILL) }
        await serverGroup.triggerGracefulShutdown()
        _ = try? await serverTask.value
        try? store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    static func with(backoff: RestartBackoff = RestartBackoff(initial: .seconds(1), maximum: .seconds(4)),
                     _ body: (AgentHarness) async throws -> Void) async throws {
        let harness = try await AgentHarness(backoff: backoff)
        do {
            try await body(harness)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    // MARK: Playing the control plane

    func makeReplica(_ name: String, model: String = AgentHarness.modelPath, node: String? = nil,
                     resources: ResourceRequirements? = nil) -> Replica {
        var replica = Replica(metadata: ObjectMeta(name: name, namespace: "default"),
                              spec: ReplicaSpec(serviceName: name, nodeName: node ?? nodeName,
                                                model: ModelSpec(path: model, contextLength: 512),
                                                engine: EngineSpec(threads: 1, kvCacheTokens: 1024), resources: resources))
        replica.applyDefaults()
        return replica
    }

    @discardableResult
    func createReplica(_ name: String, model: String = AgentHarness.modelPath, node: String? = nil,
                       resources: ResourceRequirements? = nil) async throws -> Replica {
        try await client.create(makeReplica(name, model: model, node: node, resources: resources))
    }

    func replica(_ name: String) async throws -> Replica? {
        do {
            return try await client.get(Replica.self, namespace: "default", name: name)
        } catch let error as Status where error.code == 404 {
            return nil
        }
    }

    func events(for name: String) async throws -> [Event] {
        try await client.list(Event.self, namespace: "default").items.filter { $0.involvedObject.name == name }
    }

    var logDirectory: String { configuration.logDirectory }

    /// Polls until `condition` holds; the limit only guards against a hang.
    func waitUntil(_ what: Comment, limit: Duration = .seconds(90), sourceLocation: SourceLocation = #_sourceLocation,
                   _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting: \(what)", sourceLocation: sourceLocation)
        throw CancellationError()
    }

    static func isAlive(_ pid: Int) -> Bool {
        ProcStat.read(pid: Int32(pid)) != nil
    }

    /// Checks with the kernel that the engine `pid` runs under the QoS its status reports — in
    /// its cgroups, with every value in place — and returns those cgroups. This host must have
    /// writable cgroups: without them this fails, saying so.
    static func expectCgroupEnforced(_ status: ReplicaStatus, pid: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        let qos = try #require(status.qos, "the replica reports its QoS enforcement", sourceLocation: sourceLocation)
        try #require(qos.mechanism == .cgroupV1 || qos.mechanism == .cgroupV2,
                     "no writable cgroups on this host: \(qos.mechanism.rawValue), \(qos.message ?? "")", sourceLocation: sourceLocation)
        #expect(qos.message == nil, sourceLocation: sourceLocation)
        let cgroups = try #require(qos.cgroups, sourceLocation: sourceLocation)
        func kernel(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        for cgroup in cgroups {
            #expect(kernel(cgroup + "/cgroup.procs")?.split(separator: "\n").contains("\(pid)") == true, "\(cgroup)",
                    sourceLocation: sourceLocation)
        }
        for (file, value) in qos.settings ?? [:] where file != "oom_score_adj" {
            let holder = cgroups.first { FileManager.default.fileExists(atPath: $0 + "/" + file) }
            let read = holder.flatMap { kernel($0 + "/" + file) }
            // cgroup v1 reads "no memory limit" back as its largest page-aligned value.
            let unlimited = file == "memory.limit_in_bytes" && value == "-1" && (Int64(read ?? "") ?? 0) > 1 << 62
            #expect(read == value || unlimited, "\(file)", sourceLocation: sourceLocation)
        }
        #expect(kernel("/proc/\(pid)/oom_score_adj") == qos.settings?["oom_score_adj"], sourceLocation: sourceLocation)
        return cgroups
    }
}
