import Foundation
import Testing
@testable import SwellLoad

@Suite("Report maths")
struct ReportTests {
    static let scenario = Scenario(name: "known", target: "http://127.0.0.1:8000", model: "chat",
                                   phases: [Phase(name: "steady", load: .open(.constant(rate: 10, seconds: 10, poisson: false)))])

    static func ok(_ priority: Priority, ttft: Double, e2e: Double, gaps: [Double] = [], at: Double = 0, scheduled: Double? = nil,
                   prompt: Int = 100, completion: Int = 10, cached: Int = 0) -> RequestResult {
        RequestResult(priority: priority, scheduledAt: scheduled ?? at, sentAt: at, outcome: .ok, ttft: ttft, interTokenGaps: gaps,
                      e2e: e2e, promptTokens: prompt, completionTokens: completion, cachedTokens: cached)
    }

    static func facts(_ scenario: Scenario = scenario, seconds: Double = 10) -> LoadRecorder.RunFacts {
        LoadRecorder.RunFacts(scenario: scenario, startedAt: Date(timeIntervalSince1970: 1_700_000_000), durationSeconds: seconds,
                              stoppedEarly: nil, phaseStarts: [0])
    }

    static func close(_ value: Double?, _ expected: Double, relative: Double = 0.001) -> Bool {
        guard let value else { return false }
        return abs(value - expected) <= expected * relative + 1e-6
    }

    @Test("percentiles of 1…1000 ms are within HDR precision (0.1%) of the exact nearest-rank values")
    func percentiles() {
        var recorder = LoadRecorder(slo: SLO())
        for millisecond in (1...1000).shuffled() {
            recorder.record(Self.ok(.standard, ttft: Double(millisecond) / 1000, e2e: Double(millisecond) / 500))
        }
        let report = recorder.report(Self.facts())
        let ttft = report.overall.ttft
        #expect(ttft.count == 1000)
        #expect(Self.close(ttft.p50, 0.500))
        #expect(Self.close(ttft.p90, 0.900))
        #expect(Self.close(ttft.p99, 0.990))
        #expect(Self.close(ttft.max, 1.000))
        #expect(Self.close(ttft.mean, 0.5005))
        #expect(Self.close(report.overall.e2e.p99, 1.980))
        #expect(report.classes["standard"]?.ttft == ttft)
        #expect(report.classes["critical"]?.ttft.count == 0)
        #expect(report.classes["critical"]?.ttft.p50 == nil)
    }

    @Test("outcomes are counted per class; rates leave cancelled requests out; tokens and cached share add up")
    func counts() {
        var recorder = LoadRecorder(slo: SLO())
        for index in 0..<6 { recorder.record(Self.ok(.critical, ttft: 0.1, e2e: 1, at: Double(index), prompt: 200, completion: 20, cached: 150)) }
        for index in 0..<3 { recorder.record(Self.ok(.batch, ttft: 0.3, e2e: 2, at: Double(index), prompt: 100, completion: 10)) }
        recorder.record(RequestResult(priority: .batch, scheduledAt: 1, sentAt: 1, outcome: .shed(retryAfter: 1), e2e: 0.01))
        recorder.record(RequestResult(priority: .batch, scheduledAt: 2, sentAt: 2, outcome: .shed(retryAfter: nil), e2e: 0.01))
        recorder.record(RequestResult(priority: .batch, scheduledAt: 3, sentAt: 3, outcome: .failed("HTTP 500: boom"), e2e: 0.02))
        recorder.record(RequestResult(priority: .batch, scheduledAt: 4, sentAt: 4, outcome: .cancelled, e2e: 0.5))
        let report = recorder.report(Self.facts())
        let batch = try! #require(report.classes["batch"])
        #expect(batch.requests == .init(sent: 7, ok: 3, failed: 1, shed: 2, cancelled: 1))
        #expect(batch.shedRate == 2.0 / 6)
        #expect(batch.errorRate == 1.0 / 6)
        #expect(batch.failures == [.init(reason: "HTTP 500: boom", count: 1)])
        #expect(report.classes["critical"]?.requests == .init(sent: 6, ok: 6, failed: 0, shed: 0, cancelled: 0))
        #expect(report.overall.requests == .init(sent: 13, ok: 9, failed: 1, shed: 2, cancelled: 1))
        #expect(report.tokens.prompt == 6 * 200 + 3 * 100)
        #expect(report.tokens.completion == 6 * 20 + 3 * 10)
        #expect(report.tokens.cached == 900)
        #expect(report.tokens.cachedShare == 900.0 / 1500)
        #expect(report.throughput.outputTokensPerSecond == 15)  // 150 tokens over 10 s
        #expect(report.classes["critical"]?.outputTokensPerSecond == 12)
        #expect(report.throughput.requestsPerSecond == 0.9)
    }

