import CSwellKernels

/// Runs forward passes of a `LlamaModel` with a worker pool, a KV cache and scratch buffers.
/// One context serves one thread at a time; give each serving thread its own.
public final class InferenceContext {
    public let model: LlamaModel
    public let cache: any KVCache
    public let pool: WorkerPool
    private var scratch: Scratch

    public init(model: LlamaModel, cache: any KVCache, threads: Int = WorkerPool.availableCPUs, pinned: Bool = true) {
        self.model = model
        self.cache = cache
        pool = WorkerPool(threads: threads, pinned: pinned)
        scratch = Scratch(config: model.config, tokens: 1, logitRows: 1)
    }

    /// A context with a private cache for up to `contextLength` tokens (default: the model's),
    /// F32 and without prefix sharing: one sequence's exact forward pass.
    public convenience init(model: LlamaModel, contextLength: Int? = nil, storage: KVCacheStorage = .f32,
                            threads: Int = WorkerPool.availableCPUs, pinned: Bool = true) {
        let length = min(contextLength ?? model.config.contextLength, model.config.contextLength)
        let cache = PagedKVCache(config: model.config, tokens: length, storage: storage, prefixCaching: false)
        self.init(model: model, cache: cache, threads: threads, pinned: pinned)
    }

    /// Runs one step: writes K/V of every token into the cache and returns logits for the tokens
    /// that asked for them.
    public func forward(_ batch: ForwardBatch) throws(ForwardError) -> Logits {
        let config = model.config
        let n = batch.count
        guard n > 0 else { return Logits(vocabularySize: config.vocabularySize, batchIndices: [], values: []) }
        for token in batch.tokens where token < 0 || Int(token) >= config.vocabularySize {
            throw .tokenOutOfRange(token: token, vocabularySize: config.vocabularySize)
        }
        for position in batch.positions where position < 0 || Int(position) >= config.contextLength {
            throw .positionOutOfRange(position: position, contextLength: config.contextLength)
        }
        let logitRows = batch.wantsLogits.indices.filter { batch.wantsLogits[$0] }
        scratch.ensure(config: config, tokens: n, logitRows: logitRows.count)

        // Block tables, one per sequence, flattened; each token points at its sequence's table.
        var lengths: [Int: Int] = [:]
        for (sequence, position) in zip(batch.sequences, batch.positions) {
            lengths[sequence] = max(lengths[sequence] ?? 0, Int(position) + 1)
        }
        var tableStart: [Int: Int] = [:]
        var flatTables: [Int32] = []
        do {
            for (sequence, length) in lengths.sorted(by: { $0.key < $1.key }) {
                tableStart[sequence] = flatTables.count
                flatTables += try cache.reserve(sequence: sequence, length: length)
            }
        } catch {
            throw .cache(error)
        }
        let blockSize = cache.blockSize
        var cacheRows = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let table = tableStart[batch.sequences[i]]!
            let position = Int(batch.positions[i])
            cacheRows[i] = Int(flatTables[table + position / blockSize]) * blockSize + position % blockSize
        }

        let s = scratch
        let d = config.embeddingLength
        let kvWidth = config.kvWidth
        let ffn = config.feedForwardLength
        let pool = self.pool.handle
        let kvF16: Int32 = cache.storage == .f16 ? 1 : 0
        let rowBytes = kvWidth * (cache.storage == .f16 ? 2 : 4)

        for i in 0..<n {
            model.tokenEmbedding.dequantizeRow(Int(batch.tokens[i]), into: s.x + i * d)
        }

