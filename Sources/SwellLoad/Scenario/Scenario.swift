import Foundation

/// A load test: where to send requests, what they look like, how they arrive over time, and
/// what counts as success. Read from YAML by `ScenarioDecoder` or built from flags.
public struct Scenario: Sendable, Equatable {
    public var name: String
    /// Base URL of an OpenAI-compatible server: the router, or one engine replica.
    public var target: String
    /// The `model` of every request, and the InferenceService whose replicas are reported.
    public var model: String
    public var seed: UInt64
    public var requests: RequestMix
    public var phases: [Phase]
    public var slo: SLO
    public var limits: Limits

    public init(name: String, target: String = Scenario.defaultTarget, model: String, seed: UInt64 = 1,
                requests: RequestMix = RequestMix(), phases: [Phase], slo: SLO = SLO(), limits: Limits = Limits()) {
        self.name = name
        self.target = target
        self.model = model
        self.seed = seed
        self.requests = requests
        self.phases = phases
        self.slo = slo
        self.limits = limits
    }

    /// The router of `swell server`.
    public static let defaultTarget = "http://127.0.0.1:8080"

    /// Planned length of the whole run: the sum of the phases.
    public var plannedSeconds: Double { phases.reduce(0) { $0 + $1.seconds } }
}

/// One stretch of the run, with either open-loop arrivals or a fixed population of users.
public struct Phase: Sendable, Equatable {
    public enum Load: Sendable, Equatable {
        /// Requests arrive on a schedule whether or not earlier ones have been answered.
        case open(ArrivalProcess)
        /// `users` clients each send a request, wait for its answer, think, and send the next.
        case closed(users: Int, thinkSeconds: Double, seconds: Double)
    }

    public var name: String
    public var load: Load

    public init(name: String, load: Load) {
        self.name = name
        self.load = load
    }

    public var seconds: Double {
        switch load {
        case .open(let process): process.seconds
        case .closed(_, _, let seconds): seconds
        }
    }
}

/// How open-loop requests arrive within a phase. Rate-based processes send evenly spaced
/// requests unless `poisson` is set, in which case the gaps are exponential around the same
/// (possibly time-varying) rate.
public enum ArrivalProcess: Sendable, Equatable {
    case constant(rate: Double, seconds: Double, poisson: Bool)
    /// Rates held for consecutive stretches.
    case steps([RateStep], poisson: Bool)
    /// A straight line from one rate to another over the phase.
    case ramp(from: Double, to: Double, seconds: Double, poisson: Bool)
    /// `rate`, then `rate × multiplier` from `start` for `length`, then `rate` again.
    case spike(rate: Double, multiplier: Double, start: Double, length: Double, seconds: Double, poisson: Bool)
    /// Recorded requests sent at their recorded offsets (divided by `speed`).
    case trace([TraceRow], speed: Double, source: String)

    public var seconds: Double {
        switch self {
        case .constant(_, let seconds, _), .ramp(_, _, let seconds, _), .spike(_, _, _, _, let seconds, _): seconds
        case .steps(let steps, _): steps.reduce(0) { $0 + $1.seconds }
        case .trace(let rows, let speed, _): (rows.last?.offset ?? 0) / speed
        }
    }

    /// The process's name as scenarios spell it.
    public var kind: String {
        switch self {
        case .constant(_, _, let poisson): poisson ? "poisson" : "constant"
        case .steps: "step"
        case .ramp: "ramp"
        case .spike: "spike"
        case .trace: "trace"
        }
    }
}

public struct RateStep: Sendable, Equatable {
    public var rate: Double
    public var seconds: Double

    public init(rate: Double, seconds: Double) {
        self.rate = rate
        self.seconds = seconds
    }
}

/// What the requests look like.
public struct RequestMix: Sendable, Equatable {
    public enum API: String, Sendable, Equatable, CaseIterable {
        case chat
        case completion
    }

    /// Where the priority class goes: the `priority` body field or the `X-Swell-Priority` header.
    public enum PriorityPlacement: String, Sendable, Equatable, CaseIterable {
        case body
        case header
    }