    @Test("open-loop lateness: how far behind schedule each request went out, and how many were 10 ms or more late")
    func lateness() {
        var recorder = LoadRecorder(slo: SLO())
        let delays = [0.0, 0.002, 0.009, 0.011, 0.050, 0.200]
        for (index, delay) in delays.enumerated() {
            recorder.record(Self.ok(.standard, ttft: 0.1, e2e: 0.5, at: Double(index) + delay, scheduled: Double(index)))
        }
        // A closed-loop request has no schedule and is not counted.
        recorder.record(Self.ok(.standard, ttft: 0.1, e2e: 0.5, at: 3, scheduled: -1))
        recorder.dropped()
        let generator = recorder.report(Self.facts()).generator
        #expect(generator.lateRequests == 3)
        #expect(generator.lateness.count == 6)
        #expect(Self.close(generator.lateness.max, 0.200))
        #expect(Self.close(generator.lateness.p50, 0.009))
        #expect(generator.notSent == 1)
    }

    @Test("SLO attainment: ok and within every target for the class (class targets override); failures count against it")
    func attainment() throws {
        let slo = SLO(targets: .init(ttft: 0.5, e2e: 5), classTargets: [.critical: .init(ttft: 0.2)])
        var recorder = LoadRecorder(slo: slo)
        recorder.record(Self.ok(.critical, ttft: 0.1, e2e: 1))      // meets
        recorder.record(Self.ok(.critical, ttft: 0.3, e2e: 1))      // misses the critical ttft of 200 ms
        recorder.record(Self.ok(.critical, ttft: 0.1, e2e: 6))      // misses the e2e of 5 s
        recorder.record(Self.ok(.standard, ttft: 0.3, e2e: 1))      // meets the general 500 ms
        recorder.record(RequestResult(priority: .standard, scheduledAt: 0, sentAt: 0, outcome: .shed(retryAfter: 1), e2e: 0))
        let report = recorder.report(Self.facts())
        #expect(report.classes["critical"]?.attainment == 1.0 / 3)
        #expect(report.classes["standard"]?.attainment == 0.5)
        #expect(report.overall.attainment == 2.0 / 5)
        #expect(report.classes["batch"]?.attainment == nil)  // nothing sent
        #expect(LoadRecorder(slo: SLO()).report(Self.facts()).overall.attainment == nil)
    }

    @Test("assertions pass and fail on the reported numbers, with nothing measured counting as a failure")
    func assertions() {
        let assertions = [
            Assertion(metric: .latency(.ttft, .p99), priority: .critical, bound: .atMost(0.5)),
            Assertion(metric: .latency(.ttft, .p99), bound: .atMost(0.5)),
            Assertion(metric: .errorRate, bound: .atMost(0.01)),
            Assertion(metric: .outputTokensPerSecond, bound: .atLeast(100)),
            Assertion(metric: .latency(.e2e, .max), priority: .batch, bound: .atMost(10)),
        ]
        var recorder = LoadRecorder(slo: SLO(assertions: assertions))
        recorder.record(Self.ok(.critical, ttft: 0.2, e2e: 1, completion: 50))
        recorder.record(Self.ok(.standard, ttft: 0.9, e2e: 1, completion: 50))
        let report = recorder.report(Self.facts(seconds: 1))
        #expect(report.slo.assertions.map(\.passed) == [true, false, true, true, false])
        #expect(report.slo.assertions[1].value.map { abs($0 - 0.9) < 0.001 } == true)
        #expect(report.slo.assertions[4].value == nil)
        #expect(report.slo.assertions[0].assertion == "critical ttft.p99 <= 500ms")
        #expect(report.slo.passed == false)
    }