        // The rows the head reads: after the last layer prunes the others, the first ones.
        var headRows = logitRows
        flatTables.withUnsafeBufferPointer { tables in
            var tablePointers = [UnsafePointer<Int32>?](repeating: nil, count: n)
            for i in 0..<n { tablePointers[i] = tables.baseAddress! + tableStart[batch.sequences[i]]! }
            var positionList = batch.positions
            positionList.withUnsafeMutableBufferPointer { positions in
                // Rows past the keys and values: all of them, except in the last layer.
                var rows = n
                for (layerIndex, layer) in model.layers.enumerated() {
                    // Attention block: one quantization of the normed input feeds Q, K and V.
                    layer.attentionNorm.withUnsafeBufferPointer { weight in
                        swell_rmsnorm(s.x, weight.baseAddress, s.normed, Int64(d), Int64(n), config.rmsNormEpsilon)
                    }
                    let input = Activations(floats: s.normed, quantized: s.quantized, tokens: n, width: d)
                    input.quantizeIfNeeded(for: [layer.query, layer.key, layer.value])
                    matmul([(layer.query, s.q), (layer.key, s.k), (layer.value, s.v)], input, pool: pool)
                    for i in 0..<n {
                        swell_rope(s.q + i * d, Int32(config.headCount), Int32(config.headDimension),
                                   Int32(config.ropeDimensions), positions[i], config.ropeFrequencyBase)
                        swell_rope(s.k + i * kvWidth, Int32(config.kvHeadCount), Int32(config.headDimension),
                                   Int32(config.ropeDimensions), positions[i], config.ropeFrequencyBase)
                    }
                    let keys = cache.keys(layer: layerIndex)
                    let values = cache.values(layer: layerIndex)
                    for i in 0..<n {
                        swell_store_key_row(keys, Int64(cacheRows[i]), Int32(blockSize), s.k + i * kvWidth,
                                            Int64(kvWidth), kvF16)
                        swell_store_kv_row(values + cacheRows[i] * rowBytes, s.v + i * kvWidth, Int64(kvWidth), kvF16)
                    }
                    if layerIndex == model.layers.count - 1, logitRows.count < n {
                        // Past its keys and values, nothing of the last layer reaches the output
                        // but the rows that want logits (llama.cpp's inp_out_ids): they move to the
                        // front, in order, and the others stop here. Computing them all cost a
                        // prompt step about 1/30 of its time for SmolLM2's 30 layers.
                        for (row, index) in logitRows.enumerated() where row != index {
                            (s.q + row * d).update(from: s.q + index * d, count: d)
                            (s.x + row * d).update(from: s.x + index * d, count: d)
                            positions[row] = positions[index]
                            tablePointers[row] = tablePointers[index]
                        }
                        rows = logitRows.count
                        headRows = Array(0..<rows)
                        if rows == 0 { continue }
                    }
                    tablePointers.withUnsafeBufferPointer { tablePointers in
                        swell_attention_kv(pool, s.q, s.attention, Int32(rows), Int32(config.headCount),
                                           Int32(config.kvHeadCount), Int32(config.headDimension), keys, values, kvF16,
                                           tablePointers.baseAddress, Int32(blockSize), positions.baseAddress,
                                           1 / Float(config.headDimension).squareRoot())
                    }
                    let attended = Activations(floats: s.attention, quantized: s.quantized, tokens: rows, width: d)
                    attended.quantizeIfNeeded(for: [layer.attentionOutput])
                    matmul(layer.attentionOutput, attended, into: s.projected, pool: pool)
                    swell_add(s.x, s.projected, Int64(rows * d))

                    // Feed-forward block (SwiGLU): one quantization feeds gate and up.
                    layer.feedForwardNorm.withUnsafeBufferPointer { weight in
                        swell_rmsnorm(s.x, weight.baseAddress, s.normed, Int64(d), Int64(rows), config.rmsNormEpsilon)
                    }
                    let normedRows = Activations(floats: s.normed, quantized: s.quantized, tokens: rows, width: d)
                    normedRows.quantizeIfNeeded(for: [layer.gate, layer.up])
                    matmul([(layer.gate, s.gate), (layer.up, s.up)], normedRows, pool: pool)
                    swell_swiglu(s.gate, s.up, s.gate, Int64(rows * ffn))
                    let hidden = Activations(floats: s.gate, quantized: s.quantized, tokens: rows, width: ffn)
                    hidden.quantizeIfNeeded(for: [layer.down])
                    matmul(layer.down, hidden, into: s.projected, pool: pool)
                    swell_add(s.x, s.projected, Int64(rows * d))
                }
            }
        }

