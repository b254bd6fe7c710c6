import AsyncHTTPClient
import Foundation
import SwellAPI
import Synchronization

/// One run of a scenario: sends its requests on schedule, samples the cluster once a second,
/// reports progress, and folds every result into a `LoadRecorder`. Bounded by the scenario's
/// limits; `interrupt()` ends it early and the report covers what happened until then.
public final class LoadRun: Sendable {
    public struct Outcome: Sendable {
        public var report: LoadReport
        public var timeline: Timeline
    }

    private struct State: Sendable {
        var recorder: LoadRecorder
        var factory: RequestFactory
        var sent = 0
        var inFlight = 0
        var phase = ""
        var stoppedEarly: String?
        var latest = ClusterSample()
        var driver: Task<Void, Never>?
        var interrupted = false
    }

    public let scenario: Scenario
    private let client: CompletionClient
    private let observer: ClusterObserver?
    private let onProgress: @Sendable (ProgressSnapshot) -> Void
    private let state: Mutex<State>
    private let clock = ContinuousClock()

    /// `runTag` makes user prompts unique to this run (default: the start time).
    public init(scenario: Scenario, http: HTTPClient, observer: ClusterObserver?, runTag: String? = nil,
                onProgress: @escaping @Sendable (ProgressSnapshot) -> Void = { _ in }) {
        self.scenario = scenario
        client = CompletionClient(http: http, baseURL: scenario.target, api: scenario.requests.api,
                                  timeoutSeconds: scenario.limits.requestTimeoutSeconds)
        self.observer = observer
        self.onProgress = onProgress
        let tag = runTag ?? String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36)
        state = Mutex(State(recorder: LoadRecorder(slo: scenario.slo),
                            factory: RequestFactory(mix: scenario.requests, model: scenario.model, seed: scenario.seed, runTag: tag)))
    }

    /// An HTTP client sized for the scenario: one connection per request in flight.
    public static func makeHTTPClient(for scenario: Scenario) -> HTTPClient {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10)))
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, scenario.limits.maxInFlight)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Stops sending, cancels the requests in flight, and lets `run()` return its partial report.
    public func interrupt() {
        let driver = state.withLock { state in
            state.interrupted = true
            if state.stoppedEarly == nil { state.stoppedEarly = "interrupted" }
            return state.driver
        }
        driver?.cancel()
    }

    public func run() async -> Outcome {
        let start = clock.now
        let startedAt = Date()
        let phaseStarts = scenario.phases.indices.map { index in scenario.phases[..<index].reduce(0) { $0 + $1.seconds } }
        let driver = Task { await self.drive(start: start, phaseStarts: phaseStarts) }
        let alreadyInterrupted = state.withLock { state in
            state.driver = driver
            return state.interrupted
        }
        if alreadyInterrupted { driver.cancel() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.sampleLoop(start: start) }
            group.addTask { await self.progressLoop(start: start) }
            group.addTask { await self.deadline(start: start, driver: driver) }
            await driver.value
            group.cancelAll()
        }
        let elapsed = seconds(since: start)
        return state.withLock { state in
            let facts = LoadRecorder.RunFacts(scenario: scenario, startedAt: startedAt, durationSeconds: elapsed,
                                              stoppedEarly: state.stoppedEarly, phaseStarts: phaseStarts)
            return Outcome(report: state.recorder.report(facts), timeline: state.recorder.timeline)
        }
    }

    // MARK: Driving

    private func drive(start: ContinuousClock.Instant, phaseStarts: [Double]) async {
        await withTaskGroup(of: Void.self) { requests in
            for (index, phase) in scenario.phases.enumerated() where !Task.isCancelled {
                state.withLock { $0.phase = phase.name }
                let phaseStart = phaseStarts[index]
                switch phase.load {
                case .open(let process):
                    var random = SeededRandom(seed: scenario.seed).derived("arrivals-\(index)")
                    let offsets = ArrivalSchedule.offsets(process, random: &random)
                    let rows: [TraceRow]? = if case .trace(let rows, _, _) = process { rows } else { nil }
                    for (arrival, offset) in offsets.enumerated() {
                        let due = phaseStart + offset
                        guard (try? await clock.sleep(until: start + .seconds(due))) != nil else { break }
                        guard let spec = admit(at: due, replaying: rows?[arrival]) else {
                            if state.withLock({ $0.stoppedEarly != nil }) { break }
                            continue
                        }
                        requests.addTask { await self.send(spec, phase: index, scheduledAt: due, start: start) }
                    }
                case .closed(let users, let think, let seconds):
                    let end = phaseStart + seconds
                    for _ in 0..<users {
                        requests.addTask { await self.user(phase: index, until: end, think: think, start: start) }
                    }
                }
                if state.withLock({ $0.stoppedEarly != nil }) { break }
                // The next phase starts on time, whatever is still in flight.
                _ = try? await clock.sleep(until: start + .seconds(phaseStart + phase.seconds))
            }
            await requests.waitForAll()
        }
    }

    /// A closed-loop user: request, wait for the answer, think, repeat until the phase ends.
    private func user(phase: Int, until end: Double, think: Double, start: ContinuousClock.Instant) async {
        while !Task.isCancelled, seconds(since: start) < end {
            let now = seconds(since: start)
            guard let spec = admit(at: now, replaying: nil) else { return }
            await send(spec, phase: phase, scheduledAt: -1, start: start)
            if think > 0 { _ = try? await clock.sleep(for: .seconds(think)) }
        }
    }

    /// Counts the arrival as offered and takes a slot for it, or says why it cannot be sent.
    private func admit(at due: Double, replaying row: TraceRow?) -> RequestSpec? {
        state.withLock { state in
            state.recorder.offered(at: due)
            if state.sent >= scenario.limits.maxRequests {
                if state.stoppedEarly == nil { state.stoppedEarly = "maxRequests" }
                return nil
            }
            guard state.inFlight < scenario.limits.maxInFlight else {
                state.recorder.dropped()
                return nil
            }
            state.sent += 1
            state.inFlight += 1
            if let row { return state.factory.next(replaying: row) }
            return state.factory.next()
        }
    }

    private func send(_ spec: RequestSpec, phase: Int, scheduledAt: Double, start: ContinuousClock.Instant) async {
        let sentAt = seconds(since: start)
        let measured = await client.send(spec) { ttft in
            state.withLock { $0.recorder.firstToken(ttft) }
        }
        let result = RequestResult(priority: spec.priority, phase: phase, scheduledAt: scheduledAt, sentAt: sentAt,
                                   outcome: measured.outcome, ttft: measured.ttft, interTokenGaps: measured.interTokenGaps,
                                   e2e: measured.e2e, promptTokens: measured.promptTokens,
                                   completionTokens: measured.completionTokens, cachedTokens: measured.cachedTokens)
        state.withLock { state in
            state.inFlight -= 1
            state.recorder.record(result)
        }
    }

    // MARK: Beside the requests

    private func sampleLoop(start: ContinuousClock.Instant) async {
        guard let observer else { return }
        while !Task.isCancelled {
            let sample = await observer.sample()
            let now = seconds(since: start)
            state.withLock { state in
                state.latest = sample
                state.recorder.observe(sample, at: now)
            }
            _ = try? await clock.sleep(for: .seconds(1))
        }
    }

    private func progressLoop(start: ContinuousClock.Instant) async {
        while !Task.isCancelled {
            guard (try? await clock.sleep(for: .seconds(1))) != nil else { return }
            let now = seconds(since: start)
            let snapshot = state.withLock { state in
                state.recorder.progress(at: now, inFlight: state.inFlight, phase: state.phase, latest: state.latest)
            }
            onProgress(snapshot)
        }
    }

    /// Ends the run at `limits.maxDuration`, whatever is still going on.
    private func deadline(start: ContinuousClock.Instant, driver: Task<Void, Never>) async {
        guard (try? await clock.sleep(until: start + .seconds(scenario.limits.maxSeconds))) != nil else { return }
        state.withLock { state in
            if state.stoppedEarly == nil { state.stoppedEarly = "maxDuration" }
        }
        driver.cancel()
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        (clock.now - start).inSeconds
    }
}
