import Testing
@testable import SwellEngine

@Suite("Sampling and generation")
struct SamplingTests {
    let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 2.9, 0.0]

    @Test("greedy picks the largest logit")
    func greedy() {
        var sampler = Sampler(.greedy)
        #expect(sampler.sample(logits) == 1)
    }

    @Test("the same seed gives the same tokens; another seed, other tokens")
    func seeded() {
        func draw(_ seed: UInt64) -> [Int32] {
            var sampler = Sampler(SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: seed))
            return (0..<200).map { _ in sampler.sample(logits) }
        }
        #expect(draw(1) == draw(1))
        #expect(draw(1) != draw(2))
        // High temperature without filters reaches every token.
        #expect(Set(draw(3)).count == logits.count)
    }

    @Test("top-k keeps only the k most likely tokens")
    func topK() {
        var sampler = Sampler(SamplingParameters(temperature: 5, topK: 2, topP: 1, minP: 0, seed: 9))
        let drawn = Set((0..<300).map { _ in sampler.sample(logits) })
        #expect(drawn == [1, 4])
    }

    @Test("top-p keeps the smallest set reaching p")
    func topP() {
        // Probabilities at temperature 1: token 1 ≈ 0.37, 4 ≈ 0.33, 2 ≈ 0.22; p = 0.6 needs two.
        var sampler = Sampler(SamplingParameters(temperature: 1, topK: 0, topP: 0.6, minP: 0, seed: 5))
        let drawn = Set((0..<300).map { _ in sampler.sample(logits) })
        #expect(drawn == [1, 4])
    }

    @Test("min-p drops tokens much less likely than the best")
    func minP() {
        // Relative to token 1: token 2 has e^-0.5 ≈ 0.61, token 0 e^-2 ≈ 0.14.
        var sampler = Sampler(SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0.5, seed: 5))
        let drawn = Set((0..<300).map { _ in sampler.sample(logits) })
        #expect(drawn == [1, 2, 4])
    }

    @Test("the filter chain equals a plain full-sort implementation", arguments: 0..<24)
    func filterMatchesFullSort(seed: Int) {
        var random = RandomSource(seed: UInt64(seed))
        let logits = (0..<2000).map { _ in random.nextUnit() * 12 - 6 }
        let topK = [0, 1, 40, 3000][seed % 4]
        let topP: Float = [1, 0.9, 0.5][seed % 3]
        let minP: Float = [0, 0.05, 0.3][(seed / 3) % 3]
        let sampler = Sampler(SamplingParameters(temperature: 1, topK: topK, topP: topP, minP: minP))

        // Reference: sort everything, then top-k, top-p, min-p on renormalized probabilities.
        var sorted = logits.enumerated().map { (id: Int32($0.offset), logit: $0.element) }
            .sorted { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if topK > 0 { sorted = Array(sorted.prefix(topK)) }
        var probabilities = Sampler.softmax(sorted.map(\.logit), temperature: 1)
        if topP < 1 {
            var cumulative: Float = 0
            let keep = (probabilities.firstIndex { cumulative += $0; return cumulative >= topP } ?? sorted.count - 1) + 1
            sorted = Array(sorted.prefix(keep))
            probabilities = Array(probabilities.prefix(keep))
        }
        if minP > 0 {
            sorted = Array(sorted.prefix(max(1, probabilities.prefix { $0 >= minP * probabilities[0] }.count)))
        }
        let filtered = sampler.filteredCandidates(logits)
        #expect(filtered.map(\.id) == sorted.map(\.id), "topK \(topK) topP \(topP) minP \(minP)")
    }

    @Test("repetition penalty steers away from recent tokens")
    func repetitionPenalty() {
        var sampler = Sampler(SamplingParameters(temperature: 0, repetitionPenalty: 1.5))
        #expect(sampler.sample(logits, history: [1]) == 4) // 3.0 / 1.5 = 2.0 < 2.9
        #expect(sampler.sample(logits, history: [1, 4]) == 2)
    }

    @Test("stop sequences end generation and never show up in the text")
    func stopSequenceFilter() {
        var filter = StopSequenceFilter(["END", "xyz"])
        #expect(filter.push("hello E") == ("hello ", false))
        #expect(filter.push("N") == ("", false))
        #expect(filter.push("D and more") == ("EN", true) || filter.push("") == ("", false))
    }

    @Test("held-back text that turns out not to be a stop is released")
    func stopSequenceRelease() {
        var filter = StopSequenceFilter(["END"])
        #expect(filter.push("a E") == ("a ", false))
        #expect(filter.push("Nx") == ("ENx", false))
        #expect(filter.push("fin EN") == ("fin ", false))
        #expect(filter.finish("") == "EN")
    }

    @Test("generation honours max tokens, stop sequences and seeds on a tiny model")
    func generator() throws {
        let model = try TinyModel.model()
        let context = InferenceContext(model: model, contextLength: 64, threads: 2, pinned: false)
        let generator = Generator(context: context)
        let prompt = model.tokenizer.encode("the quick")
        let limited = try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: 5, stopAtEndOfGeneration: false))
        #expect(limited.tokens.count == 5)
        #expect(limited.finishReason == .length)
        #expect(limited.text == model.tokenizer.decode(limited.tokens))

        // Stop at a piece of text the greedy run is known to produce.
        let full = try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: 12, stopAtEndOfGeneration: false))
        let stop = String(full.text.dropFirst(full.text.count / 2).prefix(2))
        var streamed = ""
        let stopped = try generator.generate(
            prompt: prompt, options: GenerationOptions(maxTokens: 12, stopSequences: [stop], stopAtEndOfGeneration: false)
        ) { streamed += $0; return true }
        #expect(stopped.finishReason == .stop)
        #expect(!stopped.text.contains(stop))
        #expect(full.text.hasPrefix(stopped.text))
        #expect(streamed == stopped.text)

        let sampling = SamplingParameters(temperature: 1, topK: 20, topP: 0.9, minP: 0, seed: 77)
        let a = try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: 10, sampling: sampling, stopAtEndOfGeneration: false))
        let b = try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: 10, sampling: sampling, stopAtEndOfGeneration: false))
        #expect(a.tokens == b.tokens)
    }

    @Test("an end-of-generation token finishes with reason eos")
    func endOfSequence() throws {
        let model = try RealModel.model()
        let context = InferenceContext(model: model, contextLength: 128, threads: 2, pinned: false)
        let template = try #require(ChatTemplate(tokenizer: model.tokenizer))
        let question = "What is the capital of France? Answer with one word."
        let prompt = model.tokenizer.encode(template.render([ChatMessage(role: "user", content: question)]))
        let result = try Generator(context: context).generate(prompt: prompt, options: GenerationOptions(maxTokens: 32))
        // llama.cpp's greedy answer (recorded once): these 7 tokens, then <|im_end|> (EOS, id 2).
        // A confident answer, unlike the near tie in the 2+2 chat, so both kernel paths agree too.
        #expect(result.finishReason == .endOfSequence)
        #expect(result.tokens == [504, 3575, 282, 4649, 314, 7042, 30])
        #expect(result.text == "The capital of France is Paris.")
    }
}
