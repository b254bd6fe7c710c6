import Foundation

/// Turns one sequence's sampled tokens into final text: sampling, end-of-generation and stop
/// sequences, max_tokens, logprobs. Owned by the engine's step thread.
struct SequenceOutput: Sendable {
    let request: ServingRequest
    private var sampler: Sampler
    private var detokenizer: StreamingDetokenizer
    private var stops: StopSequenceFilter
    private let endOfGeneration: Set<Int32>
    /// Prompt followed by generated tokens: what a recompute after preemption replays.
    private(set) var tokens: [Int32]
    private(set) var generated = 0

    init(request: ServingRequest, tokenizer: Tokenizer) {
        self.request = request
        sampler = Sampler(request.sampling)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        stops = StopSequenceFilter(request.stopSequences)
        endOfGeneration = request.stopAtEndOfGeneration ? tokenizer.endOfGeneration : []
        tokens = request.promptTokens
    }

    enum Next {
        /// A token was appended; its text (maybe empty) is final.
        case token(ServingOutput)
        /// Generation ended; `output` carries the last text, if any.
        case finished(ServingFinishReason, output: ServingOutput?)
    }

    /// Samples the next token from `logits` and decides whether generation goes on.
    mutating func next(logits: ArraySlice<Float>, contextLength: Int) -> Next {
        let token = sampler.sample(logits, history: tokens)
        let logprob = request.topLogprobs.map { Self.logprob(of: token, in: logits, top: $0) }
        if endOfGeneration.contains(token) {
            let rest = stops.finish(detokenizer.flush())
            return .finished(.stop, output: rest.isEmpty ? nil : ServingOutput(tokens: [], text: rest))
        }
        tokens.append(token)
        generated += 1
        let (visible, stopped) = stops.push(detokenizer.append(token))
        if stopped {
            return .finished(.stop, output: ServingOutput(tokens: [token], text: visible, logprobs: logprob.map { [$0] }))
        }
        if generated >= request.maxTokens || tokens.count >= contextLength {
            let text = visible + stops.finish(detokenizer.flush())
            return .finished(.length, output: ServingOutput(tokens: [token], text: text, logprobs: logprob.map { [$0] }))
        }
        return .token(ServingOutput(tokens: [token], text: visible, logprobs: logprob.map { [$0] }))
    }

    /// log softmax of the raw logits at `token`, and the `top` most likely tokens.
    static func logprob(of token: Int32, in logits: ArraySlice<Float>, top: Int) -> TokenLogprob {
        let maximum = logits.max() ?? 0
        var sum: Double = 0
        for value in logits { sum += Double(Foundation.exp(value - maximum)) }
        let logSum = Float(Foundation.log(sum)) + maximum
        let base = logits.startIndex
        var best: [(token: Int32, logprob: Float)] = []
        if top > 0 {
            for (offset, value) in logits.enumerated() {
                if best.count < top || value > best[best.count - 1].logprob {
                    let entry = (token: Int32(offset), logprob: value)
                    let position = best.firstIndex { $0.logprob < value } ?? best.count
                    best.insert(entry, at: position)
                    if best.count > top { best.removeLast() }
                }
            }
        }
        return TokenLogprob(token: token, logprob: logits[base + Int(token)] - logSum,
                            top: best.map { ($0.token, $0.logprob - logSum) })
    }
}
