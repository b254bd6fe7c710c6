import Foundation
import Prometheus
import SwellAPI
import Synchronization

/// The engine's Prometheus metrics (`swell_engine_…`, DESIGN.md §5) on a registry owned by the
/// server instance. Request-level histograms and counters are recorded as requests end; gauges
/// and the counters the engine keeps itself are refreshed from `ServingStatistics` at scrape.
final class EngineMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let lock = Mutex(())

    // vLLM's default buckets, so dashboards built for vLLM read these unchanged.
    static let timeToFirstTokenBuckets: [Double] = [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
        160.0, 640.0, 2560.0,
    ]
    static let interTokenBuckets: [Double] = [
        0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
    ]
    static let requestLatencyBuckets: [Double] = [
        0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0,
        1920.0, 7680.0,
    ]

    private let running: Gauge
    private let waiting: [RequestPriority: Gauge]
    private let kvUsage: Gauge
    private let draining: Gauge
    private let modelLoad: Gauge
    private let prefixQueries: Counter
    private let prefixHits: Counter
    private let generationTokens: Counter
    private let preemptions: Counter
    private let cpuSeconds: Counter
    let promptTokens: Counter
    let timeToFirstToken: ValueHistogram
    let interTokenLatency: ValueHistogram
    let endToEndLatency: ValueHistogram
    let queueTime: ValueHistogram

    init(modelLoadSeconds: Double) {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "swell", subsystem: "engine", metricName: metric, unitName: unit, helpText: help)
        }
        running = registry.makeGauge(descriptor: name("requests_running", "", "Requests being computed."))
        let registry = self.registry
        waiting = Dictionary(uniqueKeysWithValues: RequestPriority.allCases.map { priority in
            (priority, registry.makeGauge(descriptor: name("requests_waiting", "", "Requests waiting to be scheduled, by priority class."),
                                          labels: [("priority", priority.description)]))
        })
        kvUsage = registry.makeGauge(descriptor: name("kv_cache_usage_ratio", "", "KV cache blocks referenced by running requests, 0 to 1."))
        draining = registry.makeGauge(descriptor: name("draining", "", "1 while the engine drains and admits nothing new."))
        modelLoad = registry.makeGauge(descriptor: name("model_load", "seconds", "Time it took to load the model."))
        prefixQueries = registry.makeCounter(descriptor: name("prefix_cache_queries", "total", "Prompt tokens looked up in the prefix cache."))
        prefixHits = registry.makeCounter(descriptor: name("prefix_cache_hits", "total", "Prompt tokens found in the prefix cache."))
        promptTokens = registry.makeCounter(descriptor: name("prompt_tokens", "total", "Prompt tokens of admitted requests."))
        generationTokens = registry.makeCounter(descriptor: name("generation_tokens", "total", "Tokens generated."))
        preemptions = registry.makeCounter(descriptor: name("preemptions", "total", "Running requests preempted for KV cache space (recomputed later)."))
        cpuSeconds = registry.makeCounter(descriptor: name("cpu_seconds", "total", "CPU time of the engine process (user + system)."))
        timeToFirstToken = registry.makeValueHistogram(descriptor: name("time_to_first_token", "seconds", "From request arrival to the first generated token."), buckets: Self.timeToFirstTokenBuckets)
        interTokenLatency = registry.makeValueHistogram(descriptor: name("inter_token_latency", "seconds", "Time between consecutive generated tokens."), buckets: Self.interTokenBuckets)
        endToEndLatency = registry.makeValueHistogram(descriptor: name("e2e_request_latency", "seconds", "From request arrival to its last token."), buckets: Self.requestLatencyBuckets)
        queueTime = registry.makeValueHistogram(descriptor: name("request_queue_time", "seconds", "Time requests waited before first being scheduled."), buckets: Self.requestLatencyBuckets)
        modelLoad.set(Double(modelLoadSeconds))
    }

    func finished(_ reason: ServingFinishReason) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "swell", subsystem: "engine", metricName: "requests", unitName: "total",
                                             helpText: "Requests ended, by finish reason."),
            labels: [("finish_reason", reason.rawValue)]).increment()
    }

    func rejected(_ reason: String) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "swell", subsystem: "engine", metricName: "rejected", unitName: "total",
                                             helpText: "Requests refused before running, by reason (invalid, queue_full, draining)."),
            labels: [("reason", reason)]).increment()
    }

    /// The exposition text, with engine-owned values refreshed first.
    func exposition(_ statistics: ServingStatistics) -> String {
        lock.withLock { _ in
            running.set(Double(statistics.running))
            for (priority, gauge) in waiting { gauge.set(Double(statistics.waiting[priority] ?? 0)) }
            kvUsage.set(Double(statistics.kvCacheUsageRatio))
            draining.set(Double(statistics.draining ? 1 : 0))
            Self.set(prefixQueries, statistics.prefixCacheQueriedTokens)
            Self.set(prefixHits, statistics.prefixCacheHitTokens)
            Self.set(generationTokens, statistics.generatedTokens)
            Self.set(preemptions, statistics.preemptions)
            cpuSeconds.reset()
            cpuSeconds.increment(by: Self.processCPUSeconds())
            return registry.emitToString()
        }
    }

    private static func set(_ counter: Counter, _ value: Int) {
        counter.reset()
        counter.increment(by: Int64(value))
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
