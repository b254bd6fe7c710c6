import Foundation

/// Durations as scenarios and flags write them: `90s`, `250ms`, `1.5m`, `1h30m`, or a bare
/// number of seconds.
public enum DurationText {
    private static let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]

    /// Seconds, or nil when the text is not a duration.
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let number = Double(trimmed), number.isFinite { return number }
        var rest = Substring(trimmed)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let letters = rest.prefix { $0.isLetter }
            guard let unit = units.first(where: { $0.suffix == letters }) else { return nil }
            rest = rest.dropFirst(letters.count)
            total += value * unit.seconds
        }
        return total
    }

    /// The shortest readable form: `850ms`, `2.5s`, `3m`, `1h30m`.
    public static func format(_ seconds: Double) -> String {
        if seconds < 1 { return String(format: "%gms", (seconds * 1000 * 100).rounded() / 100) }
        if seconds < 60 || seconds.truncatingRemainder(dividingBy: 60) != 0 && seconds < 600 {
            return String(format: "%gs", (seconds * 100).rounded() / 100)
        }
        let minutes = Int(seconds / 60)
        if minutes < 60 { return "\(minutes)m" }
        return minutes % 60 == 0 ? "\(minutes / 60)h" : "\(minutes / 60)h\(minutes % 60)m"
    }
}
