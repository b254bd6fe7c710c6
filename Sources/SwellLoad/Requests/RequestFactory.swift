import Foundation

/// One request to send: its class, the lengths it asks for, and the JSON body.
public struct RequestSpec: Sendable, Equatable {
    public var index: Int
    public var priority: Priority
    /// Which shared system prompt it starts with, if any.
    public var systemPrompt: Int?
    public var promptWords: Int
    public var maxTokens: Int
    public var body: Data
    /// `X-Swell-Priority`, when the scenario puts the class in a header.
    public var priorityHeader: String?

    public init(index: Int, priority: Priority, systemPrompt: Int? = nil, promptWords: Int, maxTokens: Int, body: Data,
                priorityHeader: String? = nil) {
        self.index = index
        self.priority = priority
        self.systemPrompt = systemPrompt
        self.promptWords = promptWords
        self.maxTokens = maxTokens
        self.body = body
        self.priorityHeader = priorityHeader
    }
}

/// Draws requests from a scenario's mix. Each stream of choices (class, lengths, prompt) has its
/// own seeded generator, so the same seed gives the same requests in the same order.
public struct RequestFactory: Sendable {
    public let mix: RequestMix
    public let model: String
    private let runTag: String
    private var classes: SeededRandom
    private var lengths: SeededRandom
    private var prompts: SeededRandom
    private let priorityOrder: [Priority]
    private let systemTexts: [String]
    private var nextIndex = 0

    /// `runTag` goes into every user prompt, so two runs against one server do not hit each
    /// other's cached prompts (the shared system prompts depend only on the seed, and do).
    public init(mix: RequestMix, model: String, seed: UInt64, runTag: String) {
        self.mix = mix
        self.model = model
        self.runTag = runTag
        let root = SeededRandom(seed: seed)
        classes = root.derived("priority")
        lengths = root.derived("lengths")
        prompts = root.derived("prompts")
        priorityOrder = Priority.allCases.filter { (mix.priorities[$0] ?? 0) > 0 }
        systemTexts = (0..<(mix.systemPrompts?.count ?? 0)).map { index in
            // A stable, distinct opening per prompt, then shared filler.
            PromptText.text(words: mix.systemPrompts!.tokens, seed: "system-\(seed)-\(index)")
        }
    }

    /// The next request from the mix.
    public mutating func next() -> RequestSpec {
        let priority = priorityOrder[classes.index(weightedBy: priorityOrder.map { mix.priorities[$0]! })]
        let words = mix.promptTokens.sample(&lengths)
        let maxTokens = mix.outputTokens.sample(&lengths)
        return make(priority: priority, words: words, maxTokens: maxTokens)
    }

    /// A request of a trace: its class and lengths are recorded, only the text is made up.
    public mutating func next(replaying row: TraceRow) -> RequestSpec {
        make(priority: row.priority, words: row.promptTokens, maxTokens: row.outputTokens)
    }

    private mutating func make(priority: Priority, words: Int, maxTokens: Int) -> RequestSpec {
        let index = nextIndex
        nextIndex += 1
        let system: Int? = mix.systemPrompts.map { prompts.index(weightedBy: $0.popularity) }
        let user = PromptText.text(words: words, seed: "\(runTag)-\(index)")
        var body: [String: Any] = ["model": model, "max_tokens": maxTokens, "stream": mix.stream, "ignore_eos": true]
        if mix.stream { body["stream_options"] = ["include_usage": true] }
        switch mix.api {
        case .chat:
            var messages: [[String: String]] = []
            if let system { messages.append(["role": "system", "content": systemTexts[system]]) }
            messages.append(["role": "user", "content": user])
            body["messages"] = messages
        case .completion:
            body["prompt"] = system.map { systemTexts[$0] + "\n\n" + user } ?? user
        }
        if mix.priorityPlacement == .body { body["priority"] = priority.rawValue }
        // Sorted keys: the same request is the same bytes, which keeps runs comparable.
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return RequestSpec(index: index, priority: priority, systemPrompt: system, promptWords: words, maxTokens: maxTokens,
                           body: data, priorityHeader: mix.priorityPlacement == .header ? priority.rawValue : nil)
    }
}
