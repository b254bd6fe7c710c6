import SwellAPI

/// Scheduling maths for one replica: which nodes can hold it, and which of those is best.
///
/// A node fits when it is Ready, schedulable, and its allocatable CPU and memory minus the
/// requests of the replicas already bound to it cover the replica's requests. Among fitting
/// nodes the least allocated (most free CPU share, then memory) wins, which spreads replicas.
public enum NodeFit {
    public struct Capacity: Sendable, Hashable {
        public var cpuMillis: Int64
        public var memoryBytes: Int64

        public init(cpuMillis: Int64, memoryBytes: Int64) {
            self.cpuMillis = cpuMillis
            self.memoryBytes = memoryBytes
        }

        public static let zero = Capacity(cpuMillis: 0, memoryBytes: 0)

        public static func + (lhs: Capacity, rhs: Capacity) -> Capacity {
            Capacity(cpuMillis: lhs.cpuMillis + rhs.cpuMillis, memoryBytes: lhs.memoryBytes + rhs.memoryBytes)
        }

        /// Whether `request` fits in `self` (the allocatable) once `used` is taken.
        public func fits(_ request: Capacity, after used: Capacity) -> Bool {
            request.cpuMillis <= cpuMillis - used.cpuMillis && request.memoryBytes <= memoryBytes - used.memoryBytes
        }
    }

    public enum Decision: Sendable, Equatable {
        case bind(node: String)
        /// Nothing fits; the message says why, per reason, as kube-scheduler does.
        case unschedulable(message: String)
    }

    public static func requests(of replica: Replica) -> Capacity {
        let resources = replica.spec.resources
        return Capacity(cpuMillis: resources?.cpuRequest?.millis ?? 0,
                        memoryBytes: resources?.memoryRequest?.integerValue ?? 0)
    }

    public static func allocatable(of node: Node) -> Capacity {
        let source = node.status?.allocatable ?? node.status?.capacity ?? [:]
        return Capacity(cpuMillis: source["cpu"]?.millis ?? 0, memoryBytes: source["memory"]?.integerValue ?? 0)
    }

    public static func isReady(_ node: Node) -> Bool {
        node.status?.conditions?[type: "Ready"]?.status == .true
    }

    public static func priority(of replica: Replica) -> Int32 {
        replica.spec.priority ?? 0
    }

    /// A bound replica holds its requests until it has finished (a deleted one still draining
    /// holds them too).
    public static func holdsResources(_ replica: Replica) -> Bool {
        guard replica.spec.nodeName != nil else { return false }
        if let phase = replica.status?.phase, phase == .succeeded || phase == .failed { return false }
        return true
    }

    /// Requests of the replicas bound to each node that still hold their share (not finished).
    public static func used(by replicas: [Replica]) -> [String: Capacity] {
        var used: [String: Capacity] = [:]
        for replica in replicas where holdsResources(replica) {
            guard let node = replica.spec.nodeName else { continue }
            used[node, default: .zero] = used[node, default: .zero] + requests(of: replica)
        }
        return used
    }

    /// Per node, the requests of unbound replicas nominated there (waiting for their preemption
    /// victims to leave) that `replica` must leave room for: those of at least its priority, as
    /// kube-scheduler counts nominated pods. Without this the victims' own replacements would
    /// take the room the preemption made.
    public static func nominated(for replica: Replica, in replicas: [Replica]) -> [String: Capacity] {
        var reserved: [String: Capacity] = [:]
        let priority = priority(of: replica)
        for other in replicas where other.metadata.key != replica.metadata.key {
            guard other.spec.nodeName == nil, !other.metadata.isBeingDeleted, let node = other.status?.nominatedNodeName,
                  Self.priority(of: other) >= priority else { continue }
            reserved[node, default: .zero] = reserved[node, default: .zero] + requests(of: other)
        }
        return reserved
    }

    /// Whether the scheduler may consider the node at all, before resources.
    static func isEligible(_ node: Node) -> Bool {
        !node.metadata.isBeingDeleted && isReady(node) && node.spec?.unschedulable != true
    }

    public static func decide(_ replica: Replica, nodes: [Node], used: [String: Capacity]) -> Decision {
        let request = requests(of: replica)
        var notReady = 0, unschedulable = 0, noCPU = 0, noMemory = 0
        var best: (name: String, score: Double)?
        var tightestCPU: Int64?
        for node in nodes.sorted(by: { $0.metadata.name < $1.metadata.name }) {
            guard !node.metadata.isBeingDeleted, isReady(node) else { notReady += 1; continue }
            guard node.spec?.unschedulable != true else { unschedulable += 1; continue }
            let allocatable = allocatable(of: node)
            let taken = used[node.metadata.name] ?? .zero
            let freeCPU = allocatable.cpuMillis - taken.cpuMillis
            let freeMemory = allocatable.memoryBytes - taken.memoryBytes
            tightestCPU = max(tightestCPU ?? freeCPU, freeCPU)
            let cpuFits = request.cpuMillis <= freeCPU
            let memoryFits = request.memoryBytes <= freeMemory
            if !cpuFits { noCPU += 1 }
            if !memoryFits { noMemory += 1 }
            guard cpuFits, memoryFits else { continue }
            let cpuShare = allocatable.cpuMillis > 0 ? Double(freeCPU - request.cpuMillis) / Double(allocatable.cpuMillis) : 0
            let memoryShare = allocatable.memoryBytes > 0
                ? Double(freeMemory - request.memoryBytes) / Double(allocatable.memoryBytes) : 0
            let score = cpuShare + memoryShare
            if best == nil || score > best!.score { best = (node.metadata.name, score) }
        }
        if let best { return .bind(node: best.name) }
        var reasons: [String] = []
        if nodes.isEmpty { reasons.append("no nodes registered") }
        if notReady > 0 { reasons.append("\(notReady) not ready") }
        if unschedulable > 0 { reasons.append("\(unschedulable) unschedulable") }
        if noCPU > 0 {
            let free = tightestCPU.map { Self.cpuText(max(0, $0)) } ?? "0"
            reasons.append("\(noCPU) insufficient cpu (requested \(Self.cpuText(request.cpuMillis)), most free \(free))")
        }
        if noMemory > 0 { reasons.append("\(noMemory) insufficient memory (requested \(request.memoryBytes / (1 << 20))Mi)") }
        return .unschedulable(message: "0/\(nodes.count) nodes are available: \(reasons.joined(separator: ", "))")
    }

    static func cpuText(_ millis: Int64) -> String {
        millis % 1000 == 0 ? "\(millis / 1000)" : "\(millis)m"
    }
}
