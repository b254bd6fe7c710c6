import Foundation

/// Everything a run has measured so far, folded in as results arrive: the source of the final
/// report, the timeline, and the live progress line. Pure: it is told the time, it never looks.
public struct LoadRecorder: Sendable {
    /// Lateness at or above this counts a request as late.
    public static let lateThreshold = 0.010

    struct ClassTotals: Sendable {
        var sent = 0
        var ok = 0
        var failed = 0
        var shed = 0
        var cancelled = 0
        var met = 0
        var ttft = LatencyHistogram()
        var interToken = LatencyHistogram()
        var e2e = LatencyHistogram()
        var promptTokens = 0
        var outputTokens = 0
        var cachedTokens = 0
        var failures: [String: Int] = [:]

        mutating func add(_ other: ClassTotals) {
            sent += other.sent
            ok += other.ok
            failed += other.failed
            shed += other.shed
            cancelled += other.cancelled
            met += other.met
            ttft.add(other.ttft)
            interToken.add(other.interToken)
            e2e.add(other.e2e)
            promptTokens += other.promptTokens
            outputTokens += other.outputTokens
            cachedTokens += other.cachedTokens
            failures.merge(other.failures, uniquingKeysWith: +)
        }
    }

    struct Second: Sendable {
        var offered = 0
        var completed = 0
        var errors = 0
        var shed = 0
        var ttfts: [Double] = []
        var sample = ClusterSample()
    }

    public let slo: SLO
    private(set) var classes: [Priority: ClassTotals] = [:]
    private var seconds: [Second] = []
    private var lateness = LatencyHistogram()
    private var lateRequests = 0
    private var notSent = 0
    private var phaseSent: [Int: Int] = [:]
    /// Completions and arrivals of the last few seconds, for the live rates.
    private var recentCompletions: [Double] = []
    private var recentOffers: [Double] = []
    /// Every first token so far, as it arrives (the report only counts successful requests).
    private var liveTTFT = LatencyHistogram()

    public init(slo: SLO) {
        self.slo = slo
    }

    private mutating func bucket(_ time: Double) -> Int {
        let index = max(0, Int(time.rounded(.down)))
        while seconds.count <= index { seconds.append(Second()) }
        return index
    }

    /// An open-loop arrival became due at `time` (whether or not it could be sent).
    public mutating func offered(at time: Double) {
        seconds[bucket(time)].offered += 1
        recentOffers.append(time)
    }

    /// A streamed request got its first token after `ttft` seconds.
    public mutating func firstToken(_ ttft: Double) {
        liveTTFT.record(ttft)
    }

    /// An arrival was dropped because too many requests were outstanding.
    public mutating func dropped() {
        notSent += 1
    }

    public mutating func record(_ result: RequestResult) {
        var totals = classes[result.priority] ?? ClassTotals()
        totals.sent += 1
        phaseSent[result.phase, default: 0] += 1
        if result.scheduledAt >= 0 {
            lateness.record(result.lateness)
            if result.lateness >= Self.lateThreshold { lateRequests += 1 }
        }
        let second = bucket(result.finishedAt)
        let sentSecond = bucket(result.sentAt)
        switch result.outcome {
        case .ok:
            totals.ok += 1
            totals.e2e.record(result.e2e)
            if let ttft = result.ttft {
                totals.ttft.record(ttft)
                seconds[sentSecond].ttfts.append(ttft)
            }
            for gap in result.interTokenGaps { totals.interToken.record(gap) }
            totals.promptTokens += result.promptTokens
            totals.outputTokens += result.completionTokens
            totals.cachedTokens += result.cachedTokens
            if Self.meets(result, slo.targets(for: result.priority)) { totals.met += 1 }
            seconds[second].completed += 1
            recentCompletions.append(result.finishedAt)
        case .shed:
            totals.shed += 1
            seconds[second].shed += 1
        case .failed(let reason):
            totals.failed += 1
            totals.failures[reason, default: 0] += 1
            seconds[second].errors += 1
        case .cancelled:
            totals.cancelled += 1
        }
        classes[result.priority] = totals
    }

    /// The cluster as sampled at `time`; the last sample of a second stands for it.
    public mutating func observe(_ sample: ClusterSample, at time: Double) {
        seconds[bucket(time)].sample = sample
    }

    /// A request attains its SLO when it succeeded within every target: time to first token,
    /// mean gap between chunks, and end-to-end latency.
    static func meets(_ result: RequestResult, _ targets: SLO.Targets) -> Bool {
        guard result.outcome == .ok else { return false }
        if let target = targets.ttft, (result.ttft ?? result.e2e) > target { return false }
        if let target = targets.interToken, !result.interTokenGaps.isEmpty,
           result.interTokenGaps.reduce(0, +) / Double(result.interTokenGaps.count) > target { return false }
        if let target = targets.e2e, result.e2e > target { return false }
        return true
    }

    // MARK: Views

    public var timeline: Timeline {
        Timeline(rows: seconds.enumerated().map { index, second in
            TimelineRow(second: index, offered: second.offered, completed: second.completed, errors: second.errors,
                        shed: second.shed, ttftP99: Timeline.percentile(second.ttfts, 99),
                        readyReplicas: second.sample.readyReplicas, desiredReplicas: second.sample.desiredReplicas,
                        queueLength: second.sample.queueLength)
        })
    }

