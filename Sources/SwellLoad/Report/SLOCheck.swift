extension LoadReport.AssertionResult {
    /// The measured value as the assertion writes its bound: `1.42s`, `0.93`, or `nothing measured`.
    public var measured: String {
        guard let value else { return "nothing measured" }
        return ReportMetric(name: metric)?.format(value) ?? "\(value)"
    }
}

/// Evaluates a scenario's assertions against its report.
public enum SLOCheck {
    public static func evaluate(_ assertion: Assertion, in report: LoadReport) -> LoadReport.AssertionResult {
        let scope = assertion.priority.map { report.classes[$0.rawValue] } ?? report.overall
        let value: Double? = scope.flatMap { classReport in
            switch assertion.metric {
            case .latency(let latency, let statistic):
                let summary = switch latency {
                case .ttft: classReport.ttft
                case .interToken: classReport.interToken
                case .e2e: classReport.e2e
                }
                return summary.value(statistic)
            case .attainment: return classReport.attainment
            case .errorRate: return classReport.errorRate
            case .shedRate: return classReport.shedRate
            case .outputTokensPerSecond: return classReport.outputTokensPerSecond
            case .requestsPerSecond: return Double(classReport.requests.ok) / max(report.durationSeconds, 1e-9)
            }
        }
        let (bound, limit, passed): (String, Double, Bool) = switch assertion.bound {
        case .atMost(let limit): ("max", limit, value.map { $0 <= limit } ?? false)
        case .atLeast(let limit): ("min", limit, value.map { $0 >= limit } ?? false)
        }
        return LoadReport.AssertionResult(assertion: assertion.description, metric: assertion.metric.name,
                                          priority: assertion.priority?.rawValue, bound: bound, limit: limit, value: value,
                                          passed: passed)
    }
}
