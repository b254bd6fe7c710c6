import Foundation

/// The report as people read it on a terminal: a request table, a latency table, then one line
/// each for throughput, the generator's timekeeping and every SLO assertion.
public enum ReportText {
    public static func render(_ report: LoadReport) -> String {
        var lines: [String] = []
        let planned = DurationText.format(report.plannedSeconds)
        var heading = "\(report.scenario): \(String(format: "%.1f", report.durationSeconds)) s of \(planned) planned against "
            + "\(report.target) (model \(report.model))"
        if let stopped = report.stoppedEarly { heading += " — stopped early: \(stopped)" }
        lines.append(heading)
        lines.append("")

        let scopes = Priority.allCases.compactMap { priority in
            report.classes[priority.rawValue].flatMap { $0.requests.sent > 0 ? (priority.rawValue, $0) : nil }
        } + [("all", report.overall)]
        let showAttainment = report.overall.attainment != nil
        var requestRows = [["CLASS", "SENT", "OK", "FAILED", "SHED", "CANCELLED", "OUTPUT TOK/S"] + (showAttainment ? ["SLO MET"] : [])]
        for (name, scope) in scopes {
            let counts = scope.requests
            requestRows.append([name, "\(counts.sent)", "\(counts.ok)", "\(counts.failed)", "\(counts.shed)", "\(counts.cancelled)",
                                String(format: "%.1f", scope.outputTokensPerSecond)]
                + (showAttainment ? [scope.attainment.map { String(format: "%.1f%%", $0 * 100) } ?? "-"] : []))
        }
        lines += columns(requestRows)
        lines.append("")

        var latencyRows = [["CLASS", "LATENCY", "P50", "P90", "P99", "MAX", "N"]]
        for (name, scope) in scopes {
            for (label, summary) in [("ttft", scope.ttft), ("inter-token", scope.interToken), ("e2e", scope.e2e)] {
                latencyRows.append([label == "ttft" ? name : "", label, time(summary.p50), time(summary.p90), time(summary.p99),
                                    time(summary.max), "\(summary.count)"])
            }
        }
        lines += columns(latencyRows)
        lines.append("")

        let throughput = report.throughput
        var tokens = String(format: "throughput: %.2f req/s, %.1f output tok/s, %.1f prompt tok/s", throughput.requestsPerSecond,
                            throughput.outputTokensPerSecond, throughput.promptTokensPerSecond)
        if let share = report.tokens.cachedShare {
            tokens += String(format: "; prompt tokens from the prefix cache: %.1f%% (%d of %d)", share * 100, report.tokens.cached,
                             report.tokens.prompt)
        }
        lines.append(tokens)
        let generator = report.generator
        var timekeeping = "generator: \(generator.lateRequests) of \(generator.lateness.count) scheduled requests sent "
            + "\(Int(LoadRecorder.lateThreshold * 1000)) ms or more late (p99 \(time(generator.lateness.p99)), max \(time(generator.lateness.max)))"
        if generator.notSent > 0 { timekeeping += "; \(generator.notSent) not sent (limits.maxInFlight reached)" }
        lines.append(timekeeping)
        for failure in report.overall.failures {
            lines.append("failed \(failure.count)×: \(failure.reason)")
        }
        for result in report.slo.assertions {
            lines.append("SLO \(result.passed ? "pass" : "FAIL"): \(result.assertion) (measured \(result.measured))")
        }
        return lines.joined(separator: "\n")
    }

    /// `412ms`, `1.25s`, or `-`.
    static func time(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        if seconds < 1 { return String(format: "%.0fms", seconds * 1000) }
        return String(format: "%.2fs", seconds)
    }

    /// Left-aligned columns three spaces apart, as swellctl's tables are.
    static func columns(_ rows: [[String]]) -> [String] {
        let count = rows.map(\.count).max() ?? 0
        let widths = (0..<count).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 3, withPad: " ", startingAt: 0)
            }.joined()
        }
    }
}
