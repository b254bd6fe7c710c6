/// Holds back text that might be the start of a stop sequence until it is clear either way.
struct StopSequenceFilter: Sendable {
    private let stops: [[UInt8]]
    private var pending: [UInt8] = []

    init(_ stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }.map { Array($0.utf8) }
    }

    /// Returns the text safe to show, and whether a stop sequence was hit (text before it is shown).
    mutating func push(_ text: String) -> (visible: String, stopped: Bool) {
        pending += text.utf8
        guard !stops.isEmpty else { return (flushAll(), false) }
        if let cut = stops.compactMap({ firstOccurrence(of: $0) }).min() {
            let visible = String(decoding: pending[..<cut], as: UTF8.self)
            pending.removeAll()
            return (visible, true)
        }
        // Keep the longest suffix that is a proper prefix of a stop sequence.
        var keep = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, pending.count), to: keep, by: -1)
            where pending.suffix(length).elementsEqual(stop.prefix(length)) {
                keep = length
                break
            }
        }
        let visible = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return (visible, false)
    }

    mutating func finish(_ text: String) -> String {
        pending += text.utf8
        return flushAll()
    }

    private mutating func flushAll() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    private func firstOccurrence(of stop: [UInt8]) -> Int? {
        guard stop.count <= pending.count else { return nil }
        for start in 0...(pending.count - stop.count) where pending[start..<start + stop.count].elementsEqual(stop) {
            return start
        }
        return nil
    }
}
