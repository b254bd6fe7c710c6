import Logging
import Synchronization
import SwellAPI
import SwellClient

/// Runs each autoscaled InferenceService's `HorizontalScaler` once per tick: gathers the inputs
/// (every replica's scraped engine metrics, the router's queue and last request), evaluates,
/// and writes the outcome to `status.autoscaler` — the count (`desiredReplicas`, which the
/// InferenceService controller then carries out), the current metrics, and each decision that
/// changes or refuses to change the count, with an Event.
///
/// Level-based like every reconciler here: it requeues itself every tick while the service is
/// autoscaled; the router's demand signal wakes it at once.
public final class AutoscalerReconciler: Reconciler {
    struct ServiceState {
        var scaler: HorizontalScaler
        var lastEvaluation: ContinuousClock.Instant?
        var lastMetricsWrite: ContinuousClock.Instant?
        var lastRecorded: ScalingDecision?
    }

    let client: APIClient
    let services: ObjectCache<InferenceService>
    let replicas: ObjectCache<Replica>
    let collector: ReplicaMetricsCollector
    let demand: any ServiceDemandSource
    let events: EventRecorder
    let metrics: AutoscalerMetrics
    let tick: Duration
    let configuration: HorizontalScaler.Configuration
    /// Decisions kept in `status.autoscaler.recentDecisions`.
    static let recentDecisionLimit = 10
    /// How often the current metric values alone are written to status.
    static let metricsWriteInterval: Duration = .seconds(5)
    private let state = Mutex<[String: ServiceState]>([:])
    private let woken = Mutex<Set<String>>([])
    private let logger: Logger

    public init(client: APIClient, services: ObjectCache<InferenceService>, replicas: ObjectCache<Replica>,
                collector: ReplicaMetricsCollector, demand: any ServiceDemandSource, events: EventRecorder,
                metrics: AutoscalerMetrics, tick: Duration = .seconds(1),
                configuration: HorizontalScaler.Configuration = HorizontalScaler.Configuration(),
                logger: Logger = Logger(label: "swell.autoscaler")) {
        self.client = client
        self.services = services
        self.replicas = replicas
        self.collector = collector
        self.demand = demand
        self.events = events
        self.metrics = metrics
        self.tick = tick
        self.configuration = configuration
        self.logger = logger
    }

    /// The next reconcile of `key` evaluates at once, even mid-tick (the router saw demand).
    public func markWoken(_ key: String) {
        _ = woken.withLock { $0.insert(key) }
    }

    public func reconcile(key: String) async throws -> ReconcileResult {
        guard let service = services.get(key), let autoscaling = service.spec.autoscaling, !service.metadata.isBeingDeleted else {
            state.withLock { _ = $0.removeValue(forKey: key) }
            metrics.forget(service: key)
            if var service = services.get(key), service.spec.autoscaling == nil, service.status?.autoscaler != nil {
                // Autoscaling was turned off: an old decision must not come back if it is turned on again.
                service.status?.autoscaler = nil
                _ = try? await client.updateStatus(service)
            }
            return .done
        }
        let now = ContinuousClock.now
        let wokenNow = woken.withLock { $0.remove(key) != nil }
        if !wokenNow, let last = state.withLock({ $0[key]?.lastEvaluation }), now - last < tick * 0.9 {
            return .requeue(after: tick - (now - last)) // an informer event between ticks: keep the pace
        }

        let live = replicas.list().filter { replica in
            replica.metadata.namespace == service.metadata.namespace && replica.spec.serviceName == service.metadata.name
                && !replica.metadata.isBeingDeleted && replica.status?.phase != .failed && replica.status?.phase != .succeeded
                && (service.metadata.uid == nil || replica.metadata.controllerReference?.uid == service.metadata.uid)
        }
        let demand = demand.demand(for: key)
        let engineActivity = live.compactMap { collector.readings(of: $0, now: now)?.lastActivity }.max()
        let inputs = AutoscalerInputs(
            replicas: live.map { replicaMetrics($0, now: now) },
            routerQueue: demand?.queued,
            lastRequestAt: [demand?.lastRequest, engineActivity].compactMap { $0 }.max())
        let current = service.status?.autoscaler?.desiredReplicas ?? AutoscaledReplicas().desiredReplicas(for: service)

        let (evaluation, recorded, metricsDue) = state.withLock { states in
            var entry = states[key] ?? ServiceState(scaler: HorizontalScaler(configuration: configuration))
            let evaluation = entry.scaler.evaluate(spec: autoscaling, current: current, inputs: inputs, now: now)
            entry.lastEvaluation = now
            let due = entry.lastMetricsWrite.map { now - $0 >= Self.metricsWriteInterval } ?? true
            let recorded = entry.lastRecorded ?? service.status?.autoscaler?.lastDecision
            states[key] = entry
            return (evaluation, recorded, due)
        }
        metrics.record(service: key, evaluation: evaluation, liveReplicas: live.count,
                       readyReplicas: live.filter { $0.status?.phase == .ready }.count)

        let decision = Self.decisionWorthRecording(evaluation, spec: autoscaling, after: recorded)
        if decision != nil || metricsDue || service.status?.autoscaler?.desiredReplicas == nil {
            try await write(evaluation, decision: decision, to: key)
            state.withLock { states in
                states[key]?.lastMetricsWrite = now
                if let decision { states[key]?.lastRecorded = decision }
            }
            if let decision {
                metrics.decided(service: key, evaluation: evaluation)
                logger.info("autoscaler decision", metadata: ["service": "\(key)", "decision": "\(decision.message)"])
                if evaluation.changesCount {
                    await events.normal(service, reason: "SuccessfulRescale", message: decision.message)
                } else {
                    await events.normal(service, reason: decision.reason, message: decision.message)
                }
            }
        }
        return .requeue(after: tick)
    }

