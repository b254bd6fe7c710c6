import Foundation
import Synchronization

/// Token attributes as GGUF stores them in `tokenizer.ggml.token_type`.
public enum TokenType: Int32, Sendable {
    case undefined = 0, normal, unknown, control, userDefined, unused, byte
}

/// The token table shared by the encoders.
struct Vocabulary: Sendable {
    let texts: [String]
    let types: [TokenType]
    let scores: [Float]
    let ids: [String: Int32]
    /// `<0xXX>` tokens by byte value (SentencePiece byte fallback).
    let byteTokens: [Int32?]
    let unknown: Int32?
}

/// Text ↔ token ids, built from GGUF metadata: `gpt2` byte-level BPE with the model's
/// pre-tokenizer, or `llama` SentencePiece. Control and user-defined tokens are recognised in the
/// text when `parseSpecial` is on.
public final class Tokenizer: Sendable {
    public enum Model: Sendable, Equatable {
        case bytePairEncoding(PreTokenizer)
        case sentencePiece
    }

    public let model: Model
    let vocabulary: Vocabulary
    private let bpe: ByteLevelBPE?
    /// Token ids of pre-tokenized words already encoded: prompts repeat words (and whole system
    /// prompts), and merging a word is most of the BPE's cost. Bounded, as Hugging Face's
    /// tokenizers bound theirs: words longer than `wordCacheMaxBytes` are not kept, and once the
    /// cache is full new words are encoded without being kept.
    private let wordCache = Mutex<[String: [Int32]]>([:])
    static let wordCacheCapacity = 16_384
    static let wordCacheMaxBytes = 256
    private let sentencePiece: SentencePiece?
    /// The special tokens' UTF-8 bytes by their first byte, longest first so that the longest
    /// match wins: a text is scanned once, and only at the bytes a special token can start with.
    private let specialTokensByFirstByte: [[(bytes: [UInt8], id: Int32)]]

    public let bos: Int32?
    public let eos: Int32?
    public let addBOS: Bool
    public let addEOS: Bool
    /// Tokens that end a generation: EOS, EOT and the end-of-turn markers of common templates.
    public let endOfGeneration: Set<Int32>
    /// The GGUF `tokenizer.chat_template`, if any.
    public let chatTemplateSource: String?

    public var count: Int { vocabulary.texts.count }

    convenience init(gguf: GGUFFile) throws(ModelLoadError) {
        guard let kind = gguf.string("tokenizer.ggml.model") else { throw .missingMetadata("tokenizer.ggml.model") }
        guard let tokenValues = gguf.array("tokenizer.ggml.tokens") else { throw .missingMetadata("tokenizer.ggml.tokens") }
        let texts = tokenValues.map { $0.stringValue ?? "" }
        let types = gguf.array("tokenizer.ggml.token_type")?.map { TokenType(rawValue: Int32(truncatingIfNeeded: $0.intValue ?? 1)) ?? .normal }
            ?? Array(repeating: .normal, count: texts.count)
        let scores = gguf.array("tokenizer.ggml.scores")?.map { Float($0.doubleValue ?? 0) }
            ?? Array(repeating: 0, count: texts.count)
        guard types.count == texts.count, scores.count == texts.count else {
            throw .tokenizer("token_type/scores lengths differ from tokens (\(texts.count))")
        }

        let model: Model
        var merges: [String] = []
        switch kind {
        case "gpt2":
            let preName = gguf.string("tokenizer.ggml.pre")
            guard let pre = PreTokenizer(ggufName: preName) else {
                throw .tokenizer("unsupported pre-tokenizer \(preName ?? "?") (supported: gpt2, smollm/starcoder, llama3)")
            }
            guard let values = gguf.array("tokenizer.ggml.merges") else { throw .missingMetadata("tokenizer.ggml.merges") }
            merges = values.compactMap(\.stringValue)
            model = .bytePairEncoding(pre)
        case "llama":
            model = .sentencePiece
        default:
            throw .tokenizer("unsupported tokenizer model \(kind) (supported: gpt2, llama)")
        }

        func tokenID(_ key: String) -> Int32? {
            guard let id = gguf.int("tokenizer.ggml.\(key)"), id >= 0, id < texts.count else { return nil }
            return Int32(id)
        }
        let eos = tokenID("eos_token_id")
        self.init(
            model: model,
            texts: texts, types: types, scores: scores, merges: merges,
            addSpacePrefix: gguf.bool("tokenizer.ggml.add_space_prefix") ?? true,
            bos: tokenID("bos_token_id"), eos: eos, unknown: tokenID("unknown_token_id"),
            addBOS: gguf.bool("tokenizer.ggml.add_bos_token") ?? (model == .sentencePiece),
            addEOS: gguf.bool("tokenizer.ggml.add_eos_token") ?? false,
            extraEnd: [eos, tokenID("eot_token_id"), tokenID("eom_token_id")].compactMap { $0 },
            chatTemplate: gguf.string("tokenizer.chat_template")
        )
    }

