import Testing
@testable import SwellEngine

@Suite("Block KV cache")
struct KVCacheTests {
    let config = LlamaConfig(vocabularySize: 32, embeddingLength: 64, layerCount: 2, headCount: 4, kvHeadCount: 2,
                             feedForwardLength: 96, contextLength: 128, ropeFrequencyBase: 10_000, rmsNormEpsilon: 1e-5)

    @Test("sequences grow block by block and give their blocks back")
    func allocation() throws {
        let cache = BlockKVCache(config: config, tokens: 64, blockSize: 16)
        #expect(cache.blockCount == 4)
        let first = try cache.reserve(sequence: 0, length: 17)
        #expect(first.count == 2)
        #expect(try cache.reserve(sequence: 0, length: 32) == first) // still fits in two blocks
        let second = try cache.reserve(sequence: 1, length: 20)
        #expect(Set(first).isDisjoint(with: second))
        #expect(cache.freeBlockCount == 0)
        #expect(throws: KVCacheError.outOfBlocks(sequence: 2, needed: 1, free: 0)) {
            try cache.reserve(sequence: 2, length: 1)
        }
        cache.release(sequence: 0)
        #expect(cache.freeBlockCount == 2)
        #expect(try cache.reserve(sequence: 2, length: 1).count == 1)
    }

    @Test("layers do not overlap in storage")
    func layerStorage() {
        let cache = BlockKVCache(config: config, tokens: 32, blockSize: 16)
        let rows = cache.blockCount * cache.blockSize
        #expect(cache.keys(layer: 1) - cache.keys(layer: 0) == rows * config.kvWidth)
        #expect(cache.values(layer: 1) - cache.values(layer: 0) == rows * config.kvWidth)
    }

    @Test("a released sequence can be replayed with the same result")
    func replayAfterRelease() throws {
        let model = try TinyModel.model()
        let context = InferenceContext(model: model, contextLength: 32, threads: 1, pinned: false)
        let prompt: [Int32] = [3, 14, 15, 92, 65]
        let first = try context.forward(ForwardBatch(tokens: prompt)).last
        context.release(sequence: 0)
        // Another sequence takes the freed blocks and writes over them.
        _ = try context.forward(ForwardBatch(tokens: [7, 7, 7, 7, 7, 7], sequence: 5))
        context.release(sequence: 5)
        let again = try context.forward(ForwardBatch(tokens: prompt)).last
        #expect(first == again)
    }
}
