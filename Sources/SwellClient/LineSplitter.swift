/// Cuts a byte stream into newline-terminated lines, whatever the chunk boundaries are.
///
/// A watch response arrives in arbitrary chunks: one chunk may hold several events or half
/// of one. Lines longer than `maxLineLength` are an error rather than unbounded buffering.
public struct LineSplitter: Sendable {
    public struct LineTooLong: Error, Sendable, CustomStringConvertible {
        public var limit: Int
        public var description: String { "a watch event is longer than \(limit) bytes" }
    }

    public let maxLineLength: Int
    private var pending: [UInt8] = []

    public init(maxLineLength: Int = 16 << 20) {
        self.maxLineLength = maxLineLength
    }

    /// The complete lines `bytes` finishes, without their `\n` (and without a `\r` before it);
    /// blank lines are skipped.
    public mutating func append(_ bytes: some Collection<UInt8>) throws(LineTooLong) -> [[UInt8]] {
        pending.append(contentsOf: bytes)
        var lines = [[UInt8]]()
        var start = pending.startIndex
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var end = newline
            if end > start, pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            if end > start { lines.append(Array(pending[start..<end])) }
            start = newline + 1
        }
        pending.removeSubrange(pending.startIndex..<start)
        if pending.count > maxLineLength { throw LineTooLong(limit: maxLineLength) }
        return lines
    }

    /// Whatever followed the last newline when the stream ended (a final line without one).
    public mutating func finish() -> [UInt8]? {
        var line = pending
        pending = []
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return line.isEmpty ? nil : line
    }
}
