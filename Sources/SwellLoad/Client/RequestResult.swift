/// What happened to one request, with its timings in seconds.
public struct RequestResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case ok
        /// HTTP 429: the server refused it for lack of room (Retry-After, when given).
        case shed(retryAfter: Int?)
        /// Any other failure, described.
        case failed(String)
        /// Still running when the run was interrupted.
        case cancelled
    }

    public var priority: Priority
    public var phase: Int
    /// When it was due and when it went out, from the start of the run.
    public var scheduledAt: Double
    public var sentAt: Double
    public var outcome: Outcome
    /// Time to the first generated text (streamed requests only).
    public var ttft: Double?
    /// Gaps between consecutive streamed chunks after the first.
    public var interTokenGaps: [Double]
    public var e2e: Double
    public var promptTokens: Int
    public var completionTokens: Int
    public var cachedTokens: Int

    public init(priority: Priority, phase: Int = 0, scheduledAt: Double, sentAt: Double, outcome: Outcome, ttft: Double? = nil,
                interTokenGaps: [Double] = [], e2e: Double, promptTokens: Int = 0, completionTokens: Int = 0, cachedTokens: Int = 0) {
        self.priority = priority
        self.phase = phase
        self.scheduledAt = scheduledAt
        self.sentAt = sentAt
        self.outcome = outcome
        self.ttft = ttft
        self.interTokenGaps = interTokenGaps
        self.e2e = e2e
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
    }

    /// How far behind its schedule the generator sent it.
    public var lateness: Double { max(0, sentAt - scheduledAt) }
    public var finishedAt: Double { sentAt + e2e }
}