    private init(model: Model, texts: [String], types: [TokenType], scores: [Float], merges: [String],
                 addSpacePrefix: Bool, bos: Int32?, eos: Int32?, unknown: Int32?, addBOS: Bool, addEOS: Bool,
                 extraEnd: [Int32], chatTemplate: String?) {
        self.model = model
        switch model {
        case .bytePairEncoding:
            bpe = ByteLevelBPE(merges: merges)
            sentencePiece = nil
        case .sentencePiece:
            bpe = nil
            sentencePiece = SentencePiece(addSpacePrefix: addSpacePrefix)
        }
        self.bos = bos
        self.eos = eos
        self.addBOS = addBOS
        self.addEOS = addEOS
        chatTemplateSource = chatTemplate
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(texts.count)
        for (id, text) in texts.enumerated() where ids[text] == nil { ids[text] = Int32(id) }
        var byteTokens = [Int32?](repeating: nil, count: 256)
        for byte in 0..<256 {
            byteTokens[byte] = ids[String(format2Hex: byte)]
        }
        vocabulary = Vocabulary(texts: texts, types: types, scores: scores, ids: ids, byteTokens: byteTokens, unknown: unknown)
        let special = texts.indices
            .filter { [.control, .userDefined, .unknown].contains(types[$0]) && !texts[$0].isEmpty }
            .map { (text: texts[$0], id: Int32($0)) }
            .sorted { $0.text.utf8.count > $1.text.utf8.count }
        var byFirstByte = [[(bytes: [UInt8], id: Int32)]](repeating: [], count: 256)
        for (text, id) in special { byFirstByte[Int(text.utf8.first!)].append((Array(text.utf8), id)) }
        specialTokensByFirstByte = byFirstByte
        let endMarkers: Set<String> = ["<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "<|end_of_text|>", "</s>", "<end_of_turn>"]
        var end = Set(extraEnd)
        for (text, id) in special where endMarkers.contains(text) && types[Int(id)] == .control { end.insert(id) }
        endOfGeneration = end
    }

    // MARK: - Encoding

    /// Token ids for `text`. With `addSpecial`, BOS/EOS are added as the model asks; with
    /// `parseSpecial`, special token texts in `text` become their ids instead of being spelled out.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int32] {
        var ids: [Int32] = []
        if addSpecial, addBOS, let bos { ids.append(bos) }
        var isFirst = true
        for fragment in partition(text, parseSpecial: parseSpecial) {
            switch fragment {
            case .special(let id):
                ids.append(id)
            case .text(let piece):
                ids += encodeText(piece, isFirstFragment: isFirst)
            }
            isFirst = false
        }
        if addSpecial, addEOS, let eos { ids.append(eos) }
        return ids
    }

    private enum Fragment {
        case text(String)
        case special(Int32)
    }

    /// Splits text at occurrences of special tokens (longest match at the earliest position).
    private func partition(_ text: String, parseSpecial: Bool) -> [Fragment] {
        guard parseSpecial else { return [.text(text)] }
        let bytes = Array(text.utf8)
        var fragments: [Fragment] = []
        var textStart = 0
        var index = 0
        while index < bytes.count {
            let candidates = specialTokensByFirstByte[Int(bytes[index])]
            let matched = candidates.isEmpty ? nil : candidates.first { candidate in
                candidate.bytes.count <= bytes.count - index
                    && bytes[index..<index + candidate.bytes.count].elementsEqual(candidate.bytes)
            }
            if let matched {
                if textStart < index { fragments.append(.text(String(decoding: bytes[textStart..<index], as: UTF8.self))) }
                fragments.append(.special(matched.id))
                index += matched.bytes.count
                textStart = index
            } else {
                index += 1
            }
        }
        if textStart < bytes.count { fragments.append(.text(String(decoding: bytes[textStart...], as: UTF8.self))) }
        return fragments
    }