    @Test("timeline: offered by due second, outcomes by finishing second, p99 TTFT by sending second, the last cluster sample")
    func timeline() {
        var recorder = LoadRecorder(slo: SLO())
        for due in [0.1, 0.5, 0.9, 1.2, 2.7] { recorder.offered(at: due) }
        recorder.record(Self.ok(.standard, ttft: 0.10, e2e: 0.5, at: 0.1))        // finishes at 0.6
        recorder.record(Self.ok(.standard, ttft: 0.30, e2e: 0.6, at: 0.5))        // 1.1
        recorder.record(Self.ok(.standard, ttft: 0.20, e2e: 0.5, at: 0.9))        // 1.4
        recorder.record(Self.ok(.standard, ttft: 0.40, e2e: 0.5, at: 1.2))        // 1.7
        recorder.record(RequestResult(priority: .batch, scheduledAt: 1.2, sentAt: 1.2, outcome: .shed(retryAfter: nil), e2e: 0.01))
        recorder.record(RequestResult(priority: .batch, scheduledAt: 2.7, sentAt: 2.7, outcome: .failed("x"), e2e: 0.1))
        recorder.observe(ClusterSample(readyReplicas: 1, desiredReplicas: 1, queueLength: 0), at: 0.2)
        recorder.observe(ClusterSample(readyReplicas: 1, desiredReplicas: 2, queueLength: 3), at: 1.3)
        let rows = recorder.timeline.rows
        #expect(rows.map(\.offered) == [3, 1, 1])
        #expect(rows.map(\.completed) == [1, 3, 0])
        #expect(rows.map(\.shed) == [0, 1, 0])
        #expect(rows.map(\.errors) == [0, 0, 1])
        #expect(rows.map(\.ttftP99) == [0.30, 0.40, nil])
        #expect(rows.map(\.desiredReplicas) == [1, 2, nil])
        #expect(recorder.timeline.csv == """
            second,offered,completed,errors,shed,ttft_p99_ms,ready_replicas,desired_replicas,queue_length
            0,3,1,0,0,300.0,1,1,0
            1,1,3,0,1,400.0,1,2,3
            2,1,0,1,0,,,,

            """)
    }

    @Test("the printed report has a row per class that sent something, the totals, and each assertion's verdict")
    func text() {
        var recorder = LoadRecorder(slo: SLO(assertions: [Assertion(metric: .errorRate, bound: .atMost(0))]))
        recorder.record(Self.ok(.critical, ttft: 0.25, e2e: 1.5))
        recorder.record(RequestResult(priority: .batch, scheduledAt: 0, sentAt: 0, outcome: .failed("HTTP 503: draining"), e2e: 0))
        let text = ReportText.render(recorder.report(Self.facts()))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("critical ") && $0.contains("   1   ") })
        #expect(!lines.contains { $0.hasPrefix("standard") })
        #expect(lines.contains { $0.hasPrefix("all ") })
        #expect(lines.contains { $0.contains("ttft") && $0.contains("250ms") })
        #expect(lines.contains("failed 1×: HTTP 503: draining"))
        #expect(lines.contains { $0.hasPrefix("SLO FAIL: errorRate <= 0") })
    }

    @Test("live progress: rates over the last five seconds, TTFT as first tokens arrive, replicas and queue when known")
    func progress() {
        var recorder = LoadRecorder(slo: SLO())
        for due in stride(from: 0.0, to: 10, by: 0.5) { recorder.offered(at: due) }
        recorder.firstToken(0.2)
        recorder.firstToken(0.4)
        recorder.record(Self.ok(.standard, ttft: 0.2, e2e: 1, at: 7))
        recorder.record(RequestResult(priority: .batch, scheduledAt: 8, sentAt: 8, outcome: .shed(retryAfter: 1), e2e: 0))
        let snapshot = recorder.progress(at: 10, inFlight: 3, phase: "spike",
                                         latest: ClusterSample(readyReplicas: 1, desiredReplicas: 2, queueLength: 4))
        #expect(snapshot.offeredRate == 2)        // 10 arrivals in the last 5 s
        #expect(snapshot.achievedRate == 0.2)     // one completion
        #expect(snapshot.shed == 1)
        #expect(Self.close(snapshot.ttftP99, 0.4))
        let line = ProgressLine.render(snapshot, plannedSeconds: 60)
        #expect(line == "   10s/60s  spike  offered 2.0/s done 0.2/s  in flight 3  ok 1  errors 0  shed 1  ttft p50 200ms p99 400ms  replicas 1/2  queue 4")
        let quiet = ProgressLine.render(recorder.progress(at: 11, inFlight: 0, phase: "x", latest: ClusterSample()), plannedSeconds: 60)
        #expect(!quiet.contains("replicas") && !quiet.contains("queue"))
    }
}
