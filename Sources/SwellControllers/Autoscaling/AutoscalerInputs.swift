/// What the autoscaler knows about one replica at one tick. A nil value is missing or stale
/// (the scrape failed or is too old): the calculator then treats it as Kubernetes' HPA treats a
/// pod without metrics, never as zero load.
public struct ReplicaMetrics: Sendable, Hashable {
    public var name: String
    /// Phase Ready (the engine answers /ready and is not draining).
    public var isReady: Bool
    /// Percent of the replica's CPU request (of one core when it has none).
    public var cpuUtilization: Double?
    /// Requests waiting in the engine's queue, all priorities together.
    public var waitingRequests: Double?
    /// Used fraction of the KV cache, 0...1.
    public var kvCacheUsage: Double?

    public init(name: String, isReady: Bool, cpuUtilization: Double? = nil, waitingRequests: Double? = nil,
                kvCacheUsage: Double? = nil) {
        self.name = name
        self.isReady = isReady
        self.cpuUtilization = cpuUtilization
        self.waitingRequests = waitingRequests
        self.kvCacheUsage = kvCacheUsage
    }
}

/// One tick's observations of a service, as the caller scraped them.
public struct AutoscalerInputs: Sendable, Hashable {
    /// The service's live replicas: not being deleted, not Failed or Succeeded.
    public var replicas: [ReplicaMetrics]
    /// Requests the router holds for the service (waiting for a replica or for admission);
    /// nil when the router has not reported.
    public var routerQueue: Double?
    /// When the router last received a request for the service; nil: none seen yet.
    public var lastRequestAt: ContinuousClock.Instant?

    public init(replicas: [ReplicaMetrics], routerQueue: Double? = nil, lastRequestAt: ContinuousClock.Instant? = nil) {
        self.replicas = replicas
        self.routerQueue = routerQueue
        self.lastRequestAt = lastRequestAt
    }
}