    /// The live view at `time`.
    public mutating func progress(at time: Double, inFlight: Int, phase: String, latest sample: ClusterSample) -> ProgressSnapshot {
        recentCompletions.removeAll { $0 < time - 5 }
        recentOffers.removeAll { $0 < time - 5 }
        let totals = classes.values.reduce(into: ClassTotals()) { $0.add($1) }
        let window = min(5, max(time, 0.001))
        return ProgressSnapshot(elapsed: time, phase: phase, sent: totals.sent, inFlight: inFlight, ok: totals.ok,
                                failed: totals.failed, shed: totals.shed, offeredRate: Double(recentOffers.count) / window,
                                achievedRate: Double(recentCompletions.count) / window,
                                ttftP50: liveTTFT.percentile(50), ttftP99: liveTTFT.percentile(99), cluster: sample)
    }

    public struct RunFacts: Sendable {
        public var scenario: Scenario
        public var startedAt: Date
        public var durationSeconds: Double
        public var stoppedEarly: String?
        /// Phase start offsets in seconds.
        public var phaseStarts: [Double]

        public init(scenario: Scenario, startedAt: Date, durationSeconds: Double, stoppedEarly: String?, phaseStarts: [Double]) {
            self.scenario = scenario
            self.startedAt = startedAt
            self.durationSeconds = durationSeconds
            self.stoppedEarly = stoppedEarly
            self.phaseStarts = phaseStarts
        }
    }

    public func report(_ facts: RunFacts) -> LoadReport {
        let wall = max(facts.durationSeconds, 1e-9)
        func summary(_ totals: ClassTotals, targets: SLO.Targets?) -> ClassReport {
            let decided = totals.sent - totals.cancelled
            return ClassReport(
                requests: .init(sent: totals.sent, ok: totals.ok, failed: totals.failed, shed: totals.shed, cancelled: totals.cancelled),
                ttft: totals.ttft.summary, interToken: totals.interToken.summary, e2e: totals.e2e.summary,
                outputTokens: totals.outputTokens, outputTokensPerSecond: Double(totals.outputTokens) / wall,
                attainment: targets == nil || decided == 0 ? nil : Double(totals.met) / Double(decided),
                errorRate: decided == 0 ? nil : Double(totals.failed) / Double(decided),
                shedRate: decided == 0 ? nil : Double(totals.shed) / Double(decided),
                failures: totals.failures.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(5)
                    .map { ClassReport.Failure(reason: $0.key, count: $0.value) })
        }
        let hasTargets = !slo.targets.isEmpty || slo.classTargets.values.contains { !$0.isEmpty }
        let all = classes.values.reduce(into: ClassTotals()) { $0.add($1) }
        var byClass: [String: ClassReport] = [:]
        for priority in Priority.allCases {
            byClass[priority.rawValue] = summary(classes[priority] ?? ClassTotals(), targets: hasTargets ? slo.targets(for: priority) : nil)
        }
        let overall = summary(all, targets: hasTargets ? slo.targets : nil)
        let scenario = facts.scenario
        let phases = scenario.phases.enumerated().map { index, phase in
            let process = switch phase.load {
            case .open(let arrivals): arrivals.kind
            case .closed: "closed"
            }
            return LoadReport.PhaseReport(name: phase.name, process: process,
                                          startSeconds: index < facts.phaseStarts.count ? facts.phaseStarts[index] : 0,
                                          plannedSeconds: phase.seconds, sent: phaseSent[index] ?? 0)
        }
        var report = LoadReport(
            scenario: scenario.name, target: scenario.target, model: scenario.model,
            startedAt: ISO8601DateFormatter().string(from: facts.startedAt), durationSeconds: facts.durationSeconds,
            plannedSeconds: scenario.plannedSeconds, stoppedEarly: facts.stoppedEarly, overall: overall, classes: byClass,
            throughput: .init(requestsPerSecond: Double(all.ok) / wall, outputTokensPerSecond: Double(all.outputTokens) / wall,
                              promptTokensPerSecond: Double(all.promptTokens) / wall),
            tokens: .init(prompt: all.promptTokens, completion: all.outputTokens, cached: all.cachedTokens,
                          cachedShare: all.promptTokens > 0 ? Double(all.cachedTokens) / Double(all.promptTokens) : nil),
            generator: .init(lateRequests: lateRequests, lateness: lateness.summary, notSent: notSent),
            phases: phases,
            slo: .init(targets: .init(ttft: slo.targets.ttft, interToken: slo.targets.interToken, e2e: slo.targets.e2e),
                       assertions: [], passed: true))
        report.slo.assertions = slo.assertions.map { SLOCheck.evaluate($0, in: report) }
        report.slo.passed = report.slo.assertions.allSatisfy(\.passed)
        return report
    }
}

/// What the progress line shows.
public struct ProgressSnapshot: Sendable, Equatable {
    public var elapsed: Double
    public var phase: String
    public var sent: Int
    public var inFlight: Int
    public var ok: Int
    public var failed: Int
    public var shed: Int
    /// Arrivals due per second over the last five seconds.
    public var offeredRate: Double
    /// Successful completions per second over the last five seconds.
    public var achievedRate: Double
    /// Time to first token of every request that has had one so far.
    public var ttftP50: Double?
    public var ttftP99: Double?
    public var cluster: ClusterSample
}
