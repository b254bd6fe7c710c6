import Foundation
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

    /// A batch for one attention call: each sequence has `context` cached positions and adds
    /// `tokens` consecutive ones in this step (a prompt chunk after a cached prefix, a fresh
    /// prompt, or one decode token).
    struct AttentionCase: Sendable, CustomTestStringConvertible {
        struct Sequence: Sendable {
            var context: Int
            var tokens: Int
        }

        var heads: Int
        var kvHeads: Int
        var headDim: Int
        var blockSize: Int
        var f16: Bool
        var sequences: [Sequence]

        init(_ heads: Int, _ kvHeads: Int, _ headDim: Int, blockSize: Int, f16: Bool, _ sequences: [(Int, Int)]) {
            (self.heads, self.kvHeads, self.headDim, self.blockSize, self.f16) = (heads, kvHeads, headDim, blockSize, f16)
            self.sequences = sequences.map { Sequence(context: $0.0, tokens: $0.1) }
        }

        var testDescription: String {
            let batch = sequences.map { "\($0.context)+\($0.tokens)" }.joined(separator: ", ")
            return "\(heads)/\(kvHeads) heads × \(headDim), blocks of \(blockSize), \(f16 ? "F16" : "F32"), [\(batch)]"
        }
    }

    // Chosen for the kernels' edges: query heads per KV head 1, 3, 5 and 13 (more than one tile
    // of 12 rows), runs of tokens longer than a tile, block sizes below and above the vector
    // width, head sizes that are not a multiple of 16 (the AVX2 loops at the AVX-512 level), and
    // a lone decode token.
    @Test("attention at every kernel level matches a reference over the paged, transposed-K layout", arguments: [
        AttentionCase(9, 3, 64, blockSize: 16, f16: true, [(37, 13), (0, 6), (20, 1)]),
        AttentionCase(9, 3, 64, blockSize: 16, f16: false, [(37, 13), (0, 6), (20, 1)]),
        AttentionCase(9, 3, 64, blockSize: 16, f16: true, [(30, 1)]),
        AttentionCase(4, 2, 16, blockSize: 4, f16: true, [(5, 7), (0, 3)]),
        AttentionCase(10, 2, 24, blockSize: 8, f16: false, [(9, 5), (3, 1)]),
        AttentionCase(26, 2, 32, blockSize: 16, f16: true, [(17, 3)]),
        AttentionCase(4, 4, 16, blockSize: 16, f16: true, [(3, 14)]),
        AttentionCase(2, 1, 136, blockSize: 32, f16: true, [(40, 6)]),
    ])
    func attentionMatchesReference(_ shape: AttentionCase) {
        let (heads, kvHeads, headDim, blockSize) = (shape.heads, shape.kvHeads, shape.headDim, shape.blockSize)
        let kvWidth = kvHeads * headDim, group = heads / kvHeads
        var random = RandomSource(seed: 7)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in random.nextUnit() * 2 - 1 } }
        // What the pool holds: F16 rounds every element.
        func stored(_ x: Float) -> Float { shape.f16 ? swell_fp16_to_fp32(swell_fp32_to_fp16(x)) : x }

        // Each sequence's blocks, handed out interleaved and in reverse so no table is contiguous.
        let lengths = shape.sequences.map { $0.context + $0.tokens }
        let blockCounts = lengths.map { ($0 + blockSize - 1) / blockSize }
        let totalBlocks = blockCounts.reduce(0, +)
        var free = Array((0..<Int32(totalBlocks)).reversed())
        var tables = blockCounts.map { _ in [Int32]() }
        while !free.isEmpty {
            for s in tables.indices where tables[s].count < blockCounts[s] { tables[s].append(free.removeFirst()) }
        }
        let keys = lengths.map { values($0 * kvWidth) }, cacheValues = lengths.map { values($0 * kvWidth) }
        let elementBytes = shape.f16 ? 2 : 4
        var keyPool = [UInt8](repeating: 0, count: totalBlocks * blockSize * kvWidth * elementBytes)
        var valuePool = keyPool
        for s in lengths.indices {
            for p in 0..<lengths[s] {
                let row = Int(tables[s][p / blockSize]) * blockSize + p % blockSize
                let key = Array(keys[s][p * kvWidth..<(p + 1) * kvWidth])
                let value = Array(cacheValues[s][p * kvWidth..<(p + 1) * kvWidth])
                keyPool.withUnsafeMutableBytes {
                    swell_store_key_row($0.baseAddress, Int64(row), Int32(blockSize), key, Int64(kvWidth), shape.f16 ? 1 : 0)
                }
                valuePool.withUnsafeMutableBytes {
                    swell_store_kv_row($0.baseAddress! + row * kvWidth * elementBytes, value, Int64(kvWidth), shape.f16 ? 1 : 0)
                }
            }
        }

        // The batch: every sequence's new tokens, one sequence after another.
        var tokenSequence: [Int] = [], positions: [Int32] = []
        for (s, sequence) in shape.sequences.enumerated() {
            for i in 0..<sequence.tokens {
                tokenSequence.append(s)
                positions.append(Int32(sequence.context + i))
            }
        }
        let tokens = tokenSequence.count
        let q = values(tokens * heads * headDim)
        let scale: Float = 0.25

        var expected = [Float](repeating: 0, count: q.count)
        for t in 0..<tokens {
            let s = tokenSequence[t], attended = Int(positions[t]) + 1
            for h in 0..<heads {
                let column = (h / group) * headDim
                let query = q[(t * heads + h) * headDim..<(t * heads + h + 1) * headDim]
                var scores = (0..<attended).map { p in
                    Double(scale) * zip(query, keys[s][p * kvWidth + column..<p * kvWidth + column + headDim])
                        .reduce(0.0) { $0 + Double($1.0) * Double(stored($1.1)) }
                }
                let maximum = scores.max()!
                scores = scores.map { Foundation.exp($0 - maximum) }
                let total = scores.reduce(0, +)
                for d in 0..<headDim {
                    var sum = 0.0
                    for p in 0..<attended { sum += scores[p] * Double(stored(cacheValues[s][p * kvWidth + column + d])) }
                    expected[(t * heads + h) * headDim + d] = Float(sum / total)
                }
            }
        }

        let pool = WorkerPool(threads: 2)
        for level in KernelSelection.supportedLevels {
            for pooled in [false, true] {
                let previous = KernelSelection.level
                KernelSelection.select(level)
                defer { KernelSelection.select(previous) }
                var out = [Float](repeating: .nan, count: q.count)
                keyPool.withUnsafeBytes { keyBytes in
                    valuePool.withUnsafeBytes { valueBytes in
                        withTables(tables) { tablePointers in
                            let perToken = tokenSequence.map { tablePointers[$0] }
                            swell_attention_kv(pooled ? pool.handle : nil, q, &out, Int32(tokens), Int32(heads),
                                               Int32(kvHeads), Int32(headDim), keyBytes.baseAddress,
                                               valueBytes.baseAddress, shape.f16 ? 1 : 0, perToken, Int32(blockSize),
                                               positions, scale)
                        }
                    }
                }
                // NaN (an element never written) counts as the largest error, not as no error.
                let error = zip(out, expected).map { abs($0 - $1) }.map { $0.isNaN ? .infinity : $0 }.max() ?? .infinity
                #expect(error < 1e-5, "\(level)\(pooled ? ", pooled" : ""): largest difference \(error)")
            }
        }
    }

    /// Calls `body` with stable pointers to each table's first element.
    private func withTables<R>(_ tables: [[Int32]], _ body: ([UnsafePointer<Int32>?]) -> R) -> R {
        let storage = tables.map { table -> UnsafeMutablePointer<Int32> in
            let copy = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, table.count))
            copy.initialize(from: table, count: table.count)
            return copy
        }
        defer { storage.forEach { $0.deallocate() } }
        return body(storage.map { UnsafePointer($0) })
    }
}
