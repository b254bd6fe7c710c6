import AsyncHTTPClient
import Foundation
import Logging
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
        /// Held back from allocatable for the system and the control plane itself.
        public var reservedCPUMillis: Int64
        public var reservedMemoryBytes: Int64
        public var listenHost: String
        /// The log endpoint's port; 0 picks a free one.
        public var listenPort: Int
        public var drainGracePeriod: Duration
        /// SIGTERM to SIGKILL when stopping an engine.
        public var terminationTimeout: Duration
        /// An engine not Ready this long after it started is killed and restarted.
        public var startupTimeout: Duration
        public var heartbeatInterval: Duration
        public var backoff: RestartBackoff
        /// Each replica's log is cut to half once it grows past this.
        public var logMaxBytes: Int
        /// How engines are held to their QoS class (see docs/agent.md).
        public var qosEnforcement: QoSEnforcementMode

        public init(nodeName: String, dataDirectory: String, swellExecutable: String,
                    cpuCores: Double = Double(HostCapacity.cpuCores), memoryBytes: Int64 = HostCapacity.memoryBytes,
                    reservedCPUMillis: Int64 = 0, reservedMemoryBytes: Int64 = 0,
                    listenHost: String = "127.0.0.1", listenPort: Int = 0,
                    drainGracePeriod: Duration = .seconds(30), terminationTimeout: Duration = .seconds(10),
                    startupTimeout: Duration = .seconds(600), heartbeatInterval: Duration = .seconds(5),
                    backoff: RestartBackoff = RestartBackoff(), logMaxBytes: Int = 10 << 20,
                    qosEnforcement: QoSEnforcementMode = .auto) {
            self.nodeName = nodeName
            self.dataDirectory = dataDirectory
            self.swellExecutable = swellExecutable
            self.cpuCores = cpuCores
            self.memoryBytes = memoryBytes
            self.reservedCPUMillis = reservedCPUMillis
            self.reservedMemoryBytes = reservedMemoryBytes
            self.listenHost = listenHost
            self.listenPort = listenPort
            self.drainGracePeriod = drainGracePeriod
            self.terminationTimeout = terminationTimeout
            self.startupTimeout = startupTimeout
            self.heartbeatInterval = heartbeatInterval
            self.backoff = backoff
            self.logMaxBytes = logMaxBytes
            self.qosEnforcement = qosEnforcement
        }

        var policy: ReplicaLifecycle.Policy {
            ReplicaLifecycle.Policy(backoff: backoff, startupTimeout: startupTimeout, drainGracePeriod: drainGracePeriod,
                                    terminationTimeout: terminationTimeout)
        }

        var stateFilePath: String { dataDirectory + "/agent-state.json" }
        var logDirectory: String { dataDirectory + "/logs" }
    }

    public let configuration: Configuration
    private let apiURL: LateValue<String>
    private let logger: Logger
    private let logAddress = LateValue<String>()

    public init(apiURL: LateValue<String>, configuration: Configuration, logger: Logger = Logger(label: "swell.agent")) {
        self.apiURL = apiURL
        self.configuration = configuration
        self.logger = logger
    }

    /// The log endpoint's URL once it listens; nil if it never will.
    public var address: String? {
        get async { await logAddress.value() }
    }

    /// Waits for the API server's URL (known only once it listens, with port 0), then runs until
    /// graceful shutdown, which drains and stops this node's engines before returning — so the
    /// API server, later in the shutdown order, still takes their last status.
    public func run() async throws {
        let qos: HostQoSEnforcer
        do {
            qos = try HostQoSEnforcer.detect(mode: configuration.qosEnforcement, nodeName: configuration.nodeName)
        } catch {
            logAddress.abandon()
            throw error
        }
        var metadata: Logger.Metadata = ["mechanism": "\(qos.mechanism.rawValue)"]
        if !qos.hierarchies.isEmpty { metadata["cgroups"] = "\(qos.hierarchies.map(\.nodeDirectory).joined(separator: " "))" }
        if let passedOver = qos.passedOver { metadata["passed over"] = "\(passedOver)" }
        logger.info("QoS enforcement", metadata: metadata)
        guard let url = await cancelWhenGracefulShutdown({ await self.apiURL.value() }) else {
            logAddress.abandon()
            return
        }
        let configuration = self.configuration
        let client = APIClient(baseURL: url)
        try FileManager.default.createDirectory(atPath: configuration.logDirectory, withIntermediateDirectories: true)
        let http = EngineProbes.makeHTTPClient()
        let informer = Informer<Replica>(client: client, logger: logger)
        let runtime = ReplicaRuntime(
            settings: .init(nodeName: configuration.nodeName, logDirectory: configuration.logDirectory,
                            logMaxBytes: configuration.logMaxBytes, policy: configuration.policy,
                            nodeMemoryBytes: configuration.memoryBytes),
            client: client, replicas: informer.cache,
            events: EventRecorder(client: client, source: "agent/\(configuration.nodeName)", logger: logger),
            launcher: EngineLauncher(executable: configuration.swellExecutable, stateFilePath: configuration.stateFilePath),
            probes: EngineProbes(http: http), qos: qos, stateFile: AgentStateFile(path: configuration.stateFilePath), logger: logger)
        // Before anything reconciles: the engines an earlier agent left are this agent's now.
        let adopted = runtime.adoptEngines()
        qos.prune(keeping: Set(adopted))

        let controller = Controller(name: "agent", reconciler: runtime, workers: 4, logger: logger)
        let nodeName = configuration.nodeName
        controller.watch(informer, keys: { replica in
            replica.spec.nodeName == nodeName ? [replica.metadata.key] : []
        })
        let logServer = AgentLogServer(logDirectory: configuration.logDirectory, host: configuration.listenHost,
                                       port: configuration.listenPort, logger: logger)
        let node = NodeRegistration(client: client, configuration: configuration, logger: logger)
        let logAddress = self.logAddress
        let heartbeat = Task {
            let address = await logServer.address.value()
            if let address { logAddress.set(address) } else { logAddress.abandon() }
            await node.run(address: address)
        }
        let adoption = Task {
            try await informer.waitForSync()
            // Adopted engines whose replica is gone or moved are stopped by their reconcile.
            for key in adopted { controller.queue.add(key) }
        }
        defer {
            heartbeat.cancel()
            adoption.cancel()
        }
        // Stopped in reverse: the controller first (no reconcile runs once it returns), then the
        // informer, then the log endpoint.
        let group = ServiceGroup(configuration: .init(services: [logServer, informer, controller], logger: logger))
        do {
            try await group.runAsChild()
        } catch {
            await runtime.stopAll()
            try? await http.shutdown()
            throw error
        }
        heartbeat.cancel()
        _ = await heartbeat.result
        await node.markStopped(address: await logServer.address.value())
        await runtime.stopAll()
        try await http.shutdown()
        logger.info("node agent stopped", metadata: ["node": "\(configuration.nodeName)"])
    }
}

public let swellAgentVersion = swellVersion
