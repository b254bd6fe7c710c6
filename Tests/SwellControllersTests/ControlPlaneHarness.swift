import Foundation
import Logging
import ServiceLifecycle
import SwellAPI
import SwellClient
import SwellControllers
import SwellServer
import SwellStore
import Testing

/// A real API server on an ephemeral loopback port over a temporary SQLite file, with the
/// controllers running against it over HTTP. The test plays the node agent: it registers Nodes
/// and writes Replica status, the way the agent would.
final class ControlPlaneHarness: Sendable {
    let store: SQLiteStore
    let directory: URL
    let client: APIClient
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    static var quietLogger: Logger {
        var logger = Logger(label: "test.controllers")
        logger.logLevel = .critical
        return logger
    }

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-controllers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: directory.appendingPathComponent("swell.db").path, logger: Self.quietLogger)
        let url = LateValue<String>()
        let server = APIServer(store: store, configuration: .init(host: "127.0.0.1", port: 0, onServerRunning: { port in
            url.set("http://127.0.0.1:\(port)")
        }), logger: Self.quietLogger)
        let controllers = ControllerManager(apiURL: url, logger: Self.quietLogger)
        let group = ServiceGroup(configuration: .init(services: [server, controllers], logger: Self.quietLogger))
        self.group = group
        task = Task { try await group.run() }
        guard let base = await url.value() else { throw CancellationError() }
        client = APIClient(baseURL: base)
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
        try store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Playing the agent

    @discardableResult
    func registerNode(_ name: String = "node-1", cpu: String = "8", memory: String = "16Gi") async throws -> Node {
        let capacity = ["cpu": try Quantity(cpu), "memory": try Quantity(memory)]
        let node = try await client.create(Node(metadata: ObjectMeta(name: name)))
        var ready = node
        ready.status = NodeStatus(capacity: capacity, allocatable: capacity,
                                  conditions: [Condition(type: "Ready", status: .true)], heartbeatTime: .now())
        return try await client.updateStatus(ready)
    }

    func replicas(of service: String) async throws -> [Replica] {
        try await client.list(Replica.self, namespace: "default", labelSelector: "\(ReplicaTemplate.serviceLabel)=\(service)").items
            .sorted { $0.metadata.name < $1.metadata.name }
    }

    /// Sets phase (and endpoint when Ready) on a replica, retrying on conflicts as an agent would.
    func setPhase(_ replica: String, _ phase: ReplicaStatus.Phase, reason: String? = nil, message: String? = nil) async throws {
        for _ in 0..<20 {
            var current = try await client.get(Replica.self, namespace: "default", name: replica)
            var status = current.status ?? ReplicaStatus()
            status.phase = phase
            status.reason = reason
            status.message = message
            status.endpoint = phase == .ready ? "http://127.0.0.1:9\(replica.count)" : nil
            current.status = status
            do {
                _ = try await client.updateStatus(current)
                return
            } catch let error as Status where error.code == 409 {
                continue
            }
        }
        Issue.record("could not update \(replica) for conflicts")
    }

    /// Adds the agent's finalizer, as the agent does before it starts a replica, so a deleted
    /// replica stays (holding its node's resources) until `finishDeletions`.
    func addAgentFinalizer(_ replica: String) async throws {
        for _ in 0..<20 {
            var current = try await client.get(Replica.self, namespace: "default", name: replica)
            current.metadata.finalizers = ["swell.dev/agent"]
            do {
                _ = try await client.update(current)
                return
            } catch let error as Status where error.code == 409 {
                continue
            }
        }
        Issue.record("could not add a finalizer to \(replica) for conflicts")
    }

    /// Removes replicas being deleted, as the agent does once their process has stopped.
    func finishDeletions() async throws {
        for replica in try await client.list(Replica.self, namespace: "default").items where replica.metadata.isBeingDeleted {
            var done = replica
            done.metadata.finalizers = nil
            _ = try? await client.update(done)
        }
    }
}

func withControlPlane(_ body: (ControlPlaneHarness) async throws -> Void) async throws {
    let harness = try await ControlPlaneHarness()
    do {
        try await body(harness)
    } catch {
        try? await harness.stop()
        throw error
    }
    try await harness.stop()
}

/// Polls `condition` until it holds; the timeout only guards against a hang.
func eventually(_ description: Comment, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
                _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(25))
    }
    Issue.record("timed out waiting: \(description)", sourceLocation: sourceLocation)
    throw CancellationError()
}

func chatService(_ name: String = "chat", replicas: Int = 1, threads: Int = 1, cpu: String? = nil,
                 priorityClass: String? = nil) -> InferenceService {
    InferenceService(
        metadata: ObjectMeta(name: name, namespace: "default"),
        spec: InferenceServiceSpec(model: ModelSpec(path: "/models/\(name).gguf"), engine: EngineSpec(threads: threads),
                                   resources: cpu.map { ResourceRequirements(requests: ["cpu": try! Quantity($0)]) },
                                   priorityClassName: priorityClass, replicas: replicas))
}
