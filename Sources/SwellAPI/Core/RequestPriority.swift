import Foundation

/// The scheduling class of one inference request. Higher classes are admitted and scheduled
/// first, preempted last and shed last — by the engine and by the router alike.
///
/// Given as the request field `priority` or the header `X-Swell-Priority`: a class name, or an
/// integer where, as in vLLM, a lower number is served earlier (0 = critical, 1 = standard,
/// 2 = batch).
public enum RequestPriority: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible, Codable {
    case batch = 0
    case standard = 1
    case critical = 2

    /// The header that carries a request's class when its body does not.
    public static let headerName = "X-Swell-Priority"
    public static let expectation = "must be one of critical, standard, batch (or 0, 1, 2)"

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

    /// A class name or its number.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let parsed: RequestPriority? = if let number = try? container.decode(Int.self) {
            RequestPriority(level: number)
        } else if let name = try? container.decode(String.self) {
            RequestPriority(parsing: name)
        } else {
            nil
        }
        guard let parsed else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: Self.expectation)
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
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
