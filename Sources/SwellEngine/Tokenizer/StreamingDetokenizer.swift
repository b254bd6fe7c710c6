/// Turns a stream of token ids into text pieces without ever splitting a UTF-8 character: bytes
/// of an incomplete character are held back until the token that completes it arrives.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: Tokenizer
    public var renderSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, renderSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// The text that `id` completes (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        pending += tokenizer.bytes(of: id, renderSpecial: renderSpecial)
        let complete = pending.count - Self.incompleteSuffixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is still held back, with U+FFFD for bytes that never formed a character.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of a trailing, so far valid but unfinished UTF-8 sequence (0...3).
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        // Walk back over at most 3 continuation bytes to the lead byte.
        var index = bytes.count - 1
        var continuations = 0
        while index >= 0, continuations < 3, bytes[index] & 0xC0 == 0x80 {
            index -= 1
            continuations += 1
        }
        guard index >= 0 else { return 0 }
        let lead = bytes[index]
        let expected: Int
        switch lead {
        case 0xC2...0xDF: expected = 2
        case 0xE0...0xEF: expected = 3
        case 0xF0...0xF4: expected = 4
        default: return 0 // ASCII or an invalid lead: nothing worth waiting for
        }
        let have = bytes.count - index
        return have < expected ? have : 0
    }
}
