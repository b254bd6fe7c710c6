import Logging
import Synchronization
import SwellAPI
import SwellClient

/// Binds unscheduled Replicas to Nodes (see `NodeFit`), or marks them Pending with reason
/// `Unschedulable` and says why. Bindings it has made but not yet seen in the cache are
/// assumed, as kube-scheduler does, so two quick decisions never double-book a node.
public final class SchedulerReconciler: Reconciler {
    let client: APIClient
    let replicas: ObjectCache<Replica>
    let nodes: ObjectCache<Node>
    let events: EventRecorder
    let assumed: Mutex<[String: (node: String, request: NodeFit.Capacity)]>
    let logger: Logger

    public init(client: APIClient, replicas: ObjectCache<Replica>, nodes: ObjectCache<Node>, events: EventRecorder,
                logger: Logger = Logger(label: "swell.controller.scheduler")) {
        self.client = client
        self.replicas = replicas
        self.nodes = nodes
        self.events = events
        self.assumed = Mutex([:])
        self.logger = logger
    }

    public func reconcile(key: String) async throws -> ReconcileResult {
        guard let replica = replicas.get(key), replica.spec.nodeName == nil, !replica.metadata.isBeingDeleted else {
            _ = assumed.withLock { $0.removeValue(forKey: key) }
            return .done
        }
        let all = replicas.list()
        var used = NodeFit.used(by: all)
        assumed.withLock { assumed in
            // Forget assumptions the cache now shows (or that no longer exist).
            assumed = assumed.filter { key, _ in
                guard let cached = replicas.get(key) else { return false }
                return cached.spec.nodeName == nil
            }
            for (other, binding) in assumed where other != key {
                var total = used[binding.node] ?? NodeFit.Capacity(cpuMillis: 0, memoryBytes: 0)
                total.cpuMillis += binding.request.cpuMillis
                total.memoryBytes += binding.request.memoryBytes
                used[binding.node] = total
            }
        }
        if assumed.withLock({ $0[key] != nil }) { return .done } // bound already; the cache will catch up

        switch NodeFit.decide(replica, nodes: nodes.list(), used: used) {
        case .bind(let node):
            var bound = replica
            bound.spec.nodeName = node
            let stored = try await client.update(bound)
            assumed.withLock { $0[key] = (node, NodeFit.requests(of: replica)) }
            if replica.status?.reason == "Unschedulable" {
                var cleared = stored
                cleared.status?.reason = nil
                cleared.status?.message = nil
                _ = try? await client.updateStatus(cleared)
            }
            await events.normal(replica, reason: "Scheduled", message: "Successfully assigned \(key) to \(node)")
            logger.debug("bound replica", metadata: ["replica": "\(key)", "node": "\(node)"])
        case .unschedulable(let message):
            guard replica.status?.reason != "Unschedulable" || replica.status?.message != message else { return .done }
            var pending = replica
            var status = pending.status ?? ReplicaStatus()
            status.phase = .pending
            status.reason = "Unschedulable"
            status.message = message
            pending.status = status
            _ = try await client.updateStatus(pending)
            await events.warning(replica, reason: "FailedScheduling", message: message)
        }
        return .done
    }
}
