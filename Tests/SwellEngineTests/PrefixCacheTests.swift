import Testing
@testable import SwellEngine

@Suite("Prefix cache")
struct PrefixCacheTests {
    let config = LlamaConfig(vocabularySize: 512, embeddingLength: 64, layerCount: 2, headCount: 4, kvHeadCount: 2,
                             feedForwardLength: 96, contextLength: 256, ropeFrequencyBase: 10_000, rmsNormEpsilon: 1e-5)

    /// Reserves and publishes `tokens` for `sequence`, as a finished prefill would.
    private func compute(_ cache: PagedKVCache, sequence: Int, _ tokens: [Int32]) throws {
        let cached = cache.attachCachedPrefix(sequence: sequence, tokens: tokens)
        #expect(cached < tokens.count)
        _ = try cache.reserve(sequence: sequence, length: tokens.count)
        cache.commit(sequence: sequence, tokens: tokens)
    }

    private func tokens(_ range: Range<Int>) -> [Int32] { range.map { Int32($0) } }

    @Test("hits and misses are counted in tokens, whole blocks only, always leaving one token to compute")
    func accounting() throws {
        let cache = PagedKVCache(config: config, tokens: 256, blockSize: 4)
        let prompt = tokens(0..<10) // two full blocks and a partial one
        #expect(cache.attachCachedPrefix(sequence: 1, tokens: prompt) == 0)
        _ = try cache.reserve(sequence: 1, length: 10)
        cache.commit(sequence: 1, tokens: prompt)
        cache.release(sequence: 1)
        #expect(cache.prefixQueriedTokens == 10)
        #expect(cache.prefixHitTokens == 0)
        #expect(cache.cachedBlockCount == 2)

        // Same prompt: the two full blocks come from the cache, the partial third is recomputed.
        #expect(cache.attachCachedPrefix(sequence: 2, tokens: prompt) == 8)
        cache.release(sequence: 2)
        // A prompt of exactly two blocks reuses only the first: its last token must be computed.
        #expect(cache.attachCachedPrefix(sequence: 3, tokens: tokens(0..<8)) == 4)
        cache.release(sequence: 3)
        // A prompt that diverges inside the second block reuses only the first.
        #expect(cache.attachCachedPrefix(sequence: 4, tokens: tokens(0..<5) + [99, 99, 99, 99]) == 4)
        cache.release(sequence: 4)
        #expect(cache.prefixQueriedTokens == 10 + 10 + 8 + 9)
        #expect(cache.prefixHitTokens == 8 + 4 + 4)
    }

    @Test("users of one system prompt share its blocks while their questions stay private")
    func sharedSystemPrompt() throws {
        let cache = PagedKVCache(config: config, tokens: 256, blockSize: 4)
        let system = tokens(100..<112) // three blocks
        try compute(cache, sequence: 1, system + [1, 2, 3, 4, 5])
        let cached = cache.attachCachedPrefix(sequence: 2, tokens: system + [6, 7, 8])
        #expect(cached == 12)
        let first = cache.table(of: 1), second = try cache.reserve(sequence: 2, length: 15)
        #expect(Array(first.prefix(3)) == Array(second.prefix(3)), "the system prompt's blocks are shared")
        #expect(Set(first.dropFirst(3)).isDisjoint(with: second.dropFirst(3)), "the questions' blocks are not")
        // Shared blocks are counted once.
        #expect(cache.totalBlockCount - cache.availableBlockCount == 5 + 1)
    }

    @Test("a referenced block is never evicted; unreferenced ones are, least recently released and deepest first")
    func evictionOrder() throws {
        let cache = PagedKVCache(config: config, tokens: 24, blockSize: 4) // 6 blocks
        try compute(cache, sequence: 1, tokens(0..<12))       // blocks a0 a1 a2, all published
        let older = cache.table(of: 1)
        cache.release(sequence: 1)
        try compute(cache, sequence: 2, tokens(50..<58) + [1]) // b0 b1 published, plus a partial block
        let newer = cache.table(of: 2)
        cache.release(sequence: 2)
        #expect(cache.availableBlockCount == 6)
        #expect(cache.cachedBlockCount == 5)

        // Pin the older chain's first block through a hit; it must survive any pressure.
        #expect(cache.attachCachedPrefix(sequence: 3, tokens: tokens(0..<5)) == 4)
        #expect(cache.table(of: 3) == [older[0]])

        // The clean block goes first, then evictions: a2 before a1 (deepest first), then b1, b0.
        let taken = try cache.reserve(sequence: 4, length: 5 * 4)
        #expect(taken.count == 5)
        #expect(taken[0] == newer[2], "the never-published partial block is used before any eviction")
        #expect(Array(taken[1...]) == [older[2], older[1], newer[1], newer[0]])
        #expect(!taken.contains(older[0]))
        #expect(throws: KVCacheError.self) { try cache.reserve(sequence: 5, length: 1) }
        // The pinned block is still found.
        cache.release(sequence: 4)
        #expect(cache.attachCachedPrefix(sequence: 6, tokens: tokens(0..<5)) == 4)
    }

