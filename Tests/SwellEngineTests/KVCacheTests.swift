import CSwellKernels
import Testing
@testable import SwellEngine

@Suite("Paged KV cache")
struct KVCacheTests {
    let config = LlamaConfig(vocabularySize: 32, embeddingLength: 64, layerCount: 2, headCount: 4, kvHeadCount: 2,
                             feedForwardLength: 96, contextLength: 128, ropeFrequencyBase: 10_000, rmsNormEpsilon: 1e-5)

    @Test("sequences grow block by block and give their blocks back")
    func allocation() throws {
        let cache = PagedKVCache(config: config, tokens: 64, blockSize: 16, prefixCaching: false)
        #expect(cache.blockCount == 4)
        let first = try cache.reserve(sequence: 0, length: 17)
        #expect(first.count == 2)
        #expect(try cache.reserve(sequence: 0, length: 32) == first) // still fits in two blocks
        let second = try cache.reserve(sequence: 1, length: 20)
        #expect(Set(first).isDisjoint(with: second))
        #expect(cache.availableBlockCount == 0)
        #expect(cache.usageRatio == 1)
        #expect(throws: KVCacheError.outOfBlocks(sequence: 2, needed: 1, free: 0)) {
            try cache.reserve(sequence: 2, length: 1)
        }
        cache.release(sequence: 0)
        #expect(cache.availableBlockCount == 2)
        #expect(cache.usageRatio == 0.5)
        #expect(try cache.reserve(sequence: 2, length: 1).count == 1)
    }

    // The test config: 2 layers × 2 KV heads × 16 dims = 32 floats per row, a K and a V row per
    // layer: 128 elements per token, 256 bytes in F16 and 512 in F32.
    @Test("a memory budget holds as many whole blocks as fit", arguments: [
        (bytes: 256 * 16 * 3, storage: KVCacheStorage.f16, blockSize: 16, tokens: 48),
        (bytes: 256 * 16 * 3 + 255 * 16, storage: .f16, blockSize: 16, tokens: 48),
        (bytes: 256 * 16 * 4, storage: .f32, blockSize: 16, tokens: 32), // half the tokens of F16
        (bytes: 256 * 100, storage: .f16, blockSize: 1, tokens: 100),
        (bytes: 256 * 16 - 1, storage: .f16, blockSize: 16, tokens: 0),
        (bytes: -1, storage: .f16, blockSize: 16, tokens: 0),
    ])
    func sizingFromMemory(bytes: Int, storage: KVCacheStorage, blockSize: Int, tokens: Int) {
        #expect(KVCacheSizing.bytesPerToken(config: config, storage: storage) == (storage == .f16 ? 256 : 512))
        #expect(KVCacheSizing.tokens(fitting: bytes, config: config, storage: storage, blockSize: blockSize) == tokens)
        guard tokens > 0 else { return }
        // The cache built from that size allocates exactly that many blocks.
        let cache = PagedKVCache(config: config, tokens: tokens, blockSize: blockSize, storage: storage)
        #expect(cache.blockCount * blockSize == tokens)
    }

    @Test("a failed reservation takes no blocks")
    func failedReservationIsAtomic() throws {
        let cache = PagedKVCache(config: config, tokens: 48, blockSize: 16)
        _ = try cache.reserve(sequence: 0, length: 16)
        #expect(throws: KVCacheError.outOfBlocks(sequence: 1, needed: 3, free: 2)) {
            try cache.reserve(sequence: 1, length: 48)
        }
        #expect(cache.availableBlockCount == 2)
    }

    @Test("layers do not overlap in storage, and F16 rows take half the bytes", arguments: KVCacheStorage.allCases)
    func layerStorage(storage: KVCacheStorage) {
        let cache = PagedKVCache(config: config, tokens: 32, blockSize: 16, storage: storage)
        let rows = cache.blockCount * cache.blockSize
        let elementBytes = storage == .f16 ? 2 : 4
        #expect(cache.keys(layer: 1) - cache.keys(layer: 0) == rows * config.kvWidth * elementBytes)
        #expect(cache.values(layer: 1) - cache.values(layer: 0) == rows * config.kvWidth * elementBytes)
    }

    @Test("a released sequence can be replayed with the same result", arguments: KVCacheStorage.allCases)
    func replayAfterRelease(storage: KVCacheStorage) throws {
        let model = try TinyModel.model()
        let context = InferenceContext(model: model, contextLength: 32, storage: storage, threads: 1, pinned: false)
        let prompt: [Int32] = [3, 14, 15, 92, 65]
        let first = try context.forward(ForwardBatch(tokens: prompt)).last
        context.release(sequence: 0)
        // Another sequence takes the freed blocks and writes over them.
        _ = try context.forward(ForwardBatch(tokens: [7, 7, 7, 7, 7, 7], sequence: 5))
        context.release(sequence: 5)
        let again = try context.forward(ForwardBatch(tokens: prompt)).last
        #expect(first == again)
    }

    @Test("an F16 cache gives logits close to the F32 cache's")
    func f16CloseToF32() throws {
        let model = try TinyModel.model()
        let prompt: [Int32] = Array((0..<40).map { Int32(($0 * 7 + 3) % model.config.vocabularySize) })
        func logits(_ storage: KVCacheStorage) throws -> [Float] {
            let context = InferenceContext(model: model, contextLength: 64, storage: storage, threads: 1, pinned: false)
            return try context.forward(ForwardBatch(tokens: prompt)).last
        }
        let exact = try logits(.f32)
        let half = try logits(.f16)
        let largest = exact.map(abs).max() ?? 1
        let difference = zip(exact, half).map { abs($0 - $1) }.max() ?? 0
        // F16 keeps 11 significant bits (≈ 5e-4 relative per element); every later layer
        // re-quantizes its activations to Q8, which amplifies that on this random tiny model to
        // about 1.5% of the largest logit (measured). A wrong row or a byte-order slip is far larger.
        #expect(difference <= 0.03 * max(largest, 1))
        #expect(difference > 0, "the F16 path should really round the cached rows")
    }

    struct AttentionShape: Sendable, CustomTestStringConvertible {
        var heads: Int
        var kvHeads: Int
        var headDim: Int
        var tokens: Int
        var length: Int
        var f16: Bool
        var testDescription: String {
            "\(heads)/\(kvHeads) heads × \(headDim), \(tokens) tokens up to \(length), \(f16 ? "F16" : "F32")"
        }
    }

    // One token per (token, head) pair, and from four tokens on the grouped path (query heads
    // sharing a KV head in groups of up to four), with odd lengths for the position tails.
    @Test("attention: the SIMD and scalar kernels agree", arguments: [
        AttentionShape(heads: 4, kvHeads: 2, headDim: 16, tokens: 3, length: 11, f16: true),
        AttentionShape(heads: 4, kvHeads: 4, headDim: 16, tokens: 6, length: 13, f16: true),
        AttentionShape(heads: 4, kvHeads: 2, headDim: 16, tokens: 6, length: 13, f16: true),
        AttentionShape(heads: 9, kvHeads: 3, headDim: 64, tokens: 5, length: 37, f16: true),
        AttentionShape(heads: 9, kvHeads: 3, headDim: 64, tokens: 5, length: 37, f16: false),
        AttentionShape(heads: 8, kvHeads: 2, headDim: 32, tokens: 4, length: 22, f16: true),
        AttentionShape(heads: 10, kvHeads: 2, headDim: 24, tokens: 7, length: 19, f16: false),
        AttentionShape(heads: 16, kvHeads: 2, headDim: 64, tokens: 4, length: 9, f16: true),
        AttentionShape(heads: 2, kvHeads: 1, headDim: 136, tokens: 5, length: 10, f16: true),
        AttentionShape(heads: 3, kvHeads: 1, headDim: 136, tokens: 1, length: 10, f16: false),
    ])
    func attentionKernelsAgree(_ shape: AttentionShape) {
        let (heads, kvHeads, headDim, tokens, length) = (shape.heads, shape.kvHeads, shape.headDim, shape.tokens, shape.length)
        let blockSize = 4
        let kvWidth = kvHeads * headDim
        var random = RandomSource(seed: 7)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in random.nextUnit() * 2 - 1 } }
        let q = values(tokens * heads * headDim)
        let blocks = (length + blockSize - 1) / blockSize
        let table: [Int32] = (0..<Int32(blocks)).reversed().map { $0 } // non-contiguous on purpose
        let rows = blocks * blockSize * kvWidth
        let k = values(rows), v = values(rows)
        func pool(_ values: [Float]) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: rows * (shape.f16 ? 2 : 4))
            bytes.withUnsafeMutableBytes { out in
                values.withUnsafeBufferPointer { swell_store_kv_row(out.baseAddress, $0.baseAddress, Int64(rows), shape.f16 ? 1 : 0) }
            }
            return bytes
        }
        let keys = pool(k), cacheValues = pool(v)
        let positions: [Int32] = (0..<tokens).map { Int32(length - tokens + $0) }
        func run(simd: Bool) -> [Float] {
            let previous = KernelSelection.simdEnabled
            KernelSelection.simdEnabled = simd
            defer { KernelSelection.simdEnabled = previous }
            var out = [Float](repeating: 0, count: q.count)
            table.withUnsafeBufferPointer { table in
                let tables = [UnsafePointer<Int32>?](repeating: table.baseAddress, count: tokens)
                swell_attention_kv(nil, q, &out, Int32(tokens), Int32(heads), Int32(kvHeads), Int32(headDim), keys,
                                   cacheValues, shape.f16 ? 1 : 0, tables, Int32(blockSize), positions, 0.25)
            }
            return out
        }
        let simd = run(simd: true), scalar = run(simd: false)
        #expect(zip(simd, scalar).map { abs($0 - $1) }.max() ?? 1 < 1e-4)
        #expect(simd.contains { $0 != 0 })
    }
}
