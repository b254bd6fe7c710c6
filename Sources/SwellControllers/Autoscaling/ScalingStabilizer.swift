import SwellAPI

/// HPA v2 `behavior` for one service: stabilization windows over the recommendation history and
/// Pods/Percent policies over the record of past scale events (horizontal.go's
/// `stabilizeRecommendationWithBehaviors` and `convertDesiredReplicasWithBehaviorRate`).
///
/// It owns that history, so it lives as long as the service is autoscaled; `decide` assumes the
/// count it returns is applied and records it as a scale event.
public struct ScalingStabilizer: Sendable {
    struct Recommendation: Sendable, Hashable {
        var replicas: Int
        var at: ContinuousClock.Instant
    }

    struct ScaleEvent: Sendable, Hashable {
        var change: Int
        var at: ContinuousClock.Instant
    }

    /// What the policies of the direction being scaled would allow, for the explanation.
    public struct Allowance: Sendable, Hashable {
        public var replicas: Int
        /// The policy that gives `replicas` (the one selectPolicy chose); nil when disabled.
        public var policy: ScalingPolicy?
        public var isDisabled: Bool
    }

    public struct Decision: Sendable, Hashable {
        public var replicas: Int
        /// The proposal after the stabilization windows, before the policies.
        public var stabilized: Int
        /// The rule that changed the proposal; nil when it passed unchanged.
        public var limit: ScalingRule?
        /// The stabilization window that applied, in seconds, when `limit` is a stabilization.
        public var window: Int?
        public var allowance: Allowance?
    }

    var recommendations: [Recommendation]
    var scaleUpEvents: [ScaleEvent]
    var scaleDownEvents: [ScaleEvent]
    /// HPA records the current count as the first recommendation, so a restarted controller does
    /// not scale down before a full window of its own observations.
    private var seeded: Bool

    public init() {
        self.init(recommendations: [], scaleUpEvents: [], scaleDownEvents: [], seeded: false)
    }

    init(recommendations: [Recommendation], scaleUpEvents: [ScaleEvent] = [], scaleDownEvents: [ScaleEvent] = [],
         seeded: Bool = true) {
        self.recommendations = recommendations
        self.scaleUpEvents = scaleUpEvents
        self.scaleDownEvents = scaleDownEvents
        self.seeded = seeded
    }

    /// - Parameter burst: in a burst the scale-up window is skipped and no scale-down happens;
    ///   the policies still cap the step.
    public mutating func decide(proposal: Int, current: Int, spec: AutoscalingSpec, now: ContinuousClock.Instant,
                                burst: Bool = false) -> Decision {
        var spec = spec
        spec.applyDefaults()
        let up = spec.behavior?.scaleUp ?? ScalingRules()
        let down = spec.behavior?.scaleDown ?? ScalingRules()
        if !seeded {
            if recommendations.isEmpty { recommendations.append(Recommendation(replicas: current, at: now)) }
            seeded = true
        }

        // Stabilize: the lowest recommendation of the up window, the highest of the down window.
        let upWindow = burst ? 0 : up.stabilizationWindowSeconds ?? 0
        let downWindow = down.stabilizationWindowSeconds ?? 300
        var upBound = proposal
        var downBound = proposal
        for recommendation in recommendations {
            if recommendation.at > now - .seconds(upWindow) { upBound = min(upBound, recommendation.replicas) }
            if recommendation.at > now - .seconds(downWindow) { downBound = max(downBound, recommendation.replicas) }
        }
        var stabilized = max(current, upBound)
        stabilized = min(stabilized, downBound)
        var limit: ScalingRule?
        var window: Int?
        if stabilized != proposal {
            limit = proposal >= current ? .scaleUpStabilized : .scaleDownStabilized
            window = proposal >= current ? upWindow : downWindow
        }
        if burst, stabilized < current {
            stabilized = current
            limit = .burst
            window = nil
        }
        let horizon = now - .seconds(max(upWindow, downWindow, up.stabilizationWindowSeconds ?? 0))
        recommendations.removeAll { $0.at <= horizon }
        recommendations.append(Recommendation(replicas: proposal, at: now))

        // Rate-limit by the policies, then bound by min/max.
        var replicas = stabilized
        var allowance: Allowance?
        let minimum = spec.smallestServingCount
        if stabilized > current {
            let allowed = scaleUpLimit(current: current, rules: up, now: now)
            allowance = allowed
            let cap = max(allowed.replicas, current)
            if spec.maxReplicas > cap, stabilized > cap {
                replicas = cap
                limit = allowed.isDisabled ? .disabled : .scaleUpPolicy
            } else if spec.maxReplicas <= cap, stabilized > spec.maxReplicas {
                replicas = spec.maxReplicas
                limit = .maxReplicas
            }
        } else if stabilized < current {
            let allowed = scaleDownLimit(current: current, rules: down, now: now)
            allowance = allowed
            let floor = min(allowed.replicas, current)
            if minimum < floor, stabilized < floor {
                replicas = floor
                limit = allowed.isDisabled ? .disabled : .scaleDownPolicy
            } else if minimum >= floor, stabilized < minimum {
                replicas = minimum
                limit = .minReplicas
            }
        }
        record(from: current, to: replicas, at: now, spec: spec)
        return Decision(replicas: replicas, stabilized: stabilized, limit: limit, window: window, allowance: allowance)
    }

