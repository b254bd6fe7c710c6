import SwellAPI
import SwellClient

/// What one scrape of an engine's `/metrics` said, at the moment it was taken.
public struct EngineReading: Sendable, Equatable {
    public var time: ContinuousClock.Instant
    /// `swell_engine_requests_waiting`, every priority together.
    public var waiting: Double
    public var running: Double
    public var kvCacheUsage: Double
    /// `swell_engine_cpu_seconds_total`: user + system time of the engine process, from its /proc.
    public var cpuSeconds: Double
    /// `swell_engine_requests_total` (every finish reason) plus `swell_engine_rejected_total`:
    /// it moves whenever a request reaches the engine, with or without the router.
    public var requestsSeen: Double
    /// `swell_engine_prefix_cache_hits_total`, in tokens.
    public var prefixCacheHits: Double

    public init(time: ContinuousClock.Instant, waiting: Double, running: Double, kvCacheUsage: Double, cpuSeconds: Double,
                requestsSeen: Double, prefixCacheHits: Double = 0) {
        self.time = time
        self.waiting = waiting
        self.running = running
        self.kvCacheUsage = kvCacheUsage
        self.cpuSeconds = cpuSeconds
        self.requestsSeen = requestsSeen
        self.prefixCacheHits = prefixCacheHits
    }

    public enum ParseFailure: Error, Equatable, CustomStringConvertible {
        case exposition(PrometheusParseError)
        case missing(String)

        public var description: String {
            switch self {
            case .exposition(let error): "not Prometheus text: \(error)"
            case .missing(let name): "the engine exposes no \(name)"
            }
        }
    }

    /// Reads the engine's exposition; every gauge the autoscaler relies on must be there.
    public init(exposition text: String, at time: ContinuousClock.Instant) throws(ParseFailure) {
        let exposition: PrometheusExposition
        do {
            exposition = try PrometheusExposition(parsing: text)
        } catch {
            throw .exposition(error)
        }
        func required(_ name: String) throws(ParseFailure) -> Double {
            guard let value = exposition.sum(name) else { throw .missing(name) }
            return value
        }
        self.init(time: time, waiting: try required("swell_engine_requests_waiting"),
                  running: try required("swell_engine_requests_running"),
                  kvCacheUsage: try required("swell_engine_kv_cache_usage_ratio"),
                  cpuSeconds: try required("swell_engine_cpu_seconds_total"),
                  requestsSeen: (exposition.sum("swell_engine_requests_total") ?? 0) + (exposition.sum("swell_engine_rejected_total") ?? 0),
                  prefixCacheHits: exposition.sum("swell_engine_prefix_cache_hits_total") ?? 0)
    }

    /// CPU use between two readings, in percent of `cores` (the replica's CPU request, or one
    /// core without one); nil when the readings do not span time or the counter went back (a
    /// restarted engine).
    public static func cpuUtilization(from earlier: EngineReading, to later: EngineReading, cores: Double) -> Double? {
        let seconds = (later.time - earlier.time).inSeconds
        let used = later.cpuSeconds - earlier.cpuSeconds
        guard seconds > 0, used >= 0, cores > 0 else { return nil }
        return used / seconds / cores * 100
    }
}
