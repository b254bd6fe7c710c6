/// Kubernetes' crash-loop back-off: 10 s after the first crash, doubling to at most 5 min; a
/// replica that stays up for 10 min starts over.
public struct RestartBackoff: Sendable, Equatable {
    public var initial: Duration = .seconds(10)
    public var maximum: Duration = .seconds(300)
    public var resetAfter: Duration = .seconds(600)

    public init(initial: Duration = .seconds(10), maximum: Duration = .seconds(300), resetAfter: Duration = .seconds(600)) {
        self.initial = initial
        self.maximum = maximum
        self.resetAfter = resetAfter
    }

    /// The wait before restart number `restarts` (1 = the first restart).
    public func delay(restarts: Int) -> Duration {
        guard restarts > 1 else { return initial }
        var delay = initial
        for _ in 1..<min(restarts, 32) {
            delay = delay * 2
            if delay >= maximum { return maximum }
        }
        return delay
    }
}
