import Foundation

/// A point in time serialised as an RFC 3339 string with second precision, like `metav1.Time`.
///
/// Second precision keeps a value equal to itself after a round trip through YAML or JSON.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let secondsSince1970: Int64

    public init(secondsSince1970: Int64) {
        self.secondsSince1970 = secondsSince1970
    }

    public init(_ date: Date) {
        self.secondsSince1970 = Int64(date.timeIntervalSince1970.rounded(.down))
    }

    public static func now() -> Timestamp { Timestamp(Date()) }

    public var date: Date { Date(timeIntervalSince1970: TimeInterval(secondsSince1970)) }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.secondsSince1970 < rhs.secondsSince1970
    }

    public var description: String {
        date.formatted(Date.ISO8601FormatStyle())
    }

    public init?(rfc3339 text: String) {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: text.contains("."))
        guard let date = try? style.parse(text) else {
            guard let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: !text.contains(".")).parse(text) else {
                return nil
            }
            self.init(date)
            return
        }
        self.init(date)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "invalid RFC 3339 timestamp \"\(text)\"")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// A compact age like kubectl prints: `45s`, `12m`, `3h`, `5d`.
    public func age(now: Timestamp = .now()) -> String {
        let seconds = max(0, now.secondsSince1970 - secondsSince1970)
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<(120 * 60): return "\(seconds / 60)m"
        case ..<(48 * 3600): return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }
}
