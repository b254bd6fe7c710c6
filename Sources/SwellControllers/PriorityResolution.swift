import SwellAPI

/// The priority a replica runs with, copied from its class when it is created.
public struct ResolvedPriority: Sendable, Hashable {
    /// The class it came from; nil for the built-in priority 0.
    public var className: String?
    public var value: Int32
    public var preemptionPolicy: PriorityClass.PreemptionPolicy

    public init(className: String?, value: Int32, preemptionPolicy: PriorityClass.PreemptionPolicy) {
        self.className = className
        self.value = value
        self.preemptionPolicy = preemptionPolicy
    }

    public static let zero = ResolvedPriority(className: nil, value: 0, preemptionPolicy: .preemptLowerPriority)
}

/// A service's priority as Kubernetes' Priority admission plugin resolves it for a pod: the
/// named class's value and preemption policy; without a name, the `globalDefault` class (the
/// highest if several claim it); without one, priority 0.
public enum PriorityResolution: Sendable, Hashable {
    case resolved(ResolvedPriority)
    /// `priorityClassName` names no PriorityClass: no replica may be created.
    case unknownClass(String)

    public static func resolve(_ className: String?, classes: [PriorityClass]) -> PriorityResolution {
        let live = classes.filter { !$0.metadata.isBeingDeleted }
        let chosen: PriorityClass?
        if let className {
            guard let named = live.first(where: { $0.metadata.name == className }) else { return .unknownClass(className) }
            chosen = named
        } else {
            // Highest value first; among equals the first name, so the choice is stable.
            chosen = live.filter { $0.globalDefault == true }
                .min { ($1.value, $0.metadata.name) < ($0.value, $1.metadata.name) }
        }
        guard let chosen else { return .resolved(.zero) }
        return .resolved(ResolvedPriority(className: chosen.metadata.name, value: chosen.value,
                                          preemptionPolicy: chosen.preemptionPolicy ?? .preemptLowerPriority))
    }

    /// Why no replica can be created, for the service's `ReplicaFailure` condition.
    public var problem: String? {
        guard case .unknownClass(let name) = self else { return nil }
        return "no PriorityClass with name \"\(name)\" was found; no replica is created until it exists"
    }
}
