/// Per-key exponential backoff, as client-go's `ItemExponentialFailureRateLimiter`: the n-th
/// consecutive failure of a key waits `base × 2ⁿ⁻¹`, capped at `max`, until the key is forgotten.
public struct ItemBackoff<Key: Hashable & Sendable>: Sendable {
    public let base: Duration
    public let max: Duration
    private var failures: [Key: Int] = [:]

    /// client-go's defaults: 5 ms doubling to 1000 s.
    public init(base: Duration = .milliseconds(5), max: Duration = .seconds(1000)) {
        precondition(base > .zero && max >= base, "backoff needs 0 < base <= max")
        self.base = base
        self.max = max
    }

    /// Records a failure and returns how long the key should wait.
    public mutating func nextDelay(for key: Key) -> Duration {
        let exponent = failures[key, default: 0]
        failures[key] = exponent + 1
        // Past 2^40 × base every sane cap has been reached; stop doubling before overflow.
        if exponent >= 40 { return max }
        let delay = base * (1 << exponent)
        return delay > max ? max : delay
    }

    public func failureCount(of key: Key) -> Int { failures[key, default: 0] }

    public mutating func forget(_ key: Key) { failures[key] = nil }
}