        // Output head only for the rows that want logits.
        let vocabulary = config.vocabularySize
        var logits = Logits(vocabularySize: vocabulary, batchIndices: logitRows,
                            values: [Float](repeating: 0, count: logitRows.count * vocabulary))
        for (row, index) in headRows.enumerated() {
            model.outputNorm.withUnsafeBufferPointer { weight in
                swell_rmsnorm(s.x + index * d, weight.baseAddress, s.normed + row * d, Int64(d), 1, config.rmsNormEpsilon)
            }
        }
        let final = Activations(floats: s.normed, quantized: s.quantized, tokens: logitRows.count, width: d)
        final.quantizeIfNeeded(for: [model.output])
        logits.values.withUnsafeMutableBufferPointer { out in
            matmul(model.output, final, into: out.baseAddress!, pool: pool)
        }
        return logits
    }

    /// Forgets a sequence's cached keys and values.
    public func release(sequence: Int) {
        cache.release(sequence: sequence)
    }

    /// Matrices that share their input, in one parallel region (one barrier for all of them).
    private func matmul(_ group: [(weights: WeightMatrix, out: UnsafeMutablePointer<Float>)], _ input: Activations,
                        pool: OpaquePointer) {
        withUnsafeTemporaryAllocation(of: swell_matmul_spec.self, capacity: group.count) { specs in
            for (index, entry) in group.enumerated() {
                specs[index] = swell_matmul_spec(type: Int32(entry.weights.type.rawValue), weights: entry.weights.data,
                                                 row_bytes: Int64(entry.weights.rowBytes), rows: Int64(entry.weights.rows),
                                                 out: entry.out, out_stride: Int64(entry.weights.rows))
            }
            swell_matmul_group(pool, specs.baseAddress, Int32(group.count), Int64(input.width), input.floats,
                               input.quantized, Int64(input.tokens))
        }
    }

    private func matmul(_ weights: WeightMatrix, _ input: Activations, into out: UnsafeMutablePointer<Float>,
                        pool: OpaquePointer) {
        swell_matmul(pool, Int32(weights.type.rawValue), weights.data, Int64(weights.rowBytes), Int64(weights.rows),
                     Int64(weights.columns), input.floats, input.quantized, Int64(input.tokens), out,
                     Int64(weights.rows))
    }
}

/// Inputs of a matmul: float activations and, for quantized weights, their Q8 blocks.
private struct Activations {
    let floats: UnsafeMutablePointer<Float>
    let quantized: UnsafeMutablePointer<swell_q8_block>
    let tokens: Int
    let width: Int

    func quantizeIfNeeded(for weights: [WeightMatrix]) {
        guard weights.contains(where: { $0.type.isQuantized }) else { return }
        swell_quantize_q8(floats, quantized, Int64(tokens * width))
    }
}

/// Per-step buffers, grown to the largest batch seen and reused.
private final class Scratch {
    private(set) var tokens = 0
    private(set) var logitRows = 0
    var x, normed, q, k, v, attention, projected, gate, up: UnsafeMutablePointer<Float>
    var quantized: UnsafeMutablePointer<swell_q8_block>

    init(config: LlamaConfig, tokens: Int, logitRows: Int) {
        (x, normed, q, k, v, attention, projected, gate, up) = (.allocate(capacity: 1), .allocate(capacity: 1),
            .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1),
            .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1))
        quantized = .allocate(capacity: 1)
        ensure(config: config, tokens: tokens, logitRows: logitRows)
    }

    func ensure(config: LlamaConfig, tokens wanted: Int, logitRows wantedRows: Int) {
        guard wanted > tokens || wantedRows > logitRows else { return }
        deallocateAll()
        tokens = max(wanted, tokens)
        logitRows = max(wantedRows, logitRows)
        let d = config.embeddingLength
        let widest = max(d, config.feedForwardLength)
        let rows = max(tokens, logitRows)
        x = .allocate(capacity: tokens * d)
        normed = .allocate(capacity: rows * d)
        q = .allocate(capacity: tokens * d)
        k = .allocate(capacity: tokens * config.kvWidth)
        v = .allocate(capacity: tokens * config.kvWidth)
        attention = .allocate(capacity: tokens * d)
        projected = .allocate(capacity: tokens * d)
        gate = .allocate(capacity: tokens * config.feedForwardLength)
        up = .allocate(capacity: tokens * config.feedForwardLength)
        quantized = .allocate(capacity: rows * widest / 32 + 1)
    }

    private func deallocateAll() {
        for buffer in [x, normed, q, k, v, attention, projected, gate, up] { buffer.deallocate() }
        quantized.deallocate()
    }

    deinit {
        deallocateAll()
    }
}
