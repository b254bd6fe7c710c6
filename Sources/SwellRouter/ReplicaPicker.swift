import SwellAPI

/// Chooses the replica for one request among those with room, by the service's policy. Pure:
/// the caller owns the counters and the in-flight numbers.
enum ReplicaPicker {
    struct Candidate: Sendable, Equatable {
        var name: String
        /// Requests the router has in flight on it.
        var inFlight: Int
        /// Its concurrency limit: it takes no new request at `inFlight == limit`.
        var limit: Int
        /// Of `inFlight`, those whose answer has not started: the replica is still computing
        /// (or queueing) their prompts.
        var starting = 0

        var hasRoom: Bool { inFlight < limit }
    }

    /// Why a replica was chosen, the `reason` label of `swell_router_routed_total`.
    enum Reason: String, Sendable, Equatable {
        /// prefix-affinity: the first replica in the key's ranking.
        case affinityHit = "affinity_hit"
        /// prefix-affinity: the preferred replica was over the load bound (or full); the next in
        /// the ranking under it was taken.
        case fallback
        /// prefix-affinity without a key (an empty prompt): least outstanding.
        case noKey = "no_key"
        case roundRobin = "round_robin"
        case leastOutstanding = "least_outstanding"
    }

    struct Choice: Sendable, Equatable {
        var name: String
        var reason: Reason
    }

    /// - Parameters:
    ///   - candidates: the service's routable replicas, with room or not.
    ///   - turn: a counter the caller increases per routed request (round-robin, tie breaks).
    ///   - key: the request's affinity hash, for prefix-affinity.
    /// - Returns: nil when no candidate has room.
    static func choose(policy: RoutingSpec.Policy, candidates: [Candidate], key: UInt64?, loadFactor: Double,
                       turn: Int) -> Choice? {
        let open = candidates.filter(\.hasRoom).sorted { $0.name < $1.name }
        guard !open.isEmpty else { return nil }
        switch policy {
        case .roundRobin:
            return Choice(name: open[turn % open.count].name, reason: .roundRobin)
        case .leastOutstanding:
            return Choice(name: leastOutstanding(open, turn: turn).name, reason: .leastOutstanding)
        case .prefixAffinity:
            guard let key else { return Choice(name: leastOutstanding(open, turn: turn).name, reason: .noKey) }
            let ranking = candidates.sorted { score(key, $0.name) > score(key, $1.name) }
            let bound = loadBound(candidates: candidates, loadFactor: loadFactor)
            let eligible = ranking.enumerated().filter { $0.element.hasRoom && $0.element.inFlight < bound }
            // A replica computes one long prompt at a time: one still busy starting an answer
            // makes a new prompt wait for it, so among the replicas under the bound the key's
            // ranking decides only between those starting the fewest.
            if let fewest = eligible.map(\.element.starting).min(),
               let (rank, candidate) = eligible.first(where: { $0.element.starting == fewest }) {
                return Choice(name: candidate.name, reason: rank == 0 ? .affinityHit : .fallback)
            }
            // Everyone with room is at the bound (only possible with a tiny factor): least loaded.
            return Choice(name: leastOutstanding(open, turn: turn).name, reason: .fallback)
        }
    }

    /// The bounded-load cap: `ceil(loadFactor × (in flight + 1) / replicas)`, counting the new
    /// request, so no replica takes more than `loadFactor` times its fair share.
    static func loadBound(candidates: [Candidate], loadFactor: Double) -> Int {
        let total = candidates.reduce(0) { $0 + $1.inFlight } + 1
        return Int((loadFactor * Double(total) / Double(max(1, candidates.count))).rounded(.up))
    }

    /// Rendezvous (highest random weight) score of a replica for a key: when a replica comes or
    /// goes, only the keys it ranked first for move.
    static func score(_ key: UInt64, _ replica: String) -> UInt64 {
        mix(key ^ mix(AffinityKey.fnv1a(replica.utf8)))
    }

    /// SplitMix64's finaliser: spreads the bits so nearby inputs score independently.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    private static func leastOutstanding(_ open: [Candidate], turn: Int) -> Candidate {
        let least = open.map(\.inFlight).min() ?? 0
        let tied = open.filter { $0.inFlight == least }
        return tied[turn % tied.count]
    }
}
