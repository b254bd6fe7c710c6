import SwellAPI

/// Which replicas to evict so that a replica that fits no node can run, as kube-scheduler's
/// default preemption does (pure; the scheduler acts on the result):
///
/// 1. A replica with `preemptionPolicy: Never` preempts nobody.
/// 2. Per eligible node (Ready, schedulable), remove every replica of strictly lower priority;
///    if the preemptor still does not fit, the node is no candidate. Replicas already being
///    deleted count as gone (they are releasing their requests), so a node they free needs no
///    new victims.
/// 3. Reprieve: add the removed replicas back, most important first (highest priority, then
///    the oldest), keeping each one that still leaves room; the rest are the victims — the
///    fewest and least important that make room.
/// 4. Pick the node with the least disruption: the lowest highest-victim priority, then the
///    lowest sum of victim priorities, then the fewest victims, then the node whose
///    highest-priority victims started latest, then by name.
public enum Preemption {
    public struct Candidate: Sendable, Hashable {
        public var node: String
        /// Keys (`namespace/name`) of the replicas to evict, lowest priority first; empty when
        /// replicas already leaving the node make the room.
        public var victims: [String]
    }

    /// - Parameters:
    ///   - replicas: every replica the scheduler knows of.
    ///   - reserved: per node, requests held beyond the bound replicas: bindings not yet in the
    ///     cache and nominated replicas of at least the preemptor's priority.
    public static func candidate(for preemptor: Replica, nodes: [Node], replicas: [Replica],
                                 reserved: [String: NodeFit.Capacity]) -> Candidate? {
        guard preemptor.spec.preemptionPolicy != .never else { return nil }
        let request = NodeFit.requests(of: preemptor)
        let priority = NodeFit.priority(of: preemptor)
        var options: [(node: String, victims: [Replica])] = []
        for node in nodes where NodeFit.isEligible(node) {
            let name = node.metadata.name
            let allocatable = NodeFit.allocatable(of: node)
            var used = reserved[name] ?? .zero
            var removable: [Replica] = []
            for replica in replicas where replica.spec.nodeName == name && NodeFit.holdsResources(replica)
                && !replica.metadata.isBeingDeleted && replica.metadata.key != preemptor.metadata.key {
                if NodeFit.priority(of: replica) < priority {
                    removable.append(replica)
                } else {
                    used = used + NodeFit.requests(of: replica)
                }
            }
            guard allocatable.fits(request, after: used) else { continue }
            var victims: [Replica] = []
            for replica in removable.sorted(by: moreImportant) {
                let withIt = used + NodeFit.requests(of: replica)
                if allocatable.fits(request, after: withIt) {
                    used = withIt
                } else {
                    victims.append(replica)
                }
            }
            options.append((name, victims))
        }
        guard let best = options.min(by: { lessDisruptive($0.victims, $1.victims, $0.node, $1.node) }) else { return nil }
        let victims = best.victims.sorted { a, b in
            NodeFit.priority(of: a) != NodeFit.priority(of: b)
                ? NodeFit.priority(of: a) < NodeFit.priority(of: b) : a.metadata.key < b.metadata.key
        }
        return Candidate(node: best.node, victims: victims.map(\.metadata.key))
    }

    /// kube-scheduler's MoreImportantPod: higher priority, then started earlier.
    static func moreImportant(_ a: Replica, _ b: Replica) -> Bool {
        if NodeFit.priority(of: a) != NodeFit.priority(of: b) { return NodeFit.priority(of: a) > NodeFit.priority(of: b) }
        if startTime(of: a) != startTime(of: b) { return startTime(of: a) < startTime(of: b) }
        return a.metadata.key < b.metadata.key
    }

    static func lessDisruptive(_ a: [Replica], _ b: [Replica], _ nodeA: String, _ nodeB: String) -> Bool {
        let highestA = a.map { Int64(NodeFit.priority(of: $0)) }.max() ?? Int64.min
        let highestB = b.map { Int64(NodeFit.priority(of: $0)) }.max() ?? Int64.min
        if highestA != highestB { return highestA < highestB }
        // Offset so that every priority adds a positive amount: more victims never sum lower.
        let offset = Int64(Int32.max) + 1
        let sumA = a.reduce(Int64(0)) { $0 + Int64(NodeFit.priority(of: $1)) + offset }
        let sumB = b.reduce(Int64(0)) { $0 + Int64(NodeFit.priority(of: $1)) + offset }
        if sumA != sumB { return sumA < sumB }
        if a.count != b.count { return a.count < b.count }
        let startA = earliestStartOfMostImportant(a)
        let startB = earliestStartOfMostImportant(b)
        if startA != startB { return startA > startB }
        return nodeA < nodeB
    }

    private static func earliestStartOfMostImportant(_ victims: [Replica]) -> Int64 {
        guard let highest = victims.map({ NodeFit.priority(of: $0) }).max() else { return Int64.max }
        return victims.filter { NodeFit.priority(of: $0) == highest }.map(startTime).min() ?? Int64.max
    }

    private static func startTime(of replica: Replica) -> Int64 {
        (replica.status?.startTime ?? replica.metadata.creationTimestamp)?.secondsSince1970 ?? 0
    }
}
