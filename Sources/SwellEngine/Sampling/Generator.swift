/// Why a generation ended.
public enum FinishReason: String, Sendable, Equatable {
    /// The model produced an end-of-generation token.
    case endOfSequence = "eos"
    /// A stop sequence appeared in the text.
    case stop
    /// `maxTokens` were generated, or the context is full.
    case length
}

public struct GenerationOptions: Sendable {
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Generation ends when one of these appears; the text up to it is returned.
    public var stopSequences: [String]
    /// Stop at the tokenizer's end-of-generation tokens.
    public var stopAtEndOfGeneration: Bool
    /// Prompt tokens per forward step (chunked prefill).
    public var prefillChunk: Int

    public init(maxTokens: Int = 64, sampling: SamplingParameters = .greedy, stopSequences: [String] = [],
                stopAtEndOfGeneration: Bool = true, prefillChunk: Int = 512) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopSequences = stopSequences
        self.stopAtEndOfGeneration = stopAtEndOfGeneration
        self.prefillChunk = prefillChunk
    }
}

public struct GenerationResult: Sendable {
    public var tokens: [Int32]
    public var text: String
    public var finishReason: FinishReason
    public var promptTokenCount: Int
    public var promptSeconds: Double
    public var generationSeconds: Double

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokenCount) / promptSeconds : 0 }
    /// Decode speed: tokens after the first (which comes out of the prompt step) per second.
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(max(tokens.count - 1, 0)) / generationSeconds : 0
    }
}

/// Single-sequence text generation on an `InferenceContext`: prefill, then sample and decode
/// token by token, streaming text that never splits a UTF-8 character or leaks a stop sequence.
public struct Generator {
    public let context: InferenceContext
    public let sequence: Int

    public init(context: InferenceContext, sequence: Int = 0) {
        self.context = context
        self.sequence = sequence
    }

    /// Generates from `prompt` (token ids). `onText` receives text as it becomes final; return
    /// false from it to stop early.
    public func generate(prompt: [Int32], options: GenerationOptions,
                         onText: (String) -> Bool = { _ in true }) throws(ForwardError) -> GenerationResult {
        let tokenizer = context.model.tokenizer
        context.release(sequence: sequence)
        defer { context.release(sequence: sequence) }
        let contextLength = context.model.config.contextLength

        let promptStart = MonotonicClock.now
        var logits: [Float] = []
        var position = 0
        let chunk = max(1, options.prefillChunk)
        while position < prompt.count {
            let end = min(position + chunk, prompt.count)
            logits = try context.forward(ForwardBatch(tokens: Array(prompt[position..<end]), startingAt: position, sequence: sequence)).last
            position = end
        }
        let promptSeconds = MonotonicClock.seconds(since: promptStart)

        var sampler = Sampler(options.sampling)
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var stops = StopSequenceFilter(options.stopSequences)
        var history = prompt
        var generated: [Int32] = []
        var text = ""
        var finish = FinishReason.length
        let generationStart = MonotonicClock.now
        var keepGoing = true

        while generated.count < options.maxTokens, keepGoing {
            if prompt.isEmpty && generated.isEmpty { break }
            let token = sampler.sample(logits, history: history)
            if options.stopAtEndOfGeneration, tokenizer.endOfGeneration.contains(token) {
                finish = .endOfSequence
                break
            }
            generated.append(token)
            history.append(token)
            let (visible, stopped) = stops.push(detokenizer.append(token))
            text += visible
            if !visible.isEmpty { keepGoing = onText(visible) }
            if stopped {
                finish = .stop
                break
            }
            guard generated.count < options.maxTokens, position < contextLength else { break }
            logits = try context.forward(ForwardBatch(tokens: [token], startingAt: position, sequence: sequence)).last
            position += 1
        }
        if finish != .stop {
            let rest = stops.finish(detokenizer.flush())
            text += rest
            if !rest.isEmpty { _ = onText(rest) }
        }
        return GenerationResult(tokens: generated, text: text, finishReason: finish, promptTokenCount: prompt.count,
                                promptSeconds: promptSeconds, generationSeconds: MonotonicClock.seconds(since: generationStart))
    }
}
