import SwellAPI

/// One evaluation of a service's autoscaling: what each metric proposes, the count to run, the
/// rule that produced or limited it, and all of that in plain words.
public struct ScalingEvaluation: Sendable, Hashable {
    public var currentReplicas: Int
    public var desiredReplicas: Int
    /// Per metric of the spec, in order (the steady values the normal path used).
    public var metrics: [MetricProposal]
    public var rule: ScalingRule
    /// e.g. "3 → 5: QueueLength 18 waiting across 3 ready replicas, target 4 per replica →
    /// ceil(3×6/4)=5; scale-up policy Percent 100/15s allows 6".
    public var message: String
    /// A burst (panic mode) is in progress.
    public var isBurst: Bool

    public var changesCount: Bool { desiredReplicas != currentReplicas }

    /// The per-metric figures for `status.autoscaler.currentMetrics`.
    public var metricValues: [MetricValue] {
        metrics.map { MetricValue(type: $0.type, current: $0.current, target: $0.target, proposedReplicas: $0.proposedReplicas) }
    }

    /// The evaluation as `status.autoscaler.lastDecision` (and an Event), stamped by the caller.
    public func decision(at time: Timestamp) -> ScalingDecision {
        ScalingDecision(time: time, fromReplicas: currentReplicas, toReplicas: desiredReplicas, reason: rule.rawValue,
                        message: message)
    }
}
