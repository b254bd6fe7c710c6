import Prometheus
import Synchronization

/// The API server's own Prometheus metrics, on a registry owned by the server instance so that
/// several servers can live in one process (tests) without sharing counters.
final class APIMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let revision: Gauge
    private let watchGauges = Mutex<[String: Gauge]>([:])

    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    init() {
        revision = registry.makeGauge(descriptor: .init(namespace: "swell", subsystem: "store", metricName: "revision", unitName: "", helpText: "The store's newest revision."))
    }

    func recordRequest(verb: String, resource: String, code: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: .init(namespace: "swell", subsystem: "apiserver", metricName: "requests", unitName: "total", helpText: "API requests by verb, resource and HTTP code."),
            labels: [("verb", verb), ("resource", resource), ("code", String(code))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: .init(namespace: "swell", subsystem: "apiserver", metricName: "request_duration", unitName: "seconds", helpText: "API request latency (for watches: time to start streaming)."),
            labels: [("verb", verb), ("resource", resource)],
            buckets: Self.latencyBuckets
        ).record(duration)
    }

    func watchOpened(resource: String) { watchGauge(resource).increment() }

    func watchClosed(resource: String) { watchGauge(resource).decrement() }

    func setRevision(_ value: Int64) { revision.set(Double(value)) }

    func exposition() -> String { registry.emitToString() }

    private func watchGauge(_ resource: String) -> Gauge {
        watchGauges.withLock { gauges in
            if let gauge = gauges[resource] { return gauge }
            let gauge = registry.makeGauge(
                descriptor: .init(namespace: "swell", subsystem: "apiserver", metricName: "watches", unitName: "", helpText: "Open watch streams by resource."),
                labels: [("resource", resource)])
            gauges[resource] = gauge
            return gauge
        }
    }
}