    /// Records a change of the count made outside `decide` (bounds, scale to zero, wake-up), so
    /// the policies account for it.
    public mutating func record(from current: Int, to replicas: Int, at now: ContinuousClock.Instant, spec: AutoscalingSpec) {
        guard replicas != current else { return }
        let up = longestPeriod(spec.behavior?.scaleUp)
        let down = longestPeriod(spec.behavior?.scaleDown)
        scaleUpEvents.removeAll { $0.at <= now - .seconds(up) }
        scaleDownEvents.removeAll { $0.at <= now - .seconds(down) }
        if replicas > current {
            scaleUpEvents.append(ScaleEvent(change: replicas - current, at: now))
        } else {
            scaleDownEvents.append(ScaleEvent(change: current - replicas, at: now))
        }
    }

    /// The most replicas the scale-up policies allow now: per policy, the count at the start of
    /// its period (current − added + removed within it) plus the policy's step; Max picks the
    /// largest, Min the smallest.
    func scaleUpLimit(current: Int, rules: ScalingRules, now: ContinuousClock.Instant) -> Allowance {
        guard rules.selectPolicy != .disabled else { return Allowance(replicas: current, policy: nil, isDisabled: true) }
        var best: (replicas: Int, policy: ScalingPolicy)?
        for policy in rules.policies ?? [] {
            let start = periodStart(current: current, policy: policy, now: now)
            let proposed = switch policy.type {
            case .pods: start + policy.value
            // Rounded up, or a small count could never grow.
            case .percent: Int((Double(start) * (1 + Double(policy.value) / 100)).rounded(.up))
            }
            if let chosen = best {
                let better = rules.selectPolicy == .min ? proposed < chosen.replicas : proposed > chosen.replicas
                if better { best = (proposed, policy) }
            } else {
                best = (proposed, policy)
            }
        }
        return Allowance(replicas: best?.replicas ?? Int.max, policy: best?.policy, isDisabled: false)
    }

    /// The fewest replicas the scale-down policies allow now; Max picks the biggest step (the
    /// lowest count), Min the smallest.
    func scaleDownLimit(current: Int, rules: ScalingRules, now: ContinuousClock.Instant) -> Allowance {
        guard rules.selectPolicy != .disabled else { return Allowance(replicas: current, policy: nil, isDisabled: true) }
        var best: (replicas: Int, policy: ScalingPolicy)?
        for policy in rules.policies ?? [] {
            let start = periodStart(current: current, policy: policy, now: now)
            let proposed = switch policy.type {
            case .pods: start - policy.value
            case .percent: Int(Double(start) * (1 - Double(policy.value) / 100))
            }
            if let chosen = best {
                let better = rules.selectPolicy == .min ? proposed > chosen.replicas : proposed < chosen.replicas
                if better { best = (proposed, policy) }
            } else {
                best = (proposed, policy)
            }
        }
        return Allowance(replicas: best?.replicas ?? Int.min, policy: best?.policy, isDisabled: false)
    }

    private func periodStart(current: Int, policy: ScalingPolicy, now: ContinuousClock.Instant) -> Int {
        let cutoff = now - .seconds(policy.periodSeconds)
        let added = scaleUpEvents.filter { $0.at > cutoff }.reduce(0) { $0 + $1.change }
        let removed = scaleDownEvents.filter { $0.at > cutoff }.reduce(0) { $0 + $1.change }
        return current - added + removed
    }

    private func longestPeriod(_ rules: ScalingRules?) -> Int {
        (rules?.policies ?? []).map(\.periodSeconds).max() ?? 0
    }
}

extension AutoscalingSpec {
    /// The fewest replicas the metrics may ask for: `minReplicas`, but at least 1 while scale
    /// to zero is enabled, since only the idle rule may take a service to zero.
    var smallestServingCount: Int {
        let minimum = minReplicas ?? 1
        return scaleToZero?.enabled == true ? max(1, minimum) : minimum
    }
}
