/// How busy a replica is and how much its prefix cache is worth, for choosing which replica a
/// scale-down removes. A nil field is unknown.
public struct ReplicaLoad: Sendable, Hashable {
    /// Requests running or waiting in the engine.
    public var inFlightRequests: Double?
    /// What its prefix cache is worth keeping, larger = warmer (e.g. tokens held in cached
    /// prefix blocks, or KV cache usage).
    public var prefixCacheValue: Double?

    public init(inFlightRequests: Double? = nil, prefixCacheValue: Double? = nil) {
        self.inFlightRequests = inFlightRequests
        self.prefixCacheValue = prefixCacheValue
    }
}

/// Where the InferenceService controller learns replicas' load (the metrics pipeline scrapes
/// it); the key is the replica's `namespace/name`. Nil: unknown, and removal falls back to age.
public protocol ReplicaLoadSource: Sendable {
    func load(of replica: String) -> ReplicaLoad?
}

/// No load information: scale-down removes by readiness and age only.
public struct NoReplicaLoad: ReplicaLoadSource {
    public init() {}

    public func load(of replica: String) -> ReplicaLoad? { nil }
}