    private func encodeText(_ text: String, isFirstFragment: Bool) -> [Int32] {
        switch model {
        case .sentencePiece:
            return sentencePiece!.encode(text, isFirstFragment: isFirstFragment, vocabulary: vocabulary)
        case .bytePairEncoding(let pre):
            let words = pre.split(text)
            let cached = wordCache.withLock { cache in words.map { cache[$0] } }
            var ids: [Int32] = []
            var fresh: [String: [Int32]] = [:]
            for (word, hit) in zip(words, cached) {
                if let known = hit ?? fresh[word] {
                    ids += known
                    continue
                }
                let wordIDs = encodeWord(word)
                fresh[word] = wordIDs
                ids += wordIDs
            }
            if !fresh.isEmpty {
                wordCache.withLock { cache in
                    for (word, wordIDs) in fresh
                    where cache.count < Self.wordCacheCapacity && word.utf8.count <= Self.wordCacheMaxBytes {
                        cache[word] = wordIDs
                    }
                }
            }
            return ids
        }
    }

    private func encodeWord(_ word: String) -> [Int32] {
        var ids: [Int32] = []
        for symbol in bpe!.symbols(of: word) {
            if let id = vocabulary.ids[symbol] {
                ids.append(id)
            } else {
                // A merge produced text outside the vocabulary: fall back to its characters.
                for character in symbol {
                    if let id = vocabulary.ids[String(character)] { ids.append(id) }
                }
            }
        }
        return ids
    }

    // MARK: - Decoding

    /// The bytes token `id` contributes to the output. Control tokens render as their text only
    /// when `renderSpecial` is set.
    public func bytes(of id: Int32, renderSpecial: Bool = false) -> [UInt8] {
        guard id >= 0, Int(id) < vocabulary.texts.count else { return [] }
        let text = vocabulary.texts[Int(id)]
        switch vocabulary.types[Int(id)] {
        case .control, .unknown, .unused:
            return renderSpecial ? Array(text.utf8) : []
        case .userDefined:
            return Array(text.utf8)
        case .byte:
            if text.hasPrefix("<0x"), text.hasSuffix(">"), let byte = UInt8(text.dropFirst(3).dropLast(), radix: 16) {
                return [byte]
            }
            return Array(text.utf8)
        case .normal, .undefined:
            switch model {
            case .bytePairEncoding: return ByteLevelBPE.bytes(ofTokenText: text)
            case .sentencePiece: return Array(text.replacingOccurrences(of: "▁", with: " ").utf8)
            }
        }
    }

    /// Decodes ids to text; invalid UTF-8 (a split character at either end) becomes U+FFFD.
    /// SentencePiece models that add a space prefix lose it again on the first piece of text.
    public func decode(_ ids: [Int32], renderSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        var stripPrefix = model == .sentencePiece && sentencePiece?.addSpacePrefix == true
        for id in ids {
            var piece = self.bytes(of: id, renderSpecial: renderSpecial)
            if stripPrefix, type(of: id) == .normal {
                if piece.first == UInt8(ascii: " ") { piece.removeFirst() }
                stripPrefix = false
            }
            bytes += piece
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func text(of id: Int32) -> String? {
        guard id >= 0, Int(id) < vocabulary.texts.count else { return nil }
        return vocabulary.texts[Int(id)]
    }

    public func type(of id: Int32) -> TokenType? {
        guard id >= 0, Int(id) < vocabulary.types.count else { return nil }
        return vocabulary.types[Int(id)]
    }

    public func id(of text: String) -> Int32? { vocabulary.ids[text] }
}

extension String {
    /// "<0x0A>" for 10: the SentencePiece byte token spelling.
    fileprivate init(format2Hex byte: Int) {
        let digits = Array("0123456789ABCDEF")
        self = "<0x" + String(digits[byte >> 4]) + String(digits[byte & 15]) + ">"
    }
}
