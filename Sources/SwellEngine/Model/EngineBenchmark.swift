/// Prompt-processing and generation throughput, measured like llama-bench: a prompt of `promptTokens`
/// tokens in one batch, and `generationTokens` single-token steps, each from a cache holding
/// `depth` tokens (llama-bench's -d; 0 is an empty cache), repeated and summarised by the median.
/// A prompt at a depth is what a request whose prefix is cached computes. Batched decode runs
/// `sequences` sequences side by side from empty caches, one token of each per step, as the
/// serving engine does with concurrent streams, and reports their aggregate tokens/s.
public struct EngineBenchmark {
    public struct Result: Sendable {
        public var threads: Int
        public var promptTokensPerSecond: [Double]
        public var generationTokensPerSecond: [Double]
        /// Aggregate tokens/s of batched decode, per number of sequences.
        public var batchedGenerationTokensPerSecond: [Int: [Double]] = [:]

        public var medianPrompt: Double { Self.median(promptTokensPerSecond) }
        public var medianGeneration: Double { Self.median(generationTokensPerSecond) }
        public func medianBatchedGeneration(_ sequences: Int) -> Double {
            Self.median(batchedGenerationTokensPerSecond[sequences] ?? [])
        }

        static func median(_ values: [Double]) -> Double {
            guard !values.isEmpty else { return 0 }
            let sorted = values.sorted()
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
    }

    public let model: LlamaModel
    public var promptTokens: Int
    public var generationTokens: Int
    public var repetitions: Int
    /// Pin compute threads to CPUs (see `WorkerPool`).
    public var pinned = true
    public var kvCacheStorage = KVCacheStorage.f32
    /// Sequence counts for batched decode (each above 1 adds a measurement).
    public var batchedSequences: [Int] = []
    /// Tokens in the cache before each timed prompt or generation run, filled untimed.
    public var depth = 0

    public init(model: LlamaModel, promptTokens: Int = 512, generationTokens: Int = 128, repetitions: Int = 5) {
        self.model = model
        self.promptTokens = promptTokens
        self.generationTokens = generationTokens
        self.repetitions = repetitions
    }

    public func run(threads: Int) throws(ForwardError) -> Result {
        let length = min(model.config.contextLength, depth + max(promptTokens, generationTokens) + 1)
        let context = InferenceContext(model: model, contextLength: length, storage: kvCacheStorage, threads: threads,
                                       pinned: pinned)
        // Deterministic, vocabulary-spread token ids (content does not change the cost).
        let vocabulary = model.config.vocabularySize
        let prompt = (0..<promptTokens).map { Int32(($0 * 7919 + 13) % vocabulary) }
        let prefix = (0..<depth).map { Int32(($0 * 104_729 + 17) % vocabulary) }
        func fillDepth() throws(ForwardError) {
            if depth > 0 { _ = try context.forward(ForwardBatch(tokens: prefix)) }
        }
        // One untimed warm-up pass pages the weights in and starts the workers.
        _ = try context.forward(ForwardBatch(tokens: Array(prompt.prefix(8))))
        context.release(sequence: 0)

        var result = Result(threads: threads, promptTokensPerSecond: [], generationTokensPerSecond: [])
        for _ in 0..<repetitions {
            if promptTokens > 0 {
                try fillDepth()
                let start = MonotonicClock.now
                _ = try context.forward(ForwardBatch(tokens: prompt, startingAt: depth))
                result.promptTokensPerSecond.append(Double(promptTokens) / MonotonicClock.seconds(since: start))
                context.release(sequence: 0)
            }
            if generationTokens > 0 {
                var token: Int32 = prompt.first ?? 1
                try fillDepth()
                let start = MonotonicClock.now
                for position in depth..<depth + generationTokens {
                    let logits = try context.forward(ForwardBatch(tokens: [token], startingAt: position))
                    token = Int32(Sampler.argmax(logits.last))
                }
                result.generationTokensPerSecond.append(Double(generationTokens) / MonotonicClock.seconds(since: start))
                context.release(sequence: 0)
            }
        }
        for sequences in batchedSequences where sequences > 1 && generationTokens > 0 {
            result.batchedGenerationTokensPerSecond[sequences] = try batchedDecode(threads: threads, sequences: sequences,
                                                                                   first: prompt.first ?? 1)
        }
        return result
    }

    /// `generationTokens` steps of one token for each of `sequences` sequences, from empty caches.
    private func batchedDecode(threads: Int, sequences: Int, first: Int32) throws(ForwardError) -> [Double] {
        let length = min(model.config.contextLength, generationTokens + 1)
        let blockSize = 16
        let perSequence = (length + blockSize - 1) / blockSize * blockSize
        let cache = PagedKVCache(config: model.config, tokens: sequences * perSequence, blockSize: blockSize,
                                 storage: kvCacheStorage, prefixCaching: false)
        let context = InferenceContext(model: model, cache: cache, threads: threads, pinned: pinned)
        var rates: [Double] = []
        for _ in 0..<repetitions {
            // Different first tokens, so the sequences do not compute the same thing.
            var tokens = (0..<sequences).map { Int32((Int(first) + $0 * 31) % model.config.vocabularySize) }
            let start = MonotonicClock.now
            for position in 0..<min(generationTokens, length - 1) {
                var batch = ForwardBatch()
                for (sequence, token) in tokens.enumerated() {
                    batch.append(token: token, position: position, sequence: sequence, logits: true)
                }
                let logits = try context.forward(batch)
                for sequence in 0..<sequences { tokens[sequence] = Int32(Sampler.argmax(Array(logits.row(sequence)))) }
            }
            rates.append(Double(sequences * generationTokens) / MonotonicClock.seconds(since: start))
            for sequence in 0..<sequences { context.release(sequence: sequence) }
        }
        return rates
    }
}
