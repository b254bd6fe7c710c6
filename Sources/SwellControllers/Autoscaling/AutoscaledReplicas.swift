import SwellAPI

/// The replica count the InferenceService controller works towards: the autoscaler's decision
/// (`status.autoscaler.desiredReplicas`) for autoscaled services — until it has made one, the
/// count the service had (so turning autoscaling on does not drop replicas before the first
/// evaluation), or `minReplicas` for a new service — kept within the bounds (down to 0 with scale
/// to zero); `spec.replicas` for the others.
public struct AutoscaledReplicas: DesiredReplicasSource {
    public init() {}

    public func desiredReplicas(for service: InferenceService) -> Int {
        guard let autoscaling = service.spec.autoscaling else { return service.spec.replicas ?? 1 }
        let minimum = autoscaling.minReplicas ?? 1
        let floor = autoscaling.scaleToZero?.enabled == true ? 0 : minimum
        let decided = service.status?.autoscaler?.desiredReplicas ?? service.status?.desiredReplicas ?? minimum
        return min(max(decided, floor), autoscaling.maxReplicas)
    }
}
