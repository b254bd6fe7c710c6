/// GPT-2 style byte-level BPE: every byte of a word maps to a printable character, then merges
/// from the ranked table are applied lowest rank first.
struct ByteLevelBPE: Sendable {
    /// "left right" → rank (line number in the merges table).
    private let ranks: [String: Int]

    init(merges: [String]) {
        var ranks: [String: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() where ranks[merge] == nil {
            ranks[merge] = rank
        }
        self.ranks = ranks
    }

    /// The BPE symbols of one pre-tokenized word.
    func symbols(of word: String) -> [String] {
        var parts = word.utf8.map { ByteLevelBPE.byteToCharacter[Int($0)] }
        guard parts.count > 1 else { return parts }
        while true {
            var bestRank = Int.max
            var bestIndex = -1
            for index in 0..<(parts.count - 1) {
                if let rank = ranks[parts[index] + " " + parts[index + 1]], rank < bestRank {
                    bestRank = rank
                    bestIndex = index
                }
            }
            guard bestIndex >= 0 else { return parts }
            // Merge every occurrence of the winning pair, left to right.
            let left = parts[bestIndex], right = parts[bestIndex + 1]
            var merged: [String] = []
            merged.reserveCapacity(parts.count)
            var index = 0
            while index < parts.count {
                if index + 1 < parts.count, parts[index] == left, parts[index + 1] == right {
                    merged.append(left + right)
                    index += 2
                } else {
                    merged.append(parts[index])
                    index += 1
                }
            }
            parts = merged
            if parts.count == 1 { return parts }
        }
    }

    // MARK: - Byte ↔ character table

    /// GPT-2's table: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards.
    static let byteToCharacter: [String] = {
        var table = [String](repeating: "", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7e).contains(byte) || (0xa1...0xac).contains(byte) || (0xae...0xff).contains(byte)
            let scalar = printable ? UInt32(byte) : { defer { next += 1 }; return next }()
            table[byte] = String(Character(Unicode.Scalar(scalar)!))
        }
        return table
    }()

    static let characterToByte: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (byte, character) in byteToCharacter.enumerated() {
            map[character.unicodeScalars.first!] = UInt8(byte)
        }
        return map
    }()

    /// The bytes a byte-level token text stands for; characters outside the table are kept as UTF-8.
    static func bytes(ofTokenText text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let byte = characterToByte[scalar] {
                bytes.append(byte)
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        return bytes
    }
}
