import Testing
@testable import SwellEngine

/// SmolLM2-135M-Instruct (Q4_1) against numbers recorded from llama.cpp. These tests fail, never
/// skip, when the model is missing: run `make setup`.
@Suite("Real model: SmolLM2-135M-Instruct Q4_1")
struct RealModelTests {
    @Test("metadata and hyperparameters are read as published")
    func hyperparameters() throws {
        let model = try RealModel.model()
        let config = model.config
        #expect(config.layerCount == 30)
        #expect(config.embeddingLength == 576)
        #expect(config.headCount == 9)
        #expect(config.kvHeadCount == 3)
        #expect(config.feedForwardLength == 1536)
        #expect(config.vocabularySize == 49152)
        #expect(config.ropeFrequencyBase == 100_000)
        #expect(model.tiedEmbeddings)
        #expect(model.tokenEmbedding.type == .q8_0)
        #expect(model.layers[0].query.type == .q4_1)
        #expect(model.tokenizer.model == .bytePairEncoding(.digitsThenGPT2))
        #expect(model.tokenizer.eos == 2)
        #expect(model.tokenizer.addBOS == false)
    }

    @Test("logits match llama.cpp at every prompt position", arguments: LlamaCppReference.logits.indices)
    func logitsMatchLlamaCpp(index: Int) throws {
        let reference = LlamaCppReference.logits[index]
        let model = try RealModel.model()
        #expect(model.tokenizer.encode(reference.prompt) == reference.tokens)
        let context = InferenceContext(model: model, contextLength: 256, threads: 2, pinned: false)
        var batch = ForwardBatch()
        for (position, token) in reference.tokens.enumerated() {
            batch.append(token: token, position: position, sequence: 0, logits: true)
        }
        let logits = try context.forward(batch)
        var differences: [Float] = []
        for (position, top) in reference.topLogits.enumerated() {
            let row = logits.row(position)
            // The same top token wherever llama.cpp's top two are not a near tie.
            if top[0].logit - top[1].logit > 1 {
                #expect(Int32(Sampler.argmax(row)) == top[0].id, "position \(position)")
            }
            differences += top.map { abs(row[row.startIndex + Int($0.id)] - $0.logit) }
        }
        // Both engines round activations to 8 bits per block of 32 before each of the 211 quantized
        // matmuls (llama.cpp also keeps fp16 block scales and an fp16 KV cache). Which values
        // round which way depends on float summation order, so each engine's logits carry a noise
        // of about ±0.2 on average and up to ~1.3 at worst (logits span ±35 here; see the float64
        // test below), and the two differ by that much from each other (recorded: mean 0.21–0.32,
        // max 0.82–1.11 across both prompts and both kernel paths). A real bug — RoPE pairing, the
        // GQA head mapping, a norm — moves logits by whole units at nearly every position.
        let worst = differences.max() ?? 0
        let mean = differences.reduce(0, +) / Float(differences.count)
        #expect(worst < 1.75, "largest top-10 logit difference \(worst)")
        #expect(mean < 0.45, "mean top-10 logit difference \(mean)")
    }

    @Test("logits are as close to an exact float64 forward pass as llama.cpp's are")
    func logitsMatchFloat64Reference() throws {
        let model = try RealModel.model()
        var ours: [Float] = []
        var llamaCpp: [Float] = []
        for (index, reference) in LlamaCppReference.logits.enumerated() {
            let context = InferenceContext(model: model, contextLength: 64, threads: 2, pinned: false)
            var batch = ForwardBatch()
            for (position, token) in reference.tokens.enumerated() {
                batch.append(token: token, position: position, sequence: 0, logits: true)
            }
            let logits = try context.forward(batch)
            for (position, exact) in Float64Reference.logits[index].enumerated() {
                let row = logits.row(position)
                for (rank, (id, logit)) in exact.enumerated() {
                    ours.append(abs(row[row.startIndex + Int(id)] - logit))
                    llamaCpp.append(abs(reference.topLogits[position][rank].logit - logit))
                }
            }
        }
        let ourMean = ours.reduce(0, +) / Float(ours.count)
        let llamaCppMean = llamaCpp.reduce(0, +) / Float(llamaCpp.count)
        // Recorded over 470 logits: llama.cpp is off by 0.23 on average and 1.26 at worst; this
        // engine by 0.21 on average and at most 1.0 (1.55 with scalar kernels).
        #expect(llamaCppMean > 0.15 && llamaCppMean < 0.3)
        #expect(ourMean < 1.5 * llamaCppMean, "mean difference from float64 \(ourMean) (llama.cpp: \(llamaCppMean))")
        #expect((ours.max() ?? 0) < 1.75, "largest difference from float64 \(ours.max() ?? 0)")
    }

    @Test("greedy decoding completes the capital of France with Paris, as llama.cpp does")
    func greedyParis() throws {
        let model = try RealModel.model()
        let context = InferenceContext(model: model, contextLength: 128, threads: 2, pinned: false)
        let reference = LlamaCppReference.logits[0]
        let result = try Generator(context: context).generate(
            prompt: model.tokenizer.encode("The capital of France is"),
            options: GenerationOptions(maxTokens: 8)
        )
        #expect(result.text.hasPrefix(" Paris"))
        #expect(result.tokens == Array(reference.greedy.prefix(8)))
    }
}
