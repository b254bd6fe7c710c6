/// The rule that produced or limited an evaluation's result, written as `ScalingDecision.reason`
/// and counted in `swell_autoscaler_limited_total{reason}`.
public enum ScalingRule: String, Sendable, Hashable, CaseIterable {
    /// The metrics' proposal, unchanged by any limit.
    case desiredWithinRange = "DesiredWithinRange"
    /// Every metric is inside its tolerance.
    case tolerance = "Tolerance"
    /// No metric has data (or some lack it and the rest point down): the count stays.
    case metricsUnavailable = "MetricsUnavailable"
    /// Lower recommendations within the scale-up stabilization window hold the count down.
    case scaleUpStabilized = "ScaleUpStabilized"
    /// Higher recommendations within the scale-down stabilization window hold the count up.
    case scaleDownStabilized = "ScaleDownStabilized"
    case scaleUpPolicy = "ScaleUpPolicy"
    case scaleDownPolicy = "ScaleDownPolicy"
    /// `selectPolicy: Disabled` for the direction the metrics point to.
    case disabled = "Disabled"
    case maxReplicas = "MaxReplicas"
    case minReplicas = "MinReplicas"
    /// The short-window queue is over the burst threshold: scaled up at once, or held from
    /// scaling down.
    case burst = "Burst"
    /// Idle for `scaleToZero.idleSeconds` (or still idle at zero).
    case scaleToZero = "ScaleToZero"
    /// Demand arrived while at zero.
    case wakeUp = "WakeUp"
}
