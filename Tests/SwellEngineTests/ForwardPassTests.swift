import Testing
@testable import SwellEngine

/// Largest |a - b| over two equally long vectors.
func maxAbsDifference<A: Collection<Float>, B: Collection<Float>>(_ a: A, _ b: B) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func maxAbs<A: Collection<Float>>(_ a: A) -> Float { a.reduce(0) { max($0, abs($1)) } }

@Suite("Forward pass on tiny models")
struct ForwardPassTests {
    let prompt: [Int32] = [40, 120, 7, 250, 33, 99, 181, 5, 64, 200, 17, 3]

    @Test("float weights match the naive reference closely")
    func floatWeightsMatchReference() throws {
        var options = TinyModel.Options()
        options.attentionType = .f32
        options.feedForwardType = .f16
        options.embeddingType = .bf16
        options.outputType = .f32
        let model = try TinyModel.model(options)
        let expected = NaiveLlama(model).logits(prompt)
        let context = InferenceContext(model: model, contextLength: 64, threads: 2, pinned: false)
        var batch = ForwardBatch()
        for (position, token) in prompt.enumerated() {
            batch.append(token: token, position: position, sequence: 0, logits: true)
        }
        let logits = try context.forward(batch)
        #expect(logits.rowCount == prompt.count)
        for row in 0..<prompt.count {
            // Float weights and activations: only summation order and RoPE angle rounding differ.
            #expect(maxAbsDifference(logits.row(row), expected[row]) < 2e-3 * max(1, maxAbs(expected[row])),
                    "position \(row)")
        }
    }

    @Test("quantized weights stay within the activation-quantization error of the reference",
          arguments: [(GGMLType.q4_1, GGMLType.q4_0, GGMLType.q8_0), (.q8_0, .q4_1, .q4_0), (.q4_0, .q8_0, .q4_1)])
    func quantizedWeightsMatchReference(types: (GGMLType, GGMLType, GGMLType)) throws {
        var options = TinyModel.Options()
        options.attentionType = types.0
        options.feedForwardType = types.1
        options.embeddingType = types.2
        let model = try TinyModel.model(options)
        let expected = NaiveLlama(model).logits(prompt)
        let context = InferenceContext(model: model, contextLength: 64, threads: 2, pinned: false)
        let last = try context.forward(ForwardBatch(tokens: prompt)).last
        // Activations are rounded to int8 per block of 32 (relative error ≤ 1/254 of the block's
        // largest value) before every quantized matmul; through 2 layers that stays below a few
        // percent of the logit range, while a wrong kernel is off by the whole range.
        let scale = maxAbs(expected.last!)
        #expect(maxAbsDifference(last, expected.last!) < 0.03 * scale)
        #expect(Sampler.argmax(last) == Sampler.argmax(expected.last!))
    }

    @Test("batched prefill gives the same logits as token-by-token decode")
    func prefillEqualsDecode() throws {
        let model = try TinyModel.model()
        let batched = InferenceContext(model: model, contextLength: 64, threads: 2, pinned: false)
        var all = ForwardBatch()
        for (position, token) in prompt.enumerated() { all.append(token: token, position: position, sequence: 0, logits: true) }
        let prefill = try batched.forward(all)

        let stepwise = InferenceContext(model: model, contextLength: 64, threads: 1, pinned: false)
        for (position, token) in prompt.enumerated() {
            let step = try stepwise.forward(ForwardBatch(tokens: [token], startingAt: position))
            #expect(maxAbsDifference(step.last, prefill.row(position)) < 1e-4, "position \(position)")
        }
    }

    @Test("the last layer goes on with only the rows that want logits; the others' keys and values are kept")
    func lastLayerKeepsOnlyLogitRows() throws {
        let model = try TinyModel.model()
        var everyRow = ForwardBatch()
        for (position, token) in prompt.enumerated() { everyRow.append(token: token, position: position, sequence: 0, logits: true) }
        let full = try InferenceContext(model: model, contextLength: 64, threads: 2, pinned: false).forward(everyRow)

        // Rows 3 and 11 only: they move to the front of the last layer, in order.
        var someRows = ForwardBatch()
        for (position, token) in prompt.enumerated() {
            someRows.append(token: token, position: position, sequence: 0, logits: position == 3 || position == 11)
        }
        let pruned = try InferenceContext(model: model, contextLength: 64, threads: 2, pinned: false).forward(someRows)
        #expect(pruned.batchIndices == [3, 11])
        #expect(maxAbsDifference(pruned.row(0), full.row(3)) < 1e-4)
        #expect(maxAbsDifference(pruned.row(1), full.row(11)) < 1e-4)

        // A chunk that wants no logits skips the last layer's rest but stores its keys and values:
        // the next chunk attends to them.
        let chunked = InferenceContext(model: model, contextLength: 64, threads: 2, pinned: false)
        var first = ForwardBatch()
        for position in 0..<7 { first.append(token: prompt[position], position: position, sequence: 0, logits: false) }
        #expect(try chunked.forward(first).rowCount == 0)
        let rest = try chunked.forward(ForwardBatch(tokens: Array(prompt[7...]), startingAt: 7)).last
        #expect(maxAbsDifference(rest, full.row(prompt.count - 1)) < 1e-4)
    }

    @Test("one step over two sequences equals two separate sequences")
    func multiSequenceBatch() throws {
        let model = try TinyModel.model()
        let other: [Int32] = [9, 8, 7, 6, 5]
        let separate = InferenceContext(model: model, contextLength: 64, threads: 2, pinned: false)
        let first = try separate.forward(ForwardBatch(tokens: prompt, sequence: 0)).last
        let second = try separate.forward(ForwardBatch(tokens: other, sequence: 1)).last

        let shared = InferenceContext(model: model, contextLength: 64, threads: 2, pinned: false)
        var batch = ForwardBatch()
        // Interleave the two sequences' tokens in one step.
        for index in 0..<max(prompt.count, other.count) {
            if index < prompt.count { batch.append(token: prompt[index], position: index, sequence: 0, logits: index == prompt.count - 1) }
            if index < other.count { batch.append(token: other[index], position: index, sequence: 1, logits: index == other.count - 1) }
        }
        let logits = try shared.forward(batch)
        #expect(logits.rowCount == 2)
        let rows = Dictionary(uniqueKeysWithValues: logits.batchIndices.enumerated().map { (batch.sequences[$0.element], $0.offset) })
        #expect(maxAbsDifference(logits.row(rows[0]!), first) < 1e-4)
        #expect(maxAbsDifference(logits.row(rows[1]!), second) < 1e-4)

        // Continuing one sequence after the shared step still sees its own history only.
        let next = try shared.forward(ForwardBatch(tokens: [11], startingAt: other.count, sequence: 1)).last
        let nextSeparate = try separate.forward(ForwardBatch(tokens: [11], startingAt: other.count, sequence: 1)).last
        #expect(maxAbsDifference(next, nextSeparate) < 1e-4)
    }

    @Test("bad tokens, positions and a full cache are errors, not crashes")
    func forwardErrors() throws {
        let model = try TinyModel.model()
        let context = InferenceContext(model: model, contextLength: 32, threads: 1, pinned: false)
        #expect(throws: ForwardError.tokenOutOfRange(token: Int32(model.config.vocabularySize), vocabularySize: model.config.vocabularySize)) {
            try context.forward(ForwardBatch(tokens: [Int32(model.config.vocabularySize)]))
        }
        #expect(throws: ForwardError.positionOutOfRange(position: 128, contextLength: 128)) {
            try context.forward(ForwardBatch(tokens: [1], startingAt: 128))
        }
        #expect(throws: ForwardError.self) {
            try context.forward(ForwardBatch(tokens: [1], startingAt: 40))
        }
    }

    @Test("missing tensors and wrong shapes are reported by name")
    func loadErrors() throws {
        var writer = TinyModel.writer()
        writer.set("general.architecture", .string("mamba"))
        #expect(throws: ModelLoadError.unsupportedArchitecture("mamba")) {
            try LlamaModel(gguf: GGUFFile(bytes: writer.serialized()))
        }
        var options = TinyModel.Options()
        options.layers = 1
        var oneLayer = TinyModel.writer(options)
        oneLayer.set("llama.block_count", .uint32(2))
        #expect(throws: ModelLoadError.missingTensor("blk.1.attn_norm.weight")) {
            try LlamaModel(gguf: GGUFFile(bytes: oneLayer.serialized()))
        }
    }
}

@Suite("Engine benchmark")
struct EngineBenchmarkTests {
    @Test("a depth puts every timed prompt and generation after that many cached tokens")
    func depthFillsTheCacheFirst() throws {
        let model = try TinyModel.model() // a context of 128 tokens
        var benchmark = EngineBenchmark(model: model, promptTokens: 8, generationTokens: 4, repetitions: 2)
        benchmark.pinned = false
        benchmark.depth = 120
        let result = try benchmark.run(threads: 2)
        #expect(result.promptTokensPerSecond.count == 2 && result.promptTokensPerSecond.allSatisfy { $0 > 0 })
        #expect(result.generationTokensPerSecond.count == 2 && result.generationTokensPerSecond.allSatisfy { $0 > 0 })
        // One token deeper and the prompt's last position is past the context: proof that the
        // prompt really starts at the depth.
        benchmark.depth = 121
        #expect(throws: ForwardError.self) { try benchmark.run(threads: 2) }
    }
}