    public var api: API
    public var stream: Bool
    /// Share of requests per class; need not sum to 1.
    public var priorities: [Priority: Double]
    public var priorityPlacement: PriorityPlacement
    public var promptTokens: LengthDistribution
    public var outputTokens: LengthDistribution
    public var systemPrompts: SystemPrompts?

    public init(api: API = .chat, stream: Bool = true, priorities: [Priority: Double] = [.standard: 1],
                priorityPlacement: PriorityPlacement = .body, promptTokens: LengthDistribution = .fixed(64),
                outputTokens: LengthDistribution = .fixed(32), systemPrompts: SystemPrompts? = nil) {
        self.api = api
        self.stream = stream
        self.priorities = priorities
        self.priorityPlacement = priorityPlacement
        self.promptTokens = promptTokens
        self.outputTokens = outputTokens
        self.systemPrompts = systemPrompts
    }
}

/// The request classes of the engine and router, highest first.
public enum Priority: String, Sendable, Equatable, Hashable, CaseIterable, Codable, Comparable {
    case critical
    case standard
    case batch

    private var rank: Int {
        switch self {
        case .critical: 0
        case .standard: 1
        case .batch: 2
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// A distribution of token counts, clamped to `1...` (and to min/max where given).
public enum LengthDistribution: Sendable, Equatable {
    case fixed(Int)
    case uniform(min: Int, max: Int)
    case normal(mean: Double, stddev: Double, min: Int, max: Int)
    /// Parameterised by the mean and standard deviation of the lengths themselves.
    case lognormal(mean: Double, stddev: Double, min: Int, max: Int)
    case exponential(mean: Double, min: Int, max: Int)

    public func sample(_ random: inout SeededRandom) -> Int {
        switch self {
        case .fixed(let value):
            return value
        case .uniform(let low, let high):
            return low + Int(random.next() % UInt64(high - low + 1))
        case .normal(let mean, let stddev, let low, let high):
            return Self.clamp(mean + stddev * random.normal(), low, high)
        case .lognormal(let mean, let stddev, let low, let high):
            let sigma2 = log(1 + (stddev * stddev) / (mean * mean))
            let mu = log(mean) - sigma2 / 2
            return Self.clamp(exp(mu + sqrt(sigma2) * random.normal()), low, high)
        case .exponential(let mean, let low, let high):
            return Self.clamp(random.exponential(mean: mean), low, high)
        }
    }

    private static func clamp(_ value: Double, _ low: Int, _ high: Int) -> Int {
        min(high, max(low, Int(value.rounded())))
    }
}

/// K shared system prompts; each chat picks one by popularity, so requests share prefixes the
/// way an application's users share its instructions.
public struct SystemPrompts: Sendable, Equatable {
    public var count: Int
    public var tokens: Int
    /// One weight per prompt.
    public var popularity: [Double]

    public init(count: Int, tokens: Int, popularity: [Double]) {
        self.count = count
        self.tokens = tokens
        self.popularity = popularity
    }

    /// Zipf weights 1/k^s, the usual shape of "a few prompts are most of the traffic".
    public static func zipf(count: Int, exponent: Double) -> [Double] {
        (1...max(count, 1)).map { 1 / pow(Double($0), exponent) }
    }
}

/// Per-request latency targets (a request attains its SLO when it succeeds within all of them)
/// and the assertions that decide the exit status.
public struct SLO: Sendable, Equatable {
    public struct Targets: Sendable, Equatable {
        public var ttft: Double?
        public var interToken: Double?
        public var e2e: Double?

        public init(ttft: Double? = nil, interToken: Double? = nil, e2e: Double? = nil) {
            self.ttft = ttft
            self.interToken = interToken
            self.e2e = e2e
        }

        public var isEmpty: Bool { ttft == nil && interToken == nil && e2e == nil }
    }

    public var targets: Targets
    /// Targets for one class that replace the general ones field by field.
    public var classTargets: [Priority: Targets]
    public var assertions: [Assertion]

    public init(targets: Targets = Targets(), classTargets: [Priority: Targets] = [:], assertions: [Assertion] = []) {
        self.targets = targets
        self.classTargets = classTargets
        self.assertions = assertions
    }

    public func targets(for priority: Priority) -> Targets {
        guard let specific = classTargets[priority] else { return targets }
        return Targets(ttft: specific.ttft ?? targets.ttft, interToken: specific.interToken ?? targets.interToken,
                       e2e: specific.e2e ?? targets.e2e)
    }
}

/// `{metric: ttft.p99, priority: critical, max: 800ms}`: one bound on one reported number.
public struct Assertion: Sendable, Equatable, CustomStringConvertible {
    public enum Bound: Sendable, Equatable {
        case atMost(Double)
        case atLeast(Double)
    }

    public var metric: ReportMetric
    /// nil: over all classes.
    public var priority: Priority?
    public var bound: Bound

    public init(metric: ReportMetric, priority: Priority? = nil, bound: Bound) {
        self.metric = metric
        self.priority = priority
        self.bound = bound
    }

    public var description: String {
        let scope = priority.map { "\($0.rawValue) " } ?? ""
        switch bound {
        case .atMost(let value): return "\(scope)\(metric.name) <= \(metric.format(value))"
        case .atLeast(let value): return "\(scope)\(metric.name) >= \(metric.format(value))"
        }
    }
}

/// A number in the report that an assertion can bound.
public enum ReportMetric: Sendable, Equatable {
    public enum Latency: String, Sendable, CaseIterable {
        case ttft
        case interToken
        case e2e
    }

    public enum Statistic: String, Sendable, CaseIterable {
        case p50
        case p90
        case p99
        case max
    }

    case latency(Latency, Statistic)
    case attainment
    case errorRate
    case shedRate
    case outputTokensPerSecond
    case requestsPerSecond

    public static let names: [String] =
        Latency.allCases.flatMap { latency in Statistic.allCases.map { "\(latency.rawValue).\($0.rawValue)" } }
            + ["attainment", "errorRate", "shedRate", "outputTokensPerSecond", "requestsPerSecond"]

    public init?(name: String) {
        switch name {
        case "attainment": self = .attainment
        case "errorRate": self = .errorRate
        case "shedRate": self = .shedRate
        case "outputTokensPerSecond": self = .outputTokensPerSecond
        case "requestsPerSecond": self = .requestsPerSecond
        default:
            let parts = name.split(separator: ".").map(String.init)
            guard parts.count == 2, let latency = Latency(rawValue: parts[0]), let statistic = Statistic(rawValue: parts[1])
            else { return nil }
            self = .latency(latency, statistic)
        }
    }

    public var name: String {
        switch self {
        case .latency(let latency, let statistic): "\(latency.rawValue).\(statistic.rawValue)"
        case .attainment: "attainment"
        case .errorRate: "errorRate"
        case .shedRate: "shedRate"
        case .outputTokensPerSecond: "outputTokensPerSecond"
        case .requestsPerSecond: "requestsPerSecond"
        }
    }

    /// Latencies are written as durations, the rest as plain numbers.
    public var isDuration: Bool {
        if case .latency = self { return true }
        return false
    }

    public func format(_ value: Double) -> String {
        isDuration ? DurationText.format(value) : String(format: "%g", value)
    }
}

/// Bounds on the run itself, so no scenario or flag can send without end.
public struct Limits: Sendable, Equatable {
    public var maxRequests: Int
    public var maxSeconds: Double
    /// Open-loop arrivals beyond this many outstanding requests are not sent (and are counted).
    public var maxInFlight: Int
    public var requestTimeoutSeconds: Double

    /// No scenario or flag may go past these.
    public static let ceilingRequests = 1_000_000
    public static let ceilingSeconds: Double = 24 * 3600

    public init(maxRequests: Int = 100_000, maxSeconds: Double = 3600, maxInFlight: Int = 1024,
                requestTimeoutSeconds: Double = 300) {
        self.maxRequests = maxRequests
        self.maxSeconds = maxSeconds
        self.maxInFlight = maxInFlight
        self.requestTimeoutSeconds = requestTimeoutSeconds
    }
}
