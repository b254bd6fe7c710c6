import SwellAPI

/// One replica as the rollout maths sees it.
public struct ReplicaSnapshot: Sendable, Hashable {
    public enum State: Int, Sendable, Comparable {
        // Order of preference when removing replicas: the least useful go first.
        case failed, unscheduled, pending, starting, ready

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public var name: String
    /// Made from the service's current template.
    public var isCurrent: Bool
    public var state: State
    /// Creation order (larger = newer); ties broken by name.
    public var age: Int64
    /// Requests running or waiting in it; nil: unknown.
    public var inFlightRequests: Double?
    /// What its prefix cache is worth (larger = warmer); nil: unknown.
    public var prefixCacheValue: Double?

    public init(name: String, isCurrent: Bool, state: State, age: Int64, inFlightRequests: Double? = nil,
                prefixCacheValue: Double? = nil) {
        self.name = name
        self.isCurrent = isCurrent
        self.state = state
        self.age = age
        self.inFlightRequests = inFlightRequests
        self.prefixCacheValue = prefixCacheValue
    }

    public var isReady: Bool { state == .ready }
}

/// The replicas to create and delete to move a service towards its desired count and its
/// current template, as a Deployment's rolling update does: at most `desired + maxSurge`
/// replicas exist, at least `desired - maxUnavailable` stay Ready, and new replicas become Ready
/// before old ones go.
public struct RolloutPlan: Sendable, Hashable {
    public var create: Int
    public var delete: [String]

    public init(create: Int = 0, delete: [String] = []) {
        self.create = create
        self.delete = delete
    }
}

public enum RolloutPlanner {
    public static func plan(desired: Int, rollout: RolloutSpec?, replicas: [ReplicaSnapshot]) -> RolloutPlan {
        let desired = max(0, desired)
        var surge = (rollout?.maxSurge ?? .count(1)).resolve(total: desired, roundUp: true)
        let unavailable = (rollout?.maxUnavailable ?? .count(0)).resolve(total: desired, roundUp: false)
        // Both rounding to zero would forbid any progress; a surge of one always makes room.
        if surge <= 0, unavailable <= 0 { surge = 1 }

        let current = replicas.filter(\.isCurrent)
        let old = replicas.filter { !$0.isCurrent }
        var plan = RolloutPlan()

        if current.count > desired {
            plan.delete += removalOrder(current).prefix(current.count - desired).map(\.name)
        }
        guard !old.isEmpty else {
            plan.create = max(0, desired - current.count)
            return plan
        }

        let total = old.count + current.count
        plan.create = max(0, min(desired - current.count, desired + surge - total))

        // Old replicas that are not Ready serve nobody: they go at once.
        let unreadyOld = old.filter { !$0.isReady }
        plan.delete += removalOrder(unreadyOld).map(\.name)
        // Ready old ones go only while enough Ready replicas remain.
        let readyOld = old.filter(\.isReady)
        let ready = readyOld.count + current.filter(\.isReady).count
        let removable = min(readyOld.count, max(0, ready - (desired - unavailable)))
        plan.delete += removalOrder(readyOld).prefix(removable).map(\.name)
        return plan
    }

    /// Least useful first: failed, unscheduled, pending, starting, then Ready; within a state the
    /// fewest in-flight requests (the cheapest drain), then the least valuable prefix cache, then
    /// the newest (old replicas have warm caches). An unknown figure sorts as the largest, so a
    /// replica known to be idle goes before one that may be busy, and with no figures at all
    /// the order is by age.
    static func removalOrder(_ replicas: [ReplicaSnapshot]) -> [ReplicaSnapshot] {
        replicas.sorted { a, b in
            if a.state != b.state { return a.state < b.state }
            let inFlight = (a.inFlightRequests ?? .infinity, b.inFlightRequests ?? .infinity)
            if inFlight.0 != inFlight.1 { return inFlight.0 < inFlight.1 }
            let cache = (a.prefixCacheValue ?? .infinity, b.prefixCacheValue ?? .infinity)
            if cache.0 != cache.1 { return cache.0 < cache.1 }
            if a.age != b.age { return a.age > b.age }
            return a.name > b.name
        }
    }
}
