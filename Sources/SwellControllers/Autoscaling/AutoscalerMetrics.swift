import Prometheus
import Synchronization
import SwellAPI

/// `swell_autoscaler_…`: per service, the counts and metric values of the last evaluation and
/// counters of decisions and of the rules that limited them. Served on the API server's
/// `/metrics` with the rest of the control plane's.
public final class AutoscalerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let known = Mutex<Set<String>>([])

    public init() {}

    private static func name(_ metric: String, _ unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "swell", subsystem: "autoscaler", metricName: metric, unitName: unit, helpText: help)
    }

    // One descriptor per name: the registry insists on one help text per metric.
    private static var desired: MetricNameDescriptor { name("desired_replicas", "", "The replica count the autoscaler decided.") }
    private static var current: MetricNameDescriptor { name("current_replicas", "", "Replicas of the service that exist (not being deleted).") }
    private static var ready: MetricNameDescriptor { name("ready_replicas", "", "Replicas of the service that are Ready.") }
    private static var burst: MetricNameDescriptor { name("burst", "", "1 while the service is in burst (panic) mode.") }
    private static var metricValue: MetricNameDescriptor { name("metric_value", "", "The current value of each scaling metric (waiting per replica, percent of the CPU request, KV cache fraction).") }
    private static var metricTarget: MetricNameDescriptor { name("metric_target", "", "The target of each scaling metric.") }
    private static var decisions: MetricNameDescriptor { name("decisions", "total", "Recorded decisions, by direction (none: a rule held the count).") }
    private static var limited: MetricNameDescriptor { name("limited", "total", "Recorded decisions by the rule that produced or limited them.") }

    private static func labels(_ key: String) -> [(String, String)] {
        let (namespace, name) = InferenceServiceReconciler.split(key)
        return [("namespace", namespace ?? ""), ("service", name)]
    }

    func record(service key: String, evaluation: ScalingEvaluation, liveReplicas: Int, readyReplicas: Int) {
        known.withLock { _ = $0.insert(key) }
        let labels = Self.labels(key)
        registry.makeGauge(descriptor: Self.desired, labels: labels).set(Double(evaluation.desiredReplicas))
        registry.makeGauge(descriptor: Self.current, labels: labels).set(Double(liveReplicas))
        registry.makeGauge(descriptor: Self.ready, labels: labels).set(Double(readyReplicas))
        registry.makeGauge(descriptor: Self.burst, labels: labels).set(evaluation.isBurst ? 1.0 : 0.0)
        for proposal in evaluation.metrics {
            let metricLabels = labels + [("metric", proposal.type.rawValue)]
            if let value = proposal.current { registry.makeGauge(descriptor: Self.metricValue, labels: metricLabels).set(value) }
            registry.makeGauge(descriptor: Self.metricTarget, labels: metricLabels).set(proposal.target)
        }
    }

    func decided(service key: String, evaluation: ScalingEvaluation) {
        let labels = Self.labels(key)
        let direction = evaluation.desiredReplicas > evaluation.currentReplicas ? "up"
            : evaluation.desiredReplicas < evaluation.currentReplicas ? "down" : "none"
        registry.makeCounter(descriptor: Self.decisions, labels: labels + [("direction", direction)]).increment()
        if evaluation.rule != .desiredWithinRange {
            registry.makeCounter(descriptor: Self.limited, labels: labels + [("reason", evaluation.rule.rawValue)]).increment()
        }
    }

    /// The service is gone or no longer autoscaled: its gauges go too.
    func forget(service key: String) {
        guard known.withLock({ $0.remove(key) }) != nil else { return }
        let labels = Self.labels(key)
        for descriptor in [Self.desired, Self.current, Self.ready, Self.burst] {
            registry.unregisterGauge(registry.makeGauge(descriptor: descriptor, labels: labels))
        }
    }

    public func exposition() -> String { registry.emitToString() }
}
