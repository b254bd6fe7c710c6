import Logging
import Synchronization
import SwellAPI
import SwellClient

/// Binds unscheduled Replicas to Nodes (see `NodeFit`), or marks them Pending with reason
/// `Unschedulable` and says why. Bindings it has made but not yet seen in the cache are
/// assumed, as kube-scheduler does, so two quick decisions never double-book a node.
///
/// A replica that fits nowhere may preempt (see `Preemption`): the scheduler nominates a node
/// for it (`status.nominatedNodeName`, reason `Preempting`), marks each victim with a
/// `DisruptionTarget` condition and deletes it (its agent drains the engine first), and records
/// `Preempted` Events on the victims and their services. The preemptor binds only once the
/// victims' requests are released; until then its nomination reserves the room against
/// replicas of lower or equal priority, so the victims' replacements cannot take it.
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
        var reserved: [String: NodeFit.Capacity] = [:]
        let (alreadyBound, assumedKeys) = assumed.withLock { assumed in
            // Forget assumptions the cache now shows (or that no longer exist).
            assumed = assumed.filter { key, _ in
                guard let cached = replicas.get(key) else { return false }
                return cached.spec.nodeName == nil
            }
            for (other, binding) in assumed where other != key {
                reserved[binding.node, default: .zero] = reserved[binding.node, default: .zero] + binding.request
            }
            return (assumed[key] != nil, Set(assumed.keys))
        }
        if alreadyBound { return .done } // the cache will catch up
        let nominated = NodeFit.nominated(for: replica, in: all.filter { !assumedKeys.contains($0.metadata.key) })
        for (node, request) in nominated { reserved[node, default: .zero] = reserved[node, default: .zero] + request }
        var used = NodeFit.used(by: all)
        for (node, request) in reserved { used[node, default: .zero] = used[node, default: .zero] + request }

        let nodeList = nodes.list()
        switch NodeFit.decide(replica, nodes: nodeList, used: used) {
        case .bind(let node):
            try await bind(replica, to: node)
        case .unschedulable(let message):
            if let candidate = Preemption.candidate(for: replica, nodes: nodeList, replicas: all, reserved: reserved) {
                try await preempt(for: replica, candidate)
            } else {
                let note = replica.spec.preemptionPolicy == .never
                    ? "preemption: not allowed (preemptionPolicy Never)"
                    : "preemption: no node has lower-priority replicas whose removal makes room"
                try await markUnschedulable(replica, message: nodeList.isEmpty ? message : "\(message); \(note)")
            }
        }
        return .done
    }

    private func bind(_ replica: Replica, to node: String) async throws {
        let key = replica.metadata.key
        var bound = replica
        bound.spec.nodeName = node
        let stored = try await client.update(bound)
        assumed.withLock { $0[key] = (node, NodeFit.requests(of: replica)) }
        if replica.status?.reason == "Unschedulable" || replica.status?.reason == Self.preemptingReason
            || replica.status?.nominatedNodeName != nil {
            var cleared = stored
            cleared.status?.reason = nil
            cleared.status?.message = nil
            cleared.status?.nominatedNodeName = nil
            _ = try? await client.updateStatus(cleared)
        }
        await events.normal(replica, reason: "Scheduled", message: "Successfully assigned \(key) to \(node)")
        logger.debug("bound replica", metadata: ["replica": "\(key)", "node": "\(node)"])
    }

    private func markUnschedulable(_ replica: Replica, message: String) async throws {
        guard replica.status?.reason != "Unschedulable" || replica.status?.message != message
            || replica.status?.nominatedNodeName != nil else { return }
        var pending = replica
        var status = pending.status ?? ReplicaStatus()
        status.phase = .pending
        status.reason = "Unschedulable"
        status.message = message
        status.nominatedNodeName = nil
        pending.status = status
        _ = try await client.updateStatus(pending)
        await events.warning(replica, reason: "FailedScheduling", message: message)
    }

    static let preemptingReason = "Preempting"

    /// Nominates the node first, then evicts: by the time the cache shows a victim gone it
    /// already shows the nomination that keeps its room for the preemptor.
    private func preempt(for preemptor: Replica, _ candidate: Preemption.Candidate) async throws {
        let victims = candidate.victims.compactMap { replicas.get($0) }
        let names = victims.map(\.metadata.name).joined(separator: ", ")
        let message = victims.isEmpty
            ? "waiting for replicas leaving node \(candidate.node) to release their requests"
            : "preempting \(victims.count) lower-priority replica(s) on node \(candidate.node): \(names)"
        let status = preemptor.status
        if status?.nominatedNodeName != candidate.node || status?.reason != Self.preemptingReason
            || (!victims.isEmpty && status?.message != message) {
            var nominated = preemptor
            var updated = status ?? ReplicaStatus()
            updated.phase = .pending
            updated.reason = Self.preemptingReason
            updated.message = message
            updated.nominatedNodeName = candidate.node
            nominated.status = updated
            _ = try await client.updateStatus(nominated)
        }
        guard !victims.isEmpty else { return }
        await events.normal(preemptor, reason: Self.preemptingReason, message: message)
        for victim in victims {
            try await evict(victim, for: preemptor, on: candidate.node)
        }
        logger.info("preempted replicas", metadata: [
            "preemptor": "\(preemptor.metadata.key)", "node": "\(candidate.node)", "victims": "\(names)",
        ])
    }

    private func evict(_ victim: Replica, for preemptor: Replica, on node: String) async throws {
        let priority = NodeFit.priority(of: preemptor)
        let className = preemptor.spec.priorityClassName.map { ", class \($0)" } ?? ""
        let why = "preempted by \(preemptor.metadata.key) (priority \(priority)\(className)) on node \(node)"
        // Marked before the delete, so the victim's service can tell why it is going.
        var current = victim
        for _ in 0..<5 {
            var status = current.status ?? ReplicaStatus()
            var conditions = status.conditions ?? []
            conditions.set(Condition(type: ServiceStatusCalculator.disruptionTarget, status: .true,
                                     reason: ServiceStatusCalculator.preemptionReason, message: why))
            status.conditions = conditions
            current.status = status
            do {
                _ = try await client.updateStatus(current)
                break
            } catch let error as Status where error.code == 409 {
                current = try await client.get(Replica.self, namespace: victim.metadata.namespace, name: victim.metadata.name)
            } catch let error as Status where error.code == 404 {
                return
            }
        }
        do {
            _ = try await client.delete(Replica.self, namespace: victim.metadata.namespace, name: victim.metadata.name)
        } catch let error as Status where error.code == 404 {
            return
        }
        await events.normal(victim, reason: "Preempted", message: "Preempted by \(preemptor.metadata.key) (priority \(priority)\(className)) on node \(node)")
        if let owner = victim.metadata.controllerReference {
            await events.record(ObjectReference(kind: owner.kind, namespace: victim.metadata.namespace, name: owner.name, uid: owner.uid),
                                type: .warning, reason: "Preempted", message: "Replica \(victim.metadata.name) \(why)")
        }
    }
}
