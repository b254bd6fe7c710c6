/// What the router knows of one service's demand: the requests it holds for the service and
/// when the last one arrived.
public struct ServiceDemand: Sendable, Hashable {
    /// Requests waiting in the router for a replica (every class together).
    public var queued: Double
    public var lastRequest: ContinuousClock.Instant?

    public init(queued: Double, lastRequest: ContinuousClock.Instant?) {
        self.queued = queued
        self.lastRequest = lastRequest
    }
}

/// The router's side of the QueueLength metric and of scale-to-zero; the key is the service's
/// `namespace/name`. nil: the router has not seen the service (or there is no router).
public protocol ServiceDemandSource: Sendable {
    func demand(for service: String) -> ServiceDemand?
}

public struct NoServiceDemand: ServiceDemandSource {
    public init() {}

    public func demand(for service: String) -> ServiceDemand? { nil }
}
