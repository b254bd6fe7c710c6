import Logging
import SwellAPI
import SwellClient

/// Registers the agent's Node and keeps its status current: capacity, allocatable, the Ready
/// condition, the heartbeat time, the agent's address and version.
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
                try await post(address: address, ready: true)
            } catch {
                if Task.isCancelled { return }
                logger.warning("node heartbeat failed", metadata: ["node": "\(configuration.nodeName)", "error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.heartbeatInterval)
        }
    }

    /// Says the node is no longer Ready (the agent is stopping), so nothing new is scheduled here.
    /// A conflict is retried: a heartbeat cancelled in flight may still land first, and there is
    /// no next heartbeat to correct it.
    func markStopped(address: String?) async {
        for _ in 0..<5 {
            do {
                if try await post(address: address, ready: false) { return }
            } catch {
                logger.debug("could not mark the node stopped", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    /// Writes the node's status; false when someone else wrote the node in between (409).
    @discardableResult
    private func post(address: String?, ready: Bool) async throws -> Bool {
        let name = configuration.nodeName
        var node: Node
        do {
            node = try await client.get(Node.self, namespace: nil, name: name)
        } catch let error as Status where error.code == 404 {
            node = try await client.create(Node(metadata: ObjectMeta(name: name, labels: ["swell.dev/hostname": name])))
            logger.info("registered node", metadata: ["node": "\(name)"])
        }
        node.status = Self.status(configuration, address: address, previous: node.status, ready: ready, now: .now())
        do {
            _ = try await client.updateStatus(node)
            return true
        } catch let error as Status where error.code == 409 {
            // Someone else wrote the node in between; the next heartbeat works from the new one.
            return false
        }
    }

    /// The Node status the agent reports.
    static func status(_ configuration: NodeAgent.Configuration, address: String?, previous: NodeStatus?, ready: Bool,
                       now: Timestamp) -> NodeStatus {
        let cpuMillis = Int64((configuration.cpuCores * 1000).rounded())
        let capacity = ["cpu": Quantity(millis: cpuMillis), "memory": Quantity(bytes: configuration.memoryBytes)]
        let allocatable = [
            "cpu": Quantity(millis: max(0, cpuMillis - configuration.reservedCPUMillis)),
            "memory": Quantity(bytes: max(0, configuration.memoryBytes - configuration.reservedMemoryBytes)),
        ]
        var conditions = previous?.conditions ?? []
        conditions.set(ready
            ? Condition(type: "Ready", status: .true, reason: "AgentReady", message: "the swell agent is posting heartbeats")
            : Condition(type: "Ready", status: .false, reason: "AgentStopped", message: "the swell agent on this node stopped"),
            now: now)
        return NodeStatus(capacity: capacity, allocatable: allocatable, conditions: conditions, heartbeatTime: now,
                          address: address, agentVersion: swellAgentVersion)
    }
}
