import Histogram

/// Latencies in an HDR histogram at microsecond resolution with three significant digits, so
/// percentiles are within 0.1% of the exact ones however many requests a run sends.
public struct LatencyHistogram: Sendable {
    static let highestMicroseconds: UInt64 = 24 * 3600 * 1_000_000

    private var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: highestMicroseconds,
                                              numberOfSignificantValueDigits: .three)
    private var total = 0.0

    public init() {}

    public var count: Int { Int(histogram.totalCount) }

    public mutating func record(_ seconds: Double) {
        let microseconds = UInt64(Swift.max(1, Swift.min(Double(Self.highestMicroseconds), (seconds * 1e6).rounded())))
        _ = histogram.record(microseconds)
        total += seconds
    }

    public mutating func add(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
        total += other.total
    }

    /// The value at a percentile (0–100) in seconds, or nil when nothing was recorded.
    public func percentile(_ percentile: Double) -> Double? {
        guard count > 0 else { return nil }
        return Double(histogram.valueAtPercentile(percentile)) / 1e6
    }

    public var max: Double? { count > 0 ? Double(histogram.max) / 1e6 : nil }
    public var mean: Double? { count > 0 ? total / Double(count) : nil }

    public var summary: LatencySummary {
        LatencySummary(count: count, mean: mean, p50: percentile(50), p90: percentile(90), p99: percentile(99), max: max)
    }
}
