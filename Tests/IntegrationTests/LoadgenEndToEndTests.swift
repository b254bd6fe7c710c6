import AsyncHTTPClient
import Foundation
import NIOCore
import SwellClient
import SwellLoad
import Testing

/// `swellctl loadgen` as a real child process against a real `swell engine serve` on SmolLM2:
/// what the report counts must be what the engine's own metrics saw.
@Suite("swellctl loadgen end to end", .serialized)
struct LoadgenEndToEndTests {
    static func metrics(_ url: String) async throws -> PrometheusExposition {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url + "/metrics"), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return try PrometheusExposition(parsing: String(buffer: body))
    }

    static func delta(_ name: String, _ before: PrometheusExposition, _ after: PrometheusExposition,
                      matching labels: [String: String] = [:]) -> Int {
        Int(((after.sum(name, matching: labels) ?? 0) - (before.sum(name, matching: labels) ?? 0)).rounded())
    }

    static let scenario = """
        name: e2e
        model: chat
        seed: 4
        requests:
          api: chat
          priorities: {critical: 0.2, standard: 0.5, batch: 0.3}
          systemPrompts: {count: 2, tokens: 40, popularity: [3, 1]}
          promptTokens: {distribution: uniform, min: 8, max: 24}
          outputTokens: {distribution: uniform, min: 2, max: 6}
        phases:
          - name: open
            duration: 3s
            arrivals: {process: poisson, rate: 4}
          - name: users
            duration: 2s
            users: {count: 2, thinkTime: 200ms}
        slo:
          targets: {e2e: 60s}
          assertions:
            - {metric: errorRate, max: 0}
        limits: {maxDuration: 60s}
        """

    @Test("the report's requests and tokens equal the engine's counters; timeline and chart are written; SLO failures exit 1")
    func countsMatchEngine() async throws {
        try #require(FileManager.default.fileExists(atPath: EngineServeTests.modelPath), "run hack/setup.sh to install the model")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-loadgen-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (engine, url) = try await EngineServeTests.start(
            ["--model", EngineServeTests.modelPath, "--port", "0", "--threads", "2", "--no-pin", "--kv-cache-tokens", "4096",
             "--served-model-name", "chat"], in: directory)
        defer { engine.signal(SIGKILL) }

        let scenarioFile = directory.appendingPathComponent("e2e.yaml")
        try Self.scenario.write(to: scenarioFile, atomically: true, encoding: .utf8)
        let report = directory.appendingPathComponent("report.json"), timeline = directory.appendingPathComponent("timeline.csv")
        let chart = directory.appendingPathComponent("chart.svg")
        let before = try await Self.metrics(url)
        // No API server at --server: the replica columns stay empty and the run goes on.
        let result = try await ChildProcess.run(try Binaries.swellctl, [
            "loadgen", "-f", scenarioFile.path, "--target", url, "--server", "http://127.0.0.1:1",
            "--out", report.path, "--timeline", timeline.path, "--svg", chart.path,
        ], logDirectory: directory)
        let after = try await Self.metrics(url)
        #expect(result.succeeded, "\(result)")

        let decoded = try JSONDecoder().decode(LoadReport.self, from: Data(contentsOf: report))
        let requests = decoded.overall.requests
        #expect(requests.sent > 5)
        #expect(requests.ok == requests.sent, "\(decoded.overall.failures)")
        #expect(decoded.phases.map(\.sent).reduce(0, +) == requests.sent)
        #expect(decoded.phases.allSatisfy { $0.sent > 0 })
        #expect(Self.delta("swell_engine_requests_total", before, after) == requests.ok)
        #expect(Self.delta("swell_engine_e2e_request_latency_seconds_count", before, after) == requests.ok)
        #expect(Self.delta("swell_engine_prompt_tokens_total", before, after) == decoded.tokens.prompt)
        #expect(Self.delta("swell_engine_generation_tokens_total", before, after) == decoded.tokens.completion)
        #expect(Self.delta("swell_engine_rejected_total", before, after) == requests.shed)
        #expect(decoded.overall.ttft.count == requests.ok)
        #expect(decoded.tokens.cached > 0, "the shared system prompts come from the prefix cache")
        #expect(Priority.allCases.map { decoded.classes[$0.rawValue]!.requests.sent }.reduce(0, +) == requests.sent)
        #expect(decoded.slo.passed)
        #expect(result.stdout.contains("throughput: "))

        let rows = try String(contentsOf: timeline, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.reduce(0) { $0 + Int($1[2])! } == requests.ok)
        #expect(rows.allSatisfy { $0[6].isEmpty && $0[7].isEmpty }, "no API server: no replica counts")
        #expect(rows.contains { !$0[8].isEmpty }, "queue length from the engine's swell_engine_requests_waiting")
        #expect(try String(contentsOf: chart, encoding: .utf8).contains("id=\"series-ttft-p99\""))

        // An assertion that cannot hold: the report still prints, the failure is named, exit 1.
        let strict = directory.appendingPathComponent("strict.yaml")
        try Self.scenario.replacingOccurrences(of: "{metric: errorRate, max: 0}", with: "{metric: ttft.p99, max: 1ms}")
            .write(to: strict, atomically: true, encoding: .utf8)
        let failing = try await ChildProcess.run(try Binaries.swellctl, [
            "loadgen", "-f", strict.path, "--target", url, "--max-requests", "3", "-q",
        ], logDirectory: directory)
        #expect(failing.exit == ProcessExit(reason: .exited, code: 1), "\(failing)")
        #expect(failing.stderr.contains("error: SLO assertion failed: ttft.p99 <= 1ms (measured "), "\(failing)")
        #expect(failing.stdout.contains("SLO FAIL: ttft.p99 <= 1ms"))
    }

    @Test("Ctrl-C prints the partial report, writes it, and exits 130")
    func interrupt() async throws {
        try #require(FileManager.default.fileExists(atPath: EngineServeTests.modelPath), "run hack/setup.sh to install the model")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-loadgen-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (engine, url) = try await EngineServeTests.start(
            ["--model", EngineServeTests.modelPath, "--port", "0", "--threads", "2", "--no-pin", "--served-model-name", "chat"],
            in: directory)
        defer { engine.signal(SIGKILL) }
        let report = directory.appendingPathComponent("report.json")
        let loadgen = try ChildProcess(executable: try Binaries.swellctl, arguments: [
            "loadgen", "--target", url, "--model", "chat", "--rate", "2", "--duration", "10m", "--output-tokens", "4",
            "--server", "http://127.0.0.1:1", "--out", report.path,
        ], logDirectory: directory)
        // Interrupt once the run has started and sent something.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, !loadgen.stderr.contains("loadgen flags:") { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .seconds(2))
        loadgen.signal(SIGINT)
        let exit = await loadgen.waitForExit(timeout: .seconds(60))
        #expect(exit == ProcessExit(reason: .exited, code: 130), "\(loadgen.stdout)\n\(loadgen.stderr)")
        #expect(loadgen.stdout.contains("stopped early: interrupted"))
        let decoded = try JSONDecoder().decode(LoadReport.self, from: Data(contentsOf: report))
        #expect(decoded.stoppedEarly == "interrupted")
        #expect(decoded.overall.requests.sent >= 1)
        #expect(decoded.durationSeconds < 600)
    }

    @Test("a target off this machine is refused before anything is sent, unless --allow-remote")
    func remoteRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-loadgen-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ChildProcess.run(try Binaries.swellctl, [
            "loadgen", "--target", "http://192.0.2.1:8080", "--model", "chat", "--rate", "1", "--duration", "1s",
        ], logDirectory: directory)
        #expect(result.exit == ProcessExit(reason: .exited, code: 1))
        #expect(result.stderr == "error: the target http://192.0.2.1:8080 is not on this machine; pass --allow-remote to send load to it\n")
        let bad = try await ChildProcess.run(try Binaries.swellctl, ["loadgen", "-f", "/nonexistent.yaml"], logDirectory: directory)
        #expect(bad.stderr.contains("/nonexistent.yaml"))
        #expect(!bad.succeeded)
    }
}
