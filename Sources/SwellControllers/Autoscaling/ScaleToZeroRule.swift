import SwellAPI

/// When an autoscaled service with `scaleToZero.enabled` goes to zero replicas, and when it
/// comes back: after `idleSeconds` without a request and with nothing queued, it goes to 0; at 0,
/// any demand — the router holding a request, or a request newer than `idleSeconds` — wakes it at
/// once, before any metric could.
enum ScaleToZeroRule {
    enum Verdict: Sendable, Hashable {
        /// The rule has nothing to say; the metrics decide.
        case none
        /// Idle since the given instant: go to (or stay at) zero.
        case idle(since: ContinuousClock.Instant)
        /// Demand at zero: start replicas now.
        case wake
    }

    /// - Parameter watchingSince: when the autoscaler first saw the service, standing in for the
    ///   last request when none was ever seen, so a new service is not removed at once.
    static func verdict(spec: ScaleToZeroSpec?, current: Int, inputs: AutoscalerInputs,
                        watchingSince: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Verdict {
        guard spec?.enabled == true else { return .none }
        let idle = Duration.seconds(spec?.idleSeconds ?? 300)
        let queued = (inputs.routerQueue ?? 0) > 0 || inputs.replicas.contains { ($0.waitingRequests ?? 0) > 0 }
        let lastActivity = inputs.lastRequestAt ?? watchingSince
        let quietFor = now - lastActivity
        if current == 0 {
            let fresh = inputs.lastRequestAt.map { now - $0 < idle } ?? false
            return queued || fresh ? .wake : .idle(since: lastActivity)
        }
        return !queued && quietFor >= idle ? .idle(since: lastActivity) : .none
    }
}
