import Foundation

/// SentencePiece-style encoding as llama.cpp's `llama` vocabularies use it: spaces become "▁",
/// adjacent pieces are merged highest score first while the merged text is in the vocabulary, and
/// characters with no piece fall back to `<0xXX>` byte tokens.
struct SentencePiece: Sendable {
    let addSpacePrefix: Bool

    func encode(_ text: String, isFirstFragment: Bool, vocabulary: Vocabulary) -> [Int32] {
        var normalized = text.replacingOccurrences(of: " ", with: "▁")
        if addSpacePrefix, isFirstFragment { normalized = "▁" + normalized }
        var symbols = normalized.map { String($0) }.flatMap { character -> [String] in
            // Work on Unicode scalars so combining sequences can still fall back byte by byte.
            character.unicodeScalars.map { String($0) }
        }
        while symbols.count > 1 {
            var bestScore = -Float.infinity
            var bestIndex = -1
            for index in 0..<(symbols.count - 1) {
                if let id = vocabulary.ids[symbols[index] + symbols[index + 1]] {
                    let score = vocabulary.scores[Int(id)]
                    if score > bestScore {
                        bestScore = score
                        bestIndex = index
                    }
                }
            }
            guard bestIndex >= 0 else { break }
            symbols[bestIndex] += symbols[bestIndex + 1]
            symbols.remove(at: bestIndex + 1)
        }
        var ids: [Int32] = []
        for symbol in symbols {
            if let id = vocabulary.ids[symbol] {
                ids.append(id)
                continue
            }
            for byte in symbol.utf8 {
                if let id = vocabulary.byteTokens[Int(byte)] {
                    ids.append(id)
                } else if let unknown = vocabulary.unknown {
                    ids.append(unknown)
                }
            }
        }
        return ids
    }
}
