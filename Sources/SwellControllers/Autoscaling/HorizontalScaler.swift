import SwellAPI

/// The autoscaler's maths for one InferenceService, evaluated every tick by the caller, which
/// scrapes the inputs and applies the result. Pure: no I/O and no clock; `now` comes in.
///
/// Each evaluation:
/// 1. records the tick and averages each replica's values over `stableWindow` (the steady
///    values) and over `burstWindow` (the short-window ones);
/// 2. scale to zero (if enabled): idle for `idleSeconds` → 0; demand at 0 → `max(1, minReplicas)`
///    at once;
/// 3. a count outside `[minReplicas, maxReplicas]` is brought inside first, as HPA does;
/// 4. every metric proposes a count (`ReplicaCalculator`, HPA semantics); the highest wins; with
///    metrics missing the count may rise but never fall;
/// 5. the burst path: while the short-window queue per Ready replica is over `burstThreshold ×`
///    the QueueLength target, the short-window proposal counts too, the scale-up stabilization
///    window is skipped and nothing scales down, until it has been calm for `burstHold`;
/// 6. `behavior` (`ScalingStabilizer`): stabilization windows, then Pods/Percent policies, then
///    the bounds.
///
/// The history (recommendations, scale events, samples, burst state) lives in the value, so keep
/// one per service for as long as it is autoscaled.
public struct HorizontalScaler: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// The normal path scales on each replica's mean over this window.
        public var stableWindow: Duration
        /// The burst path watches the mean over this window; zero (the default) watches the latest
        /// evaluation alone, so a wake-up between ticks sees the queue as it is, not averaged with
        /// the calm tick before it.
        public var burstWindow: Duration
        /// A burst starts above `burstThreshold ×` the QueueLength target per Ready replica.
        public var burstThreshold: Double
        /// … and ends after the short-window value has stayed at or below that for this long.
        public var burstHold: Duration

        public init(stableWindow: Duration = .seconds(5), burstWindow: Duration = .zero, burstThreshold: Double = 2,
                    burstHold: Duration = .seconds(10)) {
            self.stableWindow = stableWindow
            self.burstWindow = burstWindow
            self.burstThreshold = burstThreshold
            self.burstHold = burstHold
        }
    }

    public let configuration: Configuration
    private var window = MetricWindow()
    private var stabilizer = ScalingStabilizer()
    private var burst: BurstDetector
    private var watchingSince: ContinuousClock.Instant?

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        burst = BurstDetector(threshold: configuration.burstThreshold, hold: configuration.burstHold)
    }

    /// - Parameters:
    ///   - current: the count the service is scaled to now (its last desired count, HPA's
    ///     `scale.spec.replicas`), not the number of replicas that happen to exist.
    ///   - inputs: this tick's observations.
    public mutating func evaluate(spec: AutoscalingSpec, current: Int, inputs: AutoscalerInputs,
                                  now: ContinuousClock.Instant) -> ScalingEvaluation {
        var spec = spec
        spec.applyDefaults()
        let since = watchingSince ?? now
        watchingSince = since
        window.record(inputs, at: now, retention: max(configuration.stableWindow, configuration.burstWindow))
        let steady = window.average(over: configuration.stableWindow, now: now, current: inputs)
        let tolerances = Tolerances(spec: spec)
        let metrics = (spec.metrics ?? []).map { metric in
            ReplicaCalculator.proposal(for: metric, current: current, replicas: steady.replicas,
                                       routerQueue: steady.routerQueue, tolerances: tolerances)
        }
        let clauses = metrics.map { ScalingExplanation.metric($0, tolerances: tolerances) }
        let burstProposal = observeBurst(spec: spec, current: current, inputs: inputs, tolerances: tolerances, now: now)

        func result(_ desired: Int, _ rule: ScalingRule, _ why: [String]) -> ScalingEvaluation {
            ScalingEvaluation(currentReplicas: current, desiredReplicas: desired, metrics: metrics, rule: rule,
                              message: "\(current) → \(desired): " + why.joined(separator: "; "), isBurst: burst.isActive)
        }
        func bypass(_ desired: Int, _ rule: ScalingRule, _ why: [String]) -> ScalingEvaluation {
            stabilizer.record(from: current, to: desired, at: now, spec: spec)
            return result(desired, rule, why)
        }

        let idleSeconds = spec.scaleToZero?.idleSeconds ?? 300
        switch ScaleToZeroRule.verdict(spec: spec.scaleToZero, current: current, inputs: inputs, watchingSince: since, now: now) {
        case .wake:
            let demand = (inputs.routerQueue ?? 0) > 0
                ? "\(ScalingExplanation.number(inputs.routerQueue ?? 0)) request(s) queued in the router"
                : "a request arrived"
            return bypass(max(1, spec.minReplicas ?? 1), .wakeUp, ["woken from zero: \(demand)"])
        case .idle(let lastActivity):
            let quiet = Int((now - lastActivity).components.seconds)
            let why = current == 0
                ? "idle at zero, no request for \(quiet)s; the router's demand wakes it"
                : "no request for \(quiet)s and nothing queued (scaleToZero.idleSeconds \(idleSeconds))"
            return bypass(0, .scaleToZero, [why])
        case .none:
            break
        }

        let minimum = spec.smallestServingCount
        if current > spec.maxReplicas {
            return bypass(spec.maxReplicas, .maxReplicas, ["above maxReplicas \(spec.maxReplicas)"] + clauses)
        }
        if current < minimum {
            return bypass(minimum, .minReplicas, ["below minReplicas \(minimum)"] + clauses)
        }

        let valid = metrics.compactMap(\.proposedReplicas)
        let steadyProposal = valid.max()
        guard let proposal = [steadyProposal, burstProposal?.replicas].compactMap({ $0 }).max() else {
            return result(current, .metricsUnavailable, clauses.isEmpty ? ["no metrics configured"] : clauses)
        }
        if valid.count < metrics.count, proposal < current {
            return result(current, .metricsUnavailable, clauses + ["not scaling down while a metric has no data"])
        }
        let drivenByBurst = proposal > (steadyProposal ?? 0)

        let decision = stabilizer.decide(proposal: proposal, current: current, spec: spec, now: now, burst: burst.isActive)
        var why = clauses
        if let burstProposal { why.append(burstProposal.clause) }
        var rule = decision.limit ?? .desiredWithinRange
        if decision.limit == nil {
            if drivenByBurst, decision.replicas > current {
                rule = .burst
            } else if metrics.allSatisfy({ $0.basis == .withinTolerance || $0.proposedReplicas == nil }) {
                rule = .tolerance
            }
        }
        if let limitText = limitClause(decision, rule: rule, spec: spec) { why.append(limitText) }
        if let allowance = decision.allowance, let policy = allowance.policy,
           rule != .scaleUpPolicy, rule != .scaleDownPolicy, decision.replicas != current {
            let direction = decision.replicas > current ? "scale-up" : "scale-down"
            why.append("\(direction) policy \(ScalingExplanation.policy(policy)) allows \(allowance.replicas)")
        }
        return result(decision.replicas, rule, why)
    }

    /// Feeds the burst detector; returns the short-window QueueLength proposal while the queue is
    /// over the threshold (nil otherwise, or without a QueueLength metric).
    private mutating func observeBurst(spec: AutoscalingSpec, current: Int, inputs: AutoscalerInputs,
                                       tolerances: Tolerances, now: ContinuousClock.Instant) -> (replicas: Int, clause: String)? {
        guard let metric = spec.metrics?.first(where: { $0.type == .queueLength }), let target = metric.targetPerReplica else {
            return nil
        }
        let short = window.average(over: configuration.burstWindow, now: now, current: inputs)
        let proposal = ReplicaCalculator.proposal(for: metric, current: current, replicas: short.replicas,
                                                  routerQueue: short.routerQueue, tolerances: tolerances)
        burst.observe(perReplica: proposal.current, target: target, now: now)
        guard let replicas = proposal.proposedReplicas, let perReplica = proposal.current,
              perReplica > configuration.burstThreshold * target else { return nil }
        let when = configuration.burstWindow == .zero ? "now"
            : "in the last \(ScalingExplanation.seconds(configuration.burstWindow))s"
        let clause = "burst: \(ScalingExplanation.number(perReplica)) waiting per ready replica \(when) is over "
            + "\(ScalingExplanation.number(configuration.burstThreshold))× the target → \(replicas), without the scale-up stabilization window"
        return (replicas, clause)
    }

    private func limitClause(_ decision: ScalingStabilizer.Decision, rule: ScalingRule, spec: AutoscalingSpec) -> String? {
        let window = decision.window ?? 0
        switch rule {
        case .scaleUpStabilized:
            return "scale-up stabilized: the lowest recommendation in the last \(window)s is \(decision.stabilized)"
        case .scaleDownStabilized:
            return "scale-down stabilized: the highest recommendation in the last \(window)s is \(decision.stabilized)"
        case .scaleUpPolicy, .scaleDownPolicy:
            let direction = rule == .scaleUpPolicy ? "scale-up" : "scale-down"
            let name = decision.allowance?.policy.map(ScalingExplanation.policy) ?? ""
            return "\(direction) policy \(name) allows \(decision.replicas)"
        case .disabled:
            return "\(decision.stabilized > decision.replicas ? "scale-up" : "scale-down") is disabled (selectPolicy Disabled)"
        case .maxReplicas:
            return "limited by maxReplicas \(spec.maxReplicas)"
        case .minReplicas:
            return "limited by minReplicas \(spec.smallestServingCount)"
        case .burst where decision.limit == .burst:
            return "burst: not scaling down until the queue has stayed at or below "
                + "\(ScalingExplanation.number(configuration.burstThreshold))× the target for \(ScalingExplanation.seconds(configuration.burstHold))s"
        case .burst, .desiredWithinRange, .tolerance, .metricsUnavailable, .scaleToZero, .wakeUp:
            return nil
        }
    }
}
