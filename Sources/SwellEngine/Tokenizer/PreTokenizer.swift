/// Splits text into the words that byte-level BPE encodes one at a time. Hand-written matchers
/// for the regular expressions the models were trained with, so no regex engine is needed.
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Every digit on its own (`\p{N}`), then the GPT-2 expression (SmolLM, StarCoder).
    case digitsThenGPT2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3

    /// The pre-tokenizer for a `tokenizer.ggml.pre` value, nil when unknown.
    public init?(ggufName: String?) {
        switch ggufName ?? "default" {
        case "default", "gpt2", "gpt-2", "olmo", "jais":
            self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva":
            self = .digitsThenGPT2
        case "llama3", "llama-bpe", "llama-v3", "smaug-bpe", "falcon3", "pixtral", "tekken":
            self = .llama3
        default:
            return nil
        }
    }

    public func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        // The matchers find words as ranges of scalars; each becomes a String from its UTF-8
        // bytes, which costs a fraction of assembling it scalar by scalar.
        var words: [Range<Int>] = []
        switch self {
        case .gpt2:
            Self.splitGPT2(scalars[...], into: &words)
        case .digitsThenGPT2:
            var start = 0
            for (index, scalar) in scalars.enumerated() where scalar.isNumber {
                if start < index { Self.splitGPT2(scalars[start..<index], into: &words) }
                words.append(index..<index + 1)
                start = index + 1
            }
            if start < scalars.count { Self.splitGPT2(scalars[start...], into: &words) }
        case .llama3:
            Self.splitLlama3(scalars[...], into: &words)
        }
        var offsets: [Int] = []
        offsets.reserveCapacity(scalars.count + 1)
        var offset = 0
        for scalar in scalars {
            offsets.append(offset)
            offset += UTF8.width(scalar)
        }
        offsets.append(offset)
        let bytes = Array(text.utf8)
        return words.map { String(decoding: bytes[offsets[$0.lowerBound]..<offsets[$0.upperBound]], as: UTF8.self) }
    }

    // MARK: - GPT-2

    private static func splitGPT2(_ s: ArraySlice<Unicode.Scalar>, into words: inout [Range<Int>]) {
        var i = s.startIndex
        let end = s.endIndex
        func emit(_ upTo: Int) {
            words.append(i..<upTo)
            i = upTo
        }
        while i < end {
            if let contraction = contractionEnd(s, at: i, caseInsensitive: false) {
                emit(contraction)
                continue
            }
            let afterSpace = s[i] == " " && i + 1 < end ? i + 1 : i
            if s[afterSpace].isLetter {
                emit(run(s, from: afterSpace, while: \.isLetter))
                continue
            }
            if s[afterSpace].isNumber {
                emit(run(s, from: afterSpace, while: \.isNumber))
                continue
            }
            if s[afterSpace].isOther {
                emit(run(s, from: afterSpace, while: \.isOther))
                continue
            }
            // Whitespace: a run followed by a non-space gives up its last character to the next word.
            let runEnd = run(s, from: i, while: \.isSpace)
            emit(runEnd < end && runEnd - i > 1 ? runEnd - 1 : runEnd)
        }
    }

    // MARK: - Llama 3

    private static func splitLlama3(_ s: ArraySlice<Unicode.Scalar>, into words: inout [Range<Int>]) {
        var i = s.startIndex
        let end = s.endIndex
        func emit(_ upTo: Int) {
            words.append(i..<upTo)
            i = upTo
        }
        while i < end {
            if let contraction = contractionEnd(s, at: i, caseInsensitive: true) {
                emit(contraction)
                continue
            }
            let c = s[i]
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if c.isLetter {
                emit(run(s, from: i, while: \.isLetter))
                continue
            }
            if !c.isNewline, !c.isNumber, i + 1 < end, s[i + 1].isLetter {
                emit(run(s, from: i + 1, while: \.isLetter))
                continue
            }
            // \p{N}{1,3}
            if c.isNumber {
                var j = i
                while j < end, j - i < 3, s[j].isNumber { j += 1 }
                emit(j)
                continue
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let afterSpace = c == " " && i + 1 < end ? i + 1 : i
            if s[afterSpace].isOther {
                let symbols = run(s, from: afterSpace, while: \.isOther)
                emit(run(s, from: symbols, while: \.isNewline))
                continue
            }
            // \s*[\r\n]+ : through the last newline of the whitespace run.
            let runEnd = run(s, from: i, while: \.isSpace)
            if let lastNewline = s[i..<runEnd].lastIndex(where: \.isNewline) {
                emit(lastNewline + 1)
                continue
            }
            // \s+(?!\S) | \s+
            emit(runEnd < end && runEnd - i > 1 ? runEnd - 1 : runEnd)
        }
    }

    // MARK: - Helpers

    private static func run(_ s: ArraySlice<Unicode.Scalar>, from start: Int, while predicate: (Unicode.Scalar) -> Bool) -> Int {
        var j = start
        while j < s.endIndex, predicate(s[j]) { j += 1 }
        return j
    }

    /// End of `'s|'t|'re|'ve|'m|'ll|'d` at `i`, if one starts there.
    private static func contractionEnd(_ s: ArraySlice<Unicode.Scalar>, at i: Int, caseInsensitive: Bool) -> Int? {
        guard s[i] == "'", i + 1 < s.endIndex else { return nil }
        func lower(_ index: Int) -> Unicode.Scalar? {
            guard index < s.endIndex else { return nil }
            let scalar = s[index]
            guard caseInsensitive, ("A"..."Z").contains(scalar) else { return scalar }
            return Unicode.Scalar(scalar.value + 32)
        }
        switch lower(i + 1) {
        case "s", "t", "m", "d": return i + 2
        case "r": return lower(i + 2) == "e" ? i + 3 : nil
        case "v": return lower(i + 2) == "e" ? i + 3 : nil
        case "l": return lower(i + 2) == "l" ? i + 3 : nil
        default: return nil
        }
    }
}

// ASCII first: prompts are mostly ASCII, and a general-category lookup costs far more than
// a range check (a 460-token prompt spent most of its pre-tokenization in them).
extension Unicode.Scalar {
    var isLetter: Bool {
        if value < 0x80 { return (value | 0x20) &- 0x61 < 26 }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    var isNumber: Bool {
        if value < 0x80 { return value &- 0x30 < 10 }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// Unicode White_Space; in ASCII, tab through carriage return and space.
    var isSpace: Bool {
        if value < 0x80 { return value == 0x20 || value &- 0x09 < 5 }
        return properties.isWhitespace
    }

    var isNewline: Bool { self == "\n" || self == "\r" }
    /// Neither whitespace, letter nor number: `[^\s\p{L}\p{N}]`.
    var isOther: Bool { !isSpace && !isLetter && !isNumber }
}