    /// A decision goes to status and Events when it changes the count, or when a rule holds the
    /// count where the metrics (within the bounds) want another one, or caps it below what they
    /// want — once per distinct (from, to, rule), not every tick. Sitting at `minReplicas` while
    /// idle is the normal state, not a refusal.
    static func decisionWorthRecording(_ evaluation: ScalingEvaluation, spec: AutoscalingSpec,
                                       after last: ScalingDecision?) -> ScalingDecision? {
        let decision = evaluation.decision(at: .now())
        if evaluation.changesCount { return decision }
        let current = evaluation.currentReplicas
        let proposal = evaluation.metrics.compactMap(\.proposedReplicas).max()
        let wanted = proposal.map { min(max($0, spec.smallestServingCount), spec.maxReplicas) }
        let held = wanted.map { $0 != current } ?? false
        let capped = (proposal ?? 0) > spec.maxReplicas && current == spec.maxReplicas
        guard held || capped || evaluation.rule == .metricsUnavailable else { return nil }
        if let last, last.fromReplicas == decision.fromReplicas, last.toReplicas == decision.toReplicas,
           last.reason == decision.reason {
            return nil
        }
        return decision
    }

    private func replicaMetrics(_ replica: Replica, now: ContinuousClock.Instant) -> ReplicaMetrics {
        let isReady = replica.status?.phase == .ready
        guard let readings = collector.readings(of: replica, now: now) else {
            return ReplicaMetrics(name: replica.metadata.name, isReady: isReady)
        }
        let cores = Double(replica.spec.resources?.cpuRequest?.millis ?? 1000) / 1000
        let cpu = readings.previous.flatMap { EngineReading.cpuUtilization(from: $0, to: readings.latest, cores: cores) }
        return ReplicaMetrics(name: replica.metadata.name, isReady: isReady, cpuUtilization: cpu,
                              waitingRequests: readings.latest.waiting, kvCacheUsage: readings.latest.kvCacheUsage)
    }

    /// Writes `status.autoscaler`, re-reading the service on a conflict (the InferenceService
    /// controller writes the same status) so the decision is never lost to a race.
    private func write(_ evaluation: ScalingEvaluation, decision: ScalingDecision?, to key: String) async throws {
        let (namespace, name) = InferenceServiceReconciler.split(key)
        var service = services.get(key)
        for attempt in 1...4 {
            guard var target = service else { return }
            var status = target.status ?? InferenceServiceStatus()
            var autoscaler = status.autoscaler ?? AutoscalerStatus()
            autoscaler.desiredReplicas = evaluation.desiredReplicas
            autoscaler.currentMetrics = evaluation.metricValues
            autoscaler.burst = evaluation.isBurst
            if let decision {
                autoscaler.lastDecision = decision
                autoscaler.recentDecisions = Array(((autoscaler.recentDecisions ?? []) + [decision]).suffix(Self.recentDecisionLimit))
                if evaluation.changesCount { autoscaler.lastScaleTime = decision.time }
            }
            status.autoscaler = autoscaler
            target.status = status
            do {
                _ = try await client.updateStatus(target)
                return
            } catch let error as Status where error.code == 409 && attempt < 4 {
                service = try await client.get(InferenceService.self, namespace: namespace, name: name)
            } catch let error as Status where error.code == 404 {
                return
            }
        }
    }
}
