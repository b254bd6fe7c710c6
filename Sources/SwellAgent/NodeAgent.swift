import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SwellAPI
import SwellClient

/// The node agent (the kubelet analogue): registers a Node with its capacity and a heartbeat,
/// runs the engine processes of the Replicas bound to it, reports their status, and serves their
/// logs. Embedded in `swell server` or alone as `swell agent`.
public final class NodeAgent: Service {
    public struct Configuration: Sendable {
        public var nodeName: String
        /// Holds `logs/` and `agent-state.json`.
        public var dataDirectory: String
        /// The `swell` executable that runs `swell engine serve`.
        public var swellExecutable: String
        public var cpuCores: Double
        public var memoryBytes: Int64
        /// Held back from allocatable for the control plane itself.
        public var reservedCPUMillis: Int64
        public var listenHost: String
        /// The log endpoint's port; 0 picks a free one.
        public var listenPort: Int
        public var drainGracePeriod: Duration
        public var heartbeatInterval: Duration
        public var backoff: RestartBackoff

        public init(nodeName: String, dataDirectory: String, swellExecutable: String,
                    cpuCores: Double = Double(HostCapacity.cpuCores), memoryBytes: Int64 = HostCapacity.memoryBytes,
                    reservedCPUMillis: Int64 = 0, listenHost: String = "127.0.0.1", listenPort: Int = 0,
                    drainGracePeriod: Duration = .seconds(30), heartbeatInterval: Duration = .seconds(5),
                    backoff: RestartBackoff = RestartBackoff()) {
            self.nodeName = nodeName
            self.dataDirectory = dataDirectory
            self.swellExecutable = swellExecutable
            self.cpuCores = cpuCores
            self.memoryBytes = memoryBytes
            self.reservedCPUMillis = reservedCPUMillis
            self.listenHost = listenHost
            self.listenPort = listenPort
            self.drainGracePeriod = drainGracePeriod
            self.heartbeatInterval = heartbeatInterval
            self.backoff = backoff
        }
    }

    public let configuration: Configuration
    private let apiURL: LateValue<String>
    private let logger: Logger

    public init(apiURL: LateValue<String>, configuration: Configuration, logger: Logger = Logger(label: "swell.agent")) {
        self.apiURL = apiURL
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        guard let url = try await cancelWhenGracefulShutdown({ await self.apiURL.value() }) else { return }
        let client = APIClient(baseURL: url)
        let logDirectory = configuration.dataDirectory + "/logs"
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        let stateFile = AgentStateFile(path: configuration.dataDirectory + "/agent-state.json")
        let http = HTTPClient(eventLoopGroupProvider: .singleton)

        let informer = Informer<Replica>(client: client, logger: logger)
        let runtime = ReplicaRuntime(
            nodeName: configuration.nodeName, client: client, replicas: informer.cache,
            events: EventRecorder(client: client, source: "agent/\(configuration.nodeName)", logger: logger),
            launcher: EngineLauncher(executable: configuration.swellExecutable), logDirectory: logDirectory,
            stateFile: stateFile, drainGracePeriod: configuration.drainGracePeriod, backoff: configuration.backoff,
            http: http, logger: logger)
        let controller = Controller(name: "agent", reconciler: runtime, workers: 4, logger: logger)
        let nodeName = configuration.nodeName
        controller.watch(informer, keys: { replica in
            replica.spec.nodeName == nodeName ? [replica.metadata.key] : []
        })
        // Engines recorded by an earlier agent run: adopt the live ones now; after the cache
        // syncs, the reconciler keeps those whose replica is still bound here and stops the rest.
        for (key, entry) in stateFile.all {
            guard ProcStat.read(pid: entry.pid)?.startTime == entry.startTime else {
                stateFile.set(key, nil)
                continue
            }
            runtime.adopt(key, EngineHandle(pid: entry.pid, port: entry.port, startTime: entry.startTime,
                                            templateHash: entry.templateHash, adopted: true))
            logger.info("adopting engine from an earlier run", metadata: ["replica": "\(key)", "pid": "\(entry.pid)"])
        }

        let logServer = AgentLogServer(logDirectory: logDirectory, host: configuration.listenHost, port: configuration.listenPort,
                                       logger: logger)
        let node = NodeRegistration(client: client, configuration: configuration, logger: logger)
        let heartbeat = Task {
            let address = await logServer.address.value()
            await node.run(address: address)
        }
        let adoption = Task {
            try await informer.waitForSync()
            // Adopted engines whose replica is gone or moved are stopped by their reconcile.
            for key in runtime.engineKeys { controller.queue.add(key) }
        }
        let group = ServiceGroup(configuration: .init(services: [logServer, informer, controller], logger: logger))
        do {
            try await withGracefulShutdownHandler {
                try await group.run()
            } onGracefulShutdown: {
                // From now on nothing is started or restarted.
                runtime.shutDown()
            }
            // Stop the engines before returning, so whatever runs after the agent in the
            // shutdown order (the API server) is still there; their replicas stay, and a
            // restarted agent starts them again.
            await runtime.stopAll()
        } catch {
            heartbeat.cancel()
            adoption.cancel()
            try? await http.shutdown()
            throw error
        }
        heartbeat.cancel()
        adoption.cancel()
        try await http.shutdown()
    }
}

/// Registers the Node and keeps its heartbeat and capacity current.
final class NodeRegistration: Sendable {
    let client: APIClient
    let configuration: NodeAgent.Configuration
    let logger: Logger

    init(client: APIClient, configuration: NodeAgent.Configuration, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
    }

    /// Posts a heartbeat every interval until cancelled.
    func run(address: String?) async {
        while !Task.isCancelled {
            do {
                try await heartbeat(address: address)
            } catch {
                logger.warning("node heartbeat failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.heartbeatInterval)
        }
    }

    private func heartbeat(address: String?) async throws {
        let name = configuration.nodeName
        let cpu = Quantity(millis: Int64(configuration.cpuCores * 1000))
        let memory = Quantity(bytes: configuration.memoryBytes)
        let allocatableCPU = Quantity(millis: max(0, Int64(configuration.cpuCores * 1000) - configuration.reservedCPUMillis))
        var node: Node
        do {
            node = try await client.get(Node.self, namespace: nil, name: name)
        } catch let error as Status where error.code == 404 {
            node = try await client.create(Node(metadata: ObjectMeta(name: name, labels: ["swell.dev/hostname": name])))
        }
        let previous = node.status?.conditions?[type: "Ready"]
        node.status = NodeStatus(
            capacity: ["cpu": cpu, "memory": memory], allocatable: ["cpu": allocatableCPU, "memory": memory],
            conditions: [Condition(type: "Ready", status: .true, reason: "AgentReady", message: "swell agent is posting heartbeats",
                                   lastTransitionTime: previous?.status == .true ? previous?.lastTransitionTime : .now())],
            heartbeatTime: .now(), address: address, agentVersion: swellAgentVersion)
        _ = try await client.updateStatus(node)
    }
}

public let swellAgentVersion = "0.3.0"