    @Test("a hit revives a block waiting for eviction, so it is not taken from under its new user")
    func hitRevivesEvictableBlock() throws {
        let cache = PagedKVCache(config: config, tokens: 8, blockSize: 4) // 2 blocks
        try compute(cache, sequence: 1, tokens(0..<8))
        cache.release(sequence: 1)
        #expect(cache.attachCachedPrefix(sequence: 2, tokens: tokens(0..<6)) == 4)
        #expect(cache.availableBlockCount == 1)
        let table = try cache.reserve(sequence: 2, length: 8)
        #expect(Set(table).count == 2)
    }

    @Test("colliding keys never share rows of different tokens")
    func collisionsAreCaught() throws {
        // Every block gets the same key: only the stored tokens tell blocks apart.
        let cache = PagedKVCache(config: config, tokens: 64, blockSize: 4, storage: .f32, prefixCaching: true,
                                 blockHash: { _, _ in 42 })
        try compute(cache, sequence: 1, tokens(0..<9))
        cache.release(sequence: 1)
        #expect(cache.attachCachedPrefix(sequence: 2, tokens: tokens(10..<19)) == 0)
        cache.release(sequence: 2)
        #expect(cache.attachCachedPrefix(sequence: 3, tokens: tokens(0..<9)) == 4,
                "the second block's key collides with the first's and the parent check stops the chain there")
    }

    @Test("without prefix caching nothing is shared or counted")
    func disabled() throws {
        let cache = PagedKVCache(config: config, tokens: 64, blockSize: 4, prefixCaching: false)
        #expect(cache.attachCachedPrefix(sequence: 1, tokens: tokens(0..<9)) == 0)
        _ = try cache.reserve(sequence: 1, length: 9)
        cache.commit(sequence: 1, tokens: tokens(0..<9))
        cache.release(sequence: 1)
        #expect(cache.attachCachedPrefix(sequence: 2, tokens: tokens(0..<9)) == 0)
        #expect(cache.prefixQueriedTokens == 0)
        #expect(cache.cachedBlockCount == 0)
    }

    @Test("greedy decoding after a prefix-cache hit produces the same tokens as a cold run",
          arguments: KVCacheStorage.allCases)
    func hitMatchesColdRun(storage: KVCacheStorage) throws {
        let model = try TinyModel.model()
        let vocabulary = model.config.vocabularySize
        let system: [Int32] = (0..<37).map { Int32(($0 * 11 + 5) % vocabulary) }
        let question: [Int32] = [9, 4, 17, 2, 30]

        func decode(_ context: InferenceContext, sequence: Int, prompt: [Int32], from start: Int) throws -> [Int32] {
            var logits = try context.forward(ForwardBatch(tokens: Array(prompt[start...]), startingAt: start,
                                                          sequence: sequence)).last
            var generated: [Int32] = []
            var sampler = Sampler(.greedy)
            for step in 0..<8 {
                let token = sampler.sample(logits)
                generated.append(token)
                logits = try context.forward(ForwardBatch(tokens: [token], startingAt: prompt.count + step,
                                                          sequence: sequence)).last
            }
            return generated
        }

        let cold = InferenceContext(model: model, contextLength: 128, storage: storage, threads: 1, pinned: false)
        let expected = try decode(cold, sequence: 0, prompt: system + question, from: 0)

        let cache = PagedKVCache(config: model.config, tokens: 256, blockSize: 8, storage: storage)
        let warm = InferenceContext(model: model, cache: cache, threads: 1, pinned: false)
        // A first user computes the system prompt (with a different question) and publishes it.
        let other = system + [1, 1, 1]
        #expect(warm.cache.attachCachedPrefix(sequence: 1, tokens: other) == 0)
        _ = try warm.forward(ForwardBatch(tokens: other, sequence: 1))
        warm.cache.commit(sequence: 1, tokens: other)
        warm.release(sequence: 1)

        let prompt = system + question
        let cached = warm.cache.attachCachedPrefix(sequence: 2, tokens: prompt)
        #expect(cached == 32, "four full blocks of the 37-token system prompt")
        #expect(try decode(warm, sequence: 2, prompt: prompt, from: cached) == expected)
    }
}
