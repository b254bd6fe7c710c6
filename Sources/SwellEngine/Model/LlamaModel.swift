/// The weights of one transformer block.
struct LlamaLayer: Sendable {
    let attentionNorm: [Float]
    let query: WeightMatrix
    let key: WeightMatrix
    let value: WeightMatrix
    let attentionOutput: WeightMatrix
    let feedForwardNorm: [Float]
    let gate: WeightMatrix
    let up: WeightMatrix
    let down: WeightMatrix
}

/// A loaded llama-architecture model: config, tokenizer and weights that point into the mapped
/// GGUF file. Immutable and shareable; run it through an `InferenceContext`.
public final class LlamaModel: Sendable {
    public let gguf: GGUFFile
    public let config: LlamaConfig
    public let tokenizer: Tokenizer
    let tokenEmbedding: WeightMatrix
    let layers: [LlamaLayer]
    let outputNorm: [Float]
    /// `output.weight`, or the token embedding when the model ties them.
    let output: WeightMatrix
    public var tiedEmbeddings: Bool { output.name == tokenEmbedding.name }

    public convenience init(path: String) throws {
        try self.init(gguf: GGUFFile(path: path))
    }

    public init(gguf: GGUFFile) throws(ModelLoadError) {
        self.gguf = gguf
        let config = try LlamaConfig(gguf: gguf)
        self.config = config
        tokenizer = try Tokenizer(gguf: gguf)
        let d = config.embeddingLength
        tokenEmbedding = try WeightMatrix(gguf, "token_embd.weight", columns: d, rows: config.vocabularySize)
        var layers: [LlamaLayer] = []
        for index in 0..<config.layerCount {
            let prefix = "blk.\(index)."
            layers.append(LlamaLayer(
                attentionNorm: try loadVector(gguf, prefix + "attn_norm.weight", length: d),
                query: try WeightMatrix(gguf, prefix + "attn_q.weight", columns: d, rows: d),
                key: try WeightMatrix(gguf, prefix + "attn_k.weight", columns: d, rows: config.kvWidth),
                value: try WeightMatrix(gguf, prefix + "attn_v.weight", columns: d, rows: config.kvWidth),
                attentionOutput: try WeightMatrix(gguf, prefix + "attn_output.weight", columns: d, rows: d),
                feedForwardNorm: try loadVector(gguf, prefix + "ffn_norm.weight", length: d),
                gate: try WeightMatrix(gguf, prefix + "ffn_gate.weight", columns: d, rows: config.feedForwardLength),
                up: try WeightMatrix(gguf, prefix + "ffn_up.weight", columns: d, rows: config.feedForwardLength),
                down: try WeightMatrix(gguf, prefix + "ffn_down.weight", columns: config.feedForwardLength, rows: d)
            ))
        }
        self.layers = layers
        outputNorm = try loadVector(gguf, "output_norm.weight", length: d)
        if gguf.tensor(named: "output.weight") != nil {
            output = try WeightMatrix(gguf, "output.weight", columns: d, rows: config.vocabularySize)
        } else {
            output = tokenEmbedding
        }
        for matrix in layers.flatMap({ [$0.query, $0.key, $0.value, $0.attentionOutput, $0.gate, $0.up, $0.down] }) + [output]
        where matrix.type.isQuantized && matrix.columns % 32 != 0 {
            throw .inconsistent("\(matrix.name): \(matrix.columns) columns is not a multiple of 32")
        }
    }
}
