/// Hyperparameters of a llama-architecture model, read from GGUF metadata (`llama.*`).
public struct LlamaConfig: Sendable, Equatable {
    public var vocabularySize: Int
    public var embeddingLength: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var feedForwardLength: Int
    public var contextLength: Int
    public var ropeFrequencyBase: Float
    public var ropeDimensions: Int
    public var rmsNormEpsilon: Float

    public var headDimension: Int { embeddingLength / headCount }
    /// Floats per token per layer in each of the K and V caches.
    public var kvWidth: Int { kvHeadCount * headDimension }

    public init(vocabularySize: Int, embeddingLength: Int, layerCount: Int, headCount: Int, kvHeadCount: Int,
                feedForwardLength: Int, contextLength: Int, ropeFrequencyBase: Float, ropeDimensions: Int? = nil,
                rmsNormEpsilon: Float) {
        self.vocabularySize = vocabularySize
        self.embeddingLength = embeddingLength
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.feedForwardLength = feedForwardLength
        self.contextLength = contextLength
        self.ropeFrequencyBase = ropeFrequencyBase
        self.ropeDimensions = ropeDimensions ?? embeddingLength / headCount
        self.rmsNormEpsilon = rmsNormEpsilon
    }

    /// Reads the config; `vocabularySize` falls back to the token embedding's row count.
    init(gguf: GGUFFile) throws(ModelLoadError) {
        guard let architecture = gguf.string("general.architecture") else { throw .missingMetadata("general.architecture") }
        guard architecture == "llama" else { throw .unsupportedArchitecture(architecture) }
        func required(_ key: String) throws(ModelLoadError) -> Int {
            guard let value = gguf.int("llama.\(key)"), value > 0 else { throw .missingMetadata("llama.\(key)") }
            return value
        }
        let embedding = try required("embedding_length")
        let heads = try required("attention.head_count")
        let vocabulary = gguf.int("llama.vocab_size")
            ?? gguf.tensor(named: "token_embd.weight")?.rowCount
            ?? gguf.array("tokenizer.ggml.tokens")?.count
        guard let vocabulary else { throw .missingMetadata("llama.vocab_size") }
        self.init(
            vocabularySize: vocabulary,
            embeddingLength: embedding,
            layerCount: try required("block_count"),
            headCount: heads,
            kvHeadCount: gguf.int("llama.attention.head_count_kv") ?? heads,
            feedForwardLength: try required("feed_forward_length"),
            contextLength: gguf.int("llama.context_length") ?? 2048,
            ropeFrequencyBase: Float(gguf.double("llama.rope.freq_base") ?? 10_000),
            ropeDimensions: gguf.int("llama.rope.dimension_count"),
            rmsNormEpsilon: Float(gguf.double("llama.attention.layer_norm_rms_epsilon") ?? 1e-5)
        )
        guard vocabularySize > 0, kvHeadCount > 0, (1...(1 << 22)).contains(contextLength), embedding % heads == 0,
              heads % kvHeadCount == 0,
              ropeDimensions > 0, ropeDimensions <= headDimension, ropeDimensions % 2 == 0, headDimension <= 1024 else {
            throw .inconsistent("vocabulary \(vocabularySize), heads \(heads), kv heads \(kvHeadCount), embedding \(embedding), "
                                + "rope dims \(ropeDimensions), context \(contextLength)")
        }
    }
}

/// Why a model could not be loaded from a GGUF file.
public enum ModelLoadError: Error, Equatable, CustomStringConvertible {
    case unsupportedArchitecture(String)
    case missingMetadata(String)
    case missingTensor(String)
    case tensorShape(tensor: String, expected: [Int], actual: [Int])
    case inconsistent(String)
    case tokenizer(String)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let name): "unsupported architecture \(name) (supported: llama)"
        case .missingMetadata(let key): "missing metadata \(key)"
        case .missingTensor(let name): "missing tensor \(name)"
        case .tensorShape(let tensor, let expected, let actual): "tensor \(tensor): shape \(actual), expected \(expected)"
        case .inconsistent(let detail): "inconsistent hyperparameters: \(detail)"
        case .tokenizer(let detail): "tokenizer: \(detail)"
        }
    }
}
