import Foundation

/// The result of a run, as printed and as `--out report.json` writes it. The JSON schema is
/// versioned by `schema`; docs/loadgen.md lists every field. Times are seconds; every key is
/// always present, with null for what could not be measured.
public struct LoadReport: Codable, Sendable, Equatable {
    public static let schemaVersion = "swell.dev/loadgen-report/v1"

    public var schema = LoadReport.schemaVersion
    public var scenario: String
    public var target: String
    public var model: String
    public var startedAt: String
    public var durationSeconds: Double
    public var plannedSeconds: Double
    /// Why the run ended early: `interrupted`, `maxRequests` or `maxDuration`; null when it ran to plan.
    public var stoppedEarly: String?
    public var overall: ClassReport
    /// One entry per class, `critical`, `standard` and `batch`, always all three.
    public var classes: [String: ClassReport]
    public var throughput: Throughput
    public var tokens: Tokens
    public var generator: Generator
    public var phases: [PhaseReport]
    public var slo: SLOReport

    public struct Throughput: Codable, Sendable, Equatable {
        public var requestsPerSecond: Double
        public var outputTokensPerSecond: Double
        public var promptTokensPerSecond: Double
    }

    public struct Tokens: Codable, Sendable, Equatable {
        public var prompt: Int
        public var completion: Int
        public var cached: Int
        /// cached / prompt: the share of prompt tokens the prefix cache supplied.
        public var cachedShare: Double?

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(prompt, forKey: .prompt)
            try container.encode(completion, forKey: .completion)
            try container.encode(cached, forKey: .cached)
            try container.encode(cachedShare, forKey: .cachedShare)
        }
    }

    /// How well the generator kept its open-loop schedule.
    public struct Generator: Codable, Sendable, Equatable {
        /// Requests sent 10 ms or more after they were due.
        public var lateRequests: Int
        public var lateness: LatencySummary
        /// Arrivals not sent because `limits.maxInFlight` requests were outstanding.
        public var notSent: Int
    }

    public struct PhaseReport: Codable, Sendable, Equatable {
        public var name: String
        /// `constant`, `poisson`, `step`, `ramp`, `spike`, `trace` or `closed`.
        public var process: String
        public var startSeconds: Double
        public var plannedSeconds: Double
        public var sent: Int
    }

    public struct SLOReport: Codable, Sendable, Equatable {
        public var targets: Targets
        public var assertions: [AssertionResult]
        /// True when every assertion held (and when there are none).
        public var passed: Bool
    }

    public struct Targets: Codable, Sendable, Equatable {
        public var ttft: Double?
        public var interToken: Double?
        public var e2e: Double?

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(ttft, forKey: .ttft)
            try container.encode(interToken, forKey: .interToken)
            try container.encode(e2e, forKey: .e2e)
        }
    }

    public struct AssertionResult: Codable, Sendable, Equatable {
        public var assertion: String
        public var metric: String
        public var priority: String?
        /// `max` or `min`.
        public var bound: String
        public var limit: Double
        /// The measured value; null when there was nothing to measure (which fails the assertion).
        public var value: Double?
        public var passed: Bool

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(assertion, forKey: .assertion)
            try container.encode(metric, forKey: .metric)
            try container.encode(priority, forKey: .priority)
            try container.encode(bound, forKey: .bound)
            try container.encode(limit, forKey: .limit)
            try container.encode(value, forKey: .value)
            try container.encode(passed, forKey: .passed)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(schema, forKey: .schema)
        try container.encode(scenario, forKey: .scenario)
        try container.encode(target, forKey: .target)
        try container.encode(model, forKey: .model)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(durationSeconds, forKey: .durationSeconds)
        try container.encode(plannedSeconds, forKey: .plannedSeconds)
        try container.encode(stoppedEarly, forKey: .stoppedEarly)
        try container.encode(overall, forKey: .overall)
        try container.encode(classes, forKey: .classes)
        try container.encode(throughput, forKey: .throughput)
        try container.encode(tokens, forKey: .tokens)
        try container.encode(generator, forKey: .generator)
        try container.encode(phases, forKey: .phases)
        try container.encode(slo, forKey: .slo)
    }

    /// Pretty JSON with sorted keys, so reports diff cleanly.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// Requests and latencies of one class (or of all).
public struct ClassReport: Codable, Sendable, Equatable {
    public struct Requests: Codable, Sendable, Equatable {
        public var sent: Int
        public var ok: Int
        public var failed: Int
        public var shed: Int
        /// In flight when the run was interrupted.
        public var cancelled: Int
    }

    public struct Failure: Codable, Sendable, Equatable {
        public var reason: String
        public var count: Int
    }

    public var requests: Requests
    public var ttft: LatencySummary
    public var interToken: LatencySummary
    public var e2e: LatencySummary
    public var outputTokens: Int
    public var outputTokensPerSecond: Double
    /// Share of requests (cancelled ones aside) that succeeded within every SLO target; null
    /// without targets.
    public var attainment: Double?
    public var errorRate: Double?
    public var shedRate: Double?
    /// The most frequent failure messages, most frequent first (at most five).
    public var failures: [Failure]

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requests, forKey: .requests)
        try container.encode(ttft, forKey: .ttft)
        try container.encode(interToken, forKey: .interToken)
        try container.encode(e2e, forKey: .e2e)
        try container.encode(outputTokens, forKey: .outputTokens)
        try container.encode(outputTokensPerSecond, forKey: .outputTokensPerSecond)
        try container.encode(attainment, forKey: .attainment)
        try container.encode(errorRate, forKey: .errorRate)
        try container.encode(shedRate, forKey: .shedRate)
        try container.encode(failures, forKey: .failures)
    }
}

/// Percentiles of one latency, in seconds; null when nothing was measured.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var count: Int
    public var mean: Double?
    public var p50: Double?
    public var p90: Double?
    public var p99: Double?
    public var max: Double?

    public init(count: Int, mean: Double?, p50: Double?, p90: Double?, p99: Double?, max: Double?) {
        self.count = count
        self.mean = mean
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
    }

    public func value(_ statistic: ReportMetric.Statistic) -> Double? {
        switch statistic {
        case .p50: p50
        case .p90: p90
        case .p99: p99
        case .max: max
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(count, forKey: .count)
        try container.encode(mean, forKey: .mean)
        try container.encode(p50, forKey: .p50)
        try container.encode(p90, forKey: .p90)
        try container.encode(p99, forKey: .p99)
        try container.encode(max, forKey: .max)
    }
}
