import Prometheus
import SwellAPI

/// The router's Prometheus metrics (`swell_router_…`). Counters and histograms are recorded as
/// requests end; the queue gauges are set from the gates at scrape time, so they never drift.
final class RouterMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    static let durationBuckets: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320,
    ]

    private static func name(_ metric: String, _ unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "swell", subsystem: "router", metricName: metric, unitName: unit, helpText: help)
    }

    /// `namespace` and `service` labels from a service key (`namespace/name`); empty for a
    /// request that named no known service.
    static func labels(_ key: String?) -> [(String, String)] {
        guard let key, let slash = key.firstIndex(of: "/") else { return [("namespace", ""), ("service", "")] }
        return [("namespace", String(key[..<slash])), ("service", String(key[key.index(after: slash)...]))]
    }

    /// - Parameter service: nil when the request never reached a service (bad body, unknown model):
    ///   counted, but kept out of the latency histograms.
    func requestEnded(service: String?, priority: RequestPriority, code: Int, seconds: Double, firstByteSeconds: Double?) {
        let labels = Self.labels(service)
        registry.makeCounter(descriptor: Self.name("requests", "total", "Requests answered, by service, priority class and HTTP status."),
                             labels: labels + [("priority", priority.description), ("code", String(code))]).increment()
        guard service != nil else { return }
        registry.makeValueHistogram(descriptor: Self.name("request_duration", "seconds", "From arrival at the router to the end of the response."),
                                    labels: labels, buckets: Self.durationBuckets).record(seconds)
        if let firstByteSeconds {
            registry.makeValueHistogram(descriptor: Self.name("time_to_first_byte", "seconds", "From arrival at the router to the first byte of the replica's response body."),
                                        labels: labels, buckets: Self.durationBuckets).record(firstByteSeconds)
        }
    }

    func routed(service: String, replica: String, reason: ReplicaPicker.Reason) {
        registry.makeCounter(descriptor: Self.name("routed", "total", "Requests sent to a replica, by why it was chosen."),
                             labels: Self.labels(service) + [("replica", replica), ("reason", reason.rawValue)]).increment()
    }

    func retried(service: String) {
        registry.makeCounter(descriptor: Self.name("retries", "total", "Requests sent again to another replica after one could not be reached."),
                             labels: Self.labels(service)).increment()
    }

    func shed(service: String, priority: RequestPriority) {
        registry.makeCounter(descriptor: Self.name("shed", "total", "Requests refused with 429 because their class's queue was full."),
                             labels: Self.labels(service) + [("priority", priority.description)]).increment()
    }

    /// Sets the per-service gauges from the gates' current state.
    func refresh(_ statistics: [String: ServiceGate.Statistics]) {
        for (service, stats) in statistics {
            let labels = Self.labels(service)
            for priority in RequestPriority.allCases {
                registry.makeGauge(descriptor: Self.name("queue_length", "", "Requests waiting in the router for a replica, by service and priority class."),
                                   labels: labels + [("priority", priority.description)])
                    .set(Double(stats.queued[priority] ?? 0))
            }
            registry.makeGauge(descriptor: Self.name("in_flight", "", "Requests the router has in flight on replicas, by service."),
                               labels: labels).set(Double(stats.inFlight))
            registry.makeGauge(descriptor: Self.name("routable_replicas", "", "Replicas that are Ready and not draining, by service."),
                               labels: labels).set(Double(stats.routableReplicas))
        }
    }

    func exposition() -> String {
        registry.emitToString()
    }
}
