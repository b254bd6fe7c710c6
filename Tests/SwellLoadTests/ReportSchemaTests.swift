import Foundation
import Testing
@testable import SwellLoad

/// The JSON report is an interface (CI jobs and dashboards read it): its fields may only change
/// together with `LoadReport.schemaVersion` and docs/loadgen.md.
@Suite("Report JSON schema")
struct ReportSchemaTests {
    static let latency = ["count", "mean", "p50", "p90", "p99", "max"]
    static let classFields = ["requests.sent", "requests.ok", "requests.failed", "requests.shed", "requests.cancelled"]
        + latency.map { "ttft.\($0)" } + latency.map { "interToken.\($0)" } + latency.map { "e2e.\($0)" }
        + ["outputTokens", "outputTokensPerSecond", "attainment", "errorRate", "shedRate", "failures[].reason", "failures[].count"]

    static let expected: Set<String> = Set(
        ["schema", "scenario", "target", "model", "startedAt", "durationSeconds", "plannedSeconds", "stoppedEarly"]
            + classFields.map { "overall.\($0)" }
            + ["critical", "standard", "batch"].flatMap { name in classFields.map { "classes.\(name).\($0)" } }
            + ["throughput.requestsPerSecond", "throughput.outputTokensPerSecond", "throughput.promptTokensPerSecond"]
            + ["tokens.prompt", "tokens.completion", "tokens.cached", "tokens.cachedShare"]
            + ["generator.lateRequests", "generator.notSent"] + latency.map { "generator.lateness.\($0)" }
            + ["phases[].name", "phases[].process", "phases[].startSeconds", "phases[].plannedSeconds", "phases[].sent"]
            + ["slo.targets.ttft", "slo.targets.interToken", "slo.targets.e2e", "slo.passed"]
            + ["assertion", "metric", "priority", "bound", "limit", "value", "passed"].map { "slo.assertions[].\($0)" })

    /// Every key path in a JSON document, arrays written as `[]`.
    static func paths(_ value: Any, prefix: String = "") -> Set<String> {
        switch value {
        case let object as [String: Any]:
            return object.reduce(into: Set<String>()) { paths, entry in
                let path = prefix.isEmpty ? entry.key : "\(prefix).\(entry.key)"
                let children = Self.paths(entry.value, prefix: path)
                paths.formUnion(children.isEmpty ? [path] : children)
            }
        case let array as [Any]:
            return array.reduce(into: Set<String>()) { $0.formUnion(Self.paths($1, prefix: prefix + "[]")) }
        default:
            return []
        }
    }

    static func sampleReport() -> LoadReport {
        var recorder = LoadRecorder(slo: SLO(targets: .init(ttft: 1), assertions: [Assertion(metric: .attainment, bound: .atLeast(0.9))]))
        recorder.record(ReportTests.ok(.critical, ttft: 0.2, e2e: 1, gaps: [0.02, 0.03]))
        for priority in Priority.allCases {
            recorder.record(RequestResult(priority: priority, scheduledAt: 0, sentAt: 0, outcome: .failed("HTTP 500"), e2e: 0.1))
        }
        return recorder.report(ReportTests.facts())
    }

    @Test("the report has exactly the documented fields, nulls included, under the v1 schema name")
    func fields() throws {
        let data = try Self.sampleReport().jsonData()
        let json = try JSONSerialization.jsonObject(with: data)
        let found = Self.paths(json)
        #expect(found.subtracting(Self.expected).isEmpty, "undocumented: \(found.subtracting(Self.expected).sorted())")
        #expect(Self.expected.subtracting(found).isEmpty, "missing: \(Self.expected.subtracting(found).sorted())")
        let object = try #require(json as? [String: Any])
        #expect(object["schema"] as? String == "swell.dev/loadgen-report/v1")
        // Unknown values are written as null, not left out.
        #expect((object["stoppedEarly"] as? NSNull) != nil)
        let classes = try #require(object["classes"] as? [String: Any])
        let standard = try #require(classes["standard"] as? [String: Any])
        #expect(((standard["ttft"] as? [String: Any])?["p50"] as? NSNull) != nil)
    }

    @Test("docs/loadgen.md names every field of the schema")
    func documented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/loadgen.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let leaves = Set(Self.expected.map { $0.split(separator: ".").last.map(String.init)!.replacingOccurrences(of: "[]", with: "") })
        for leaf in leaves.sorted() {
            #expect(text.contains("`\(leaf)`"), "docs/loadgen.md does not describe `\(leaf)`")
        }
    }

    @Test("a written report reads back equal, and the encoding is byte-stable")
    func roundTrip() throws {
        let report = Self.sampleReport()
        let data = try report.jsonData()
        let decoded = try JSONDecoder().decode(LoadReport.self, from: data)
        #expect(decoded == report)
        #expect(try decoded.jsonData() == data)
    }
}
