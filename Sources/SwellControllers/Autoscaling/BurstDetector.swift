/// Knative's panic mode for the queue: a burst starts when the short-window queue per Ready
/// replica exceeds `threshold ×` the QueueLength target, and ends only after it has stayed at or
/// below that for `hold`, so one quiet tick inside a burst does not let the count fall.
public struct BurstDetector: Sendable, Hashable {
    public var threshold: Double
    public var hold: Duration
    public private(set) var isActive = false
    private var calmSince: ContinuousClock.Instant?

    public init(threshold: Double = 2, hold: Duration = .seconds(10)) {
        self.threshold = threshold
        self.hold = hold
    }

    /// - Parameter perReplica: the short-window queue per Ready replica; nil (no data) counts as
    ///   calm.
    /// - Returns: whether a burst is in progress after this observation.
    @discardableResult
    public mutating func observe(perReplica: Double?, target: Double, now: ContinuousClock.Instant) -> Bool {
        if let perReplica, target > 0, perReplica > threshold * target {
            isActive = true
            calmSince = nil
        } else if isActive {
            let since = calmSince ?? now
            calmSince = since
            if now - since >= hold {
                isActive = false
                calmSince = nil
            }
        }
        return isActive
    }
}
