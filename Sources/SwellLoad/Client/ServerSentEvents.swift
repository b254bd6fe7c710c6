/// Splits a `text/event-stream` body into the `data` of each event, however the bytes were
/// chunked on the wire. Lines may end in `\n` or `\r\n`; an event ends at a blank line; several
/// `data:` lines of one event are joined with newlines; comments and other fields are ignored.
public struct ServerSentEvents: Sendable {
    private var pending: [UInt8] = []
    private var data: [String] = []

    public init() {}

    /// Feeds bytes and returns the events they completed.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [String] {
        pending.append(contentsOf: bytes)
        var events: [String] = []
        var start = 0
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var end = newline
            if end > start, pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let line = String(decoding: pending[start..<end], as: UTF8.self)
            start = newline + 1
            if line.isEmpty {
                if !data.isEmpty { events.append(data.joined(separator: "\n")) }
                data = []
            } else if line.hasPrefix("data:") {
                var value = line.dropFirst(5)
                if value.first == " " { value = value.dropFirst() }
                data.append(String(value))
            }
        }
        pending.removeFirst(start)
        return events
    }

    /// An event left without its closing blank line when the stream ended.
    public mutating func finish() -> String? {
        if !pending.isEmpty { _ = feed([UInt8(ascii: "\n")]) }
        defer { data = [] }
        return data.isEmpty ? nil : data.joined(separator: "\n")
    }
}
