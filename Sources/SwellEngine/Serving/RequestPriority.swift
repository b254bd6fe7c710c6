import Foundation

/// The scheduling class of a request. Higher classes are admitted and scheduled first, are
/// preempted last and are shed last.
///
/// Parsed from the request field `priority` or the header `X-Swell-Priority`: a class name, or an
/// integer where, as in vLLM, a lower number is served earlier (0 = critical, 1 = standard,
/// 2 = batch).
public enum RequestPriority: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case batch = 0
    case standard = 1
    case critical = 2

    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let named = Self.allCases.first(where: { $0.description == trimmed }) {
            self = named
        } else if let number = Int(trimmed) {
            self.init(level: number)
        } else {
            return nil
        }
    }

    /// The vLLM-style integer form: 0 = critical, 1 = standard, 2 = batch.
    public init?(level: Int) {
        switch level {
        case 0: self = .critical
        case 1: self = .standard
        case 2: self = .batch
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .critical: "critical"
        case .standard: "standard"
        case .batch: "batch"
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
