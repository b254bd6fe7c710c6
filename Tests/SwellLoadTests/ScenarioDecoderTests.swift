import Foundation
import Testing
@testable import SwellLoad

@Suite("Scenario files")
struct ScenarioDecoderTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let scenarios = repository.appendingPathComponent("manifests/scenarios")

    static func decode(_ text: String, files: [String: String] = [:]) throws(ScenarioError) -> Scenario {
        try ScenarioDecoder.decode(text, source: "dir/s.yaml") { path in
            guard let text = files[path] else { throw CocoaError(.fileNoSuchFile) }
            return text
        }
    }

    static func problems(_ text: String) -> [String] {
        do {
            _ = try decode(text)
            return []
        } catch {
            return error.problems
        }
    }

    @Test("every scenario under manifests/scenarios decodes", arguments: [
        "steady.yaml", "burst.yaml", "diurnal-ramp.yaml", "priority-overload.yaml", "shared-system-prompt.yaml", "trace-replay.yaml",
    ])
    func shipped(file: String) throws {
        let path = Self.scenarios.appendingPathComponent(file).path
        let scenario = try ScenarioDecoder.decode(try String(contentsOfFile: path, encoding: .utf8), source: path)
        #expect(scenario.model == "chat")
        #expect(!scenario.phases.isEmpty)
        #expect(scenario.plannedSeconds > 0 && scenario.plannedSeconds <= 600)
        #expect(TargetAddress.isLoopback(scenario.target))
    }

    @Test("the burst scenario's spike is three times its base rate, and the overload mix is 10/60/30")
    func shippedContents() throws {
        let burst = try ScenarioDecoder.decode(try String(contentsOf: Self.scenarios.appendingPathComponent("burst.yaml"), encoding: .utf8),
                                               source: "burst.yaml")
        let rates = burst.phases.map { phase -> Double in
            guard case .open(.constant(let rate, _, true)) = phase.load else { return 0 }
            return rate
        }
        #expect(rates == [0.6, 1.8, 0.6])
        let overload = try ScenarioDecoder.decode(
            try String(contentsOf: Self.scenarios.appendingPathComponent("priority-overload.yaml"), encoding: .utf8), source: "p.yaml")
        #expect(overload.requests.priorities == [.critical: 0.1, .standard: 0.6, .batch: 0.3])
        #expect(overload.slo.classTargets[.critical]?.ttft == 1.5)
        #expect(overload.slo.assertions.first == Assertion(metric: .latency(.ttft, .p99), priority: .critical, bound: .atMost(3)))
    }

    @Test("every field of a full scenario lands where it belongs")
    func full() throws {
        let scenario = try Self.decode("""
            name: full
            target: http://[::1]:8000/
            model: m
            seed: 9
            requests:
              api: completion
              stream: false
              priorityVia: header
              priorities: {critical: 1, batch: 3}
              promptTokens: {distribution: exponential, mean: 50, max: 400}
              outputTokens: 8
              systemPrompts: {count: 3, tokens: 100, zipf: 1}
            phases:
              - arrivals: {process: step, steps: [{rate: 1, duration: 10s}, {rate: 2, duration: 1m}]}
              - name: users
                duration: 1m30s
                users: {count: 4, thinkTime: 500ms}
              - arrivals: {process: trace, file: t.csv}
                duration: 2s
            slo:
              targets: {ttft: 250ms, interToken: 50ms, e2e: 4}
              assertions: [{metric: shedRate, priority: batch, max: 0.5}, {metric: requestsPerSecond, min: 1}]
            limits: {maxRequests: 50, maxDuration: 5m, maxInFlight: 8, requestTimeout: 30s}
            """, files: ["dir/t.csv": "offset,prompt_tokens,output_tokens,priority\n0,10,5,batch\n1.5,20,6\n3,30,7,critical\n"])
        #expect(scenario.name == "full")
        #expect(scenario.target == "http://[::1]:8000/")
        #expect(scenario.seed == 9)
        #expect(scenario.requests == RequestMix(api: .completion, stream: false, priorities: [.critical: 1, .batch: 3],
                                                priorityPlacement: .header,
                                                promptTokens: .exponential(mean: 50, min: 1, max: 400), outputTokens: .fixed(8),
                                                systemPrompts: SystemPrompts(count: 3, tokens: 100, popularity: [1, 0.5, 1.0 / 3])))
        #expect(scenario.phases[0] == Phase(name: "phase 1", load: .open(.steps([RateStep(rate: 1, seconds: 10), RateStep(rate: 2, seconds: 60)],
                                                                               poisson: false))))
        #expect(scenario.phases[1] == Phase(name: "users", load: .closed(users: 4, thinkSeconds: 0.5, seconds: 90)))
        #expect(scenario.phases[2] == Phase(name: "phase 3", load: .open(.trace([
            TraceRow(offset: 0, promptTokens: 10, outputTokens: 5, priority: .batch),
            TraceRow(offset: 1.5, promptTokens: 20, outputTokens: 6, priority: .standard),
        ], speed: 1, source: "dir/t.csv"))))
        #expect(scenario.slo.targets == SLO.Targets(ttft: 0.25, interToken: 0.05, e2e: 4))
        #expect(scenario.slo.assertions == [Assertion(metric: .shedRate, priority: .batch, bound: .atMost(0.5)),
                                            Assertion(metric: .requestsPerSecond, bound: .atLeast(1))])
        #expect(scenario.limits == Limits(maxRequests: 50, maxSeconds: 300, maxInFlight: 8, requestTimeoutSeconds: 30))
        #expect(scenario.plannedSeconds == 70 + 90 + 1.5)
    }

    @Test("bad scenarios list every problem at its line and field", arguments: [
        ("model: m\nphases: [{duration: 5s, arrivals: {process: constant, rate: 1}}]\nextra: 1", ["dir/s.yaml:3: extra: unknown field \"extra\" (expected one of: name, target, model, seed, requests, phases, slo, limits)"]),
        ("phases: [{duration: 5s, arrivals: {process: constant, rate: 1}}]", ["dir/s.yaml:1: model: required"]),
        ("model: m\nphases:\n  - duration: 5s\n    arrivals: {process: constant, rate: 0}",
         ["dir/s.yaml:4: phases[0].arrivals.rate: must be more than 0 (got 0)"]),
        ("model: m\nphases:\n  - duration: soon\n    arrivals: {process: poisson, rate: 1}",
         ["dir/s.yaml:3: phases[0].duration: must be a duration such as 30s, 250ms or 2m (got \"soon\")"]),
        ("model: m\nphases:\n  - arrivals: {process: poisson, rate: 1}", ["dir/s.yaml:3: phases[0].duration: required for a poisson process"]),
        ("model: m\nphases:\n  - duration: 5s\n    arrivals: {process: wave}",
         ["dir/s.yaml:4: phases[0].arrivals.process: must be one of constant, poisson, step, ramp, spike, trace (got \"wave\")"]),
        ("model: m\nphases:\n  - duration: 5s\n    arrivals: {process: poisson, rate: 1, from: 2}",
         ["dir/s.yaml:4: phases[0].arrivals.from: does not apply to a poisson process (it takes rate)"]),
        ("model: m\nphases:\n  - duration: 10s\n    arrivals: {process: spike, rate: 1, start: 8s, length: 5s}",
         ["dir/s.yaml:4: phases[0].arrivals.length: the spike (start 8s + length 5s) ends after the phase (10s)"]),
        ("model: m\nphases: []", ["dir/s.yaml:2: phases: must be a non-empty list of phases"]),
        ("model: m\ntarget: ftp://x\nphases: [{duration: 1s, users: {count: 1}}]",
         ["dir/s.yaml:2: target: must be an http:// or https:// URL with a host (got \"ftp://x\")"]),
        ("model: m\nrequests:\n  priorities: {urgent: 1}\n  outputTokens: {distribution: uniform, min: 9}\nphases: [{duration: 1s, users: {count: 1}}]",
         ["dir/s.yaml:3: requests.priorities.urgent: unknown field \"urgent\" (expected one of: critical, standard, batch)",
          "dir/s.yaml:3: requests.priorities: at least one class needs a share above 0",
          "dir/s.yaml:4: requests.outputTokens: a uniform distribution needs min and max"]),
        ("model: m\nphases: [{duration: 1s, users: {count: 1}}]\nslo:\n  assertions:\n    - {metric: ttft.p95, max: 1s}\n    - {metric: errorRate}",
         ["dir/s.yaml:5: slo.assertions[0].metric: unknown metric \"ttft.p95\" (one of: ttft.p50, ttft.p90, ttft.p99, ttft.max, "
            + "interToken.p50, interToken.p90, interToken.p99, interToken.max, e2e.p50, e2e.p90, e2e.p99, e2e.max, attainment, "
            + "errorRate, shedRate, outputTokensPerSecond, requestsPerSecond)",
          "dir/s.yaml:6: slo.assertions[1]: give exactly one of max or min"]),
        ("model: m\nphases: [{duration: 1s, users: {count: 1}}]\nlimits: {maxRequests: 0, maxDuration: 48h}",
         ["dir/s.yaml:3: limits.maxRequests: must be at least 1 (got 0)", "dir/s.yaml:3: limits.maxDuration: must be at most 24h"]),
        ("model: m\nphases:\n  - arrivals: {process: trace, file: missing.csv}",
         ["dir/s.yaml:3: phases[0].arrivals.file: cannot read dir/missing.csv: no such file"]),
        ("model: [m\n", ["dir/s.yaml:2:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 1)"]),
    ])
    func rejects(text: String, expected: [String]) {
        #expect(Self.problems(text) == expected)
    }

    @Test("trace files: header, comments, durations; bad rows named by line", arguments: [
        ("0,1,1\n0.5,2,3,critical\n", nil),
        ("offset,prompt_tokens,output_tokens\n# note\n\n1s,4,4\n", nil),
        ("0,1\n", "t.csv:1: expected 3 or 4 columns (offset,prompt_tokens,output_tokens[,priority]), found 2"),
        ("1,1,1\n0.5,1,1\n", "t.csv:2: offset 0.5 is earlier than the previous row's; rows must be in time order"),
        ("0,0,1\n", "t.csv:1: prompt_tokens \"0\" must be an integer of 1 or more"),
        ("0,1,1,urgent\n", "t.csv:1: priority \"urgent\" must be one of critical, standard, batch"),
        ("# nothing\n", "t.csv:1: the trace has no rows"),
    ] as [(String, String?)])
    func traces(text: String, error expected: String?) {
        do {
            _ = try TraceFile.parse(text, source: "t.csv")
            #expect(expected == nil)
        } catch {
            #expect("\(error)" == expected)
        }
    }

    @Test("durations", arguments: [("90s", 90.0), ("250ms", 0.25), ("1.5m", 90), ("1h30m", 5400), ("2", 2), ("0.5", 0.5)] as [(String, Double)])
    func durations(text: String, seconds: Double) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test("not durations", arguments: ["", "s", "5x", "1.2.3s", "ms5", "-"])
    func notDurations(text: String) {
        #expect(DurationText.seconds(text) == nil)
    }
}
