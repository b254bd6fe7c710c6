import Foundation

/// A Kubernetes resource quantity such as `250m`, `2`, `512Mi`, `1Gi` or `1e3`.
///
/// The value is held exactly as a `Decimal`; the text the user wrote is kept so that a
/// manifest round-trips unchanged through the store.
public struct Quantity: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    public let text: String
    /// The exact value in base units (cores for CPU, bytes for memory).
    public let value: Decimal

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let text: String
        public var description: String {
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got \"\(text)\")"
        }
    }

    public init(_ text: String) throws(ParseError) {
        guard let value = Quantity.parse(text) else { throw ParseError(text: text) }
        self.text = text
        self.value = value
    }

    /// A quantity from a whole number of millis, written the way kubectl would (`1500m`, `2`).
    public init(millis: Int64) {
        if millis % 1000 == 0 {
            self.text = "\(millis / 1000)"
        } else {
            self.text = "\(millis)m"
        }
        self.value = Decimal(millis) / 1000
    }

    /// A quantity of bytes written with the largest exact binary suffix (`512Mi`, `1Gi`).
    public init(bytes: Int64) {
        let suffixes = ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"]
        var text = "\(bytes)"
        for (index, suffix) in suffixes.enumerated() {
            let unit = Int64(1) << (10 * (6 - index))
            if bytes != 0, bytes % unit == 0 {
                text = "\(bytes / unit)\(suffix)"
                break
            }
        }
        self.text = text
        self.value = Decimal(bytes)
    }

    public var description: String { text }

    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.value < rhs.value }

    /// Whole millis, rounded up as `resource.Quantity.MilliValue` does.
    public var millis: Int64 { Quantity.roundedUp(value * 1000) }

    /// Whole base units, rounded up as `resource.Quantity.Value` does.
    public var integerValue: Int64 { Quantity.roundedUp(value) }

    public var doubleValue: Double { NSDecimalNumber(decimal: value).doubleValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text: String
        if let number = try? container.decode(Int64.self) {
            text = String(number)
        } else if let number = try? container.decode(Double.self) {
            text = String(number)
        } else {
            text = try container.decode(String.self)
        }
        do {
            try self.init(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    private static func roundedUp(_ value: Decimal) -> Int64 {
        var input = value
        var result = Decimal()
        NSDecimalRound(&result, &input, 0, .up)
        return NSDecimalNumber(decimal: result).int64Value
    }

    private static let binarySuffixes: [String: Int] = ["Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60]
    private static let decimalSuffixes: [String: Int] = [
        "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
    ]

    /// Parses `<sign><digits>[.<digits>]<suffix>` exactly; nil when the text is not a quantity.
    static func parse(_ text: String) -> Decimal? {
        var scalars = Substring(text)
        var negative = false
        if let first = scalars.first, first == "+" || first == "-" {
            negative = first == "-"
            scalars = scalars.dropFirst()
        }
        let numberEnd = scalars.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? scalars.endIndex
        let number = scalars[..<numberEnd]
        let suffix = String(scalars[numberEnd...])
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard !number.isEmpty, parts.count <= 2, parts.contains(where: { !$0.isEmpty }) else { return nil }

        // Build the mantissa digit by digit so that no binary floating point is involved.
        var mantissa = Decimal(0)
        var fractionDigits = 0
        for (partIndex, part) in parts.enumerated() {
            for character in part {
                guard let digit = character.wholeNumberValue else { return nil }
                mantissa = mantissa * 10 + Decimal(digit)
                if partIndex == 1 { fractionDigits += 1 }
            }
        }
        var value = mantissa / power(10, fractionDigits)

        if let shift = binarySuffixes[suffix] {
            value *= power(2, shift)
        } else if let exponent = decimalSuffixes[suffix] {
            value = exponent >= 0 ? value * power(10, exponent) : value / power(10, -exponent)
        } else if let first = suffix.first, first == "e" || first == "E" {
            guard let exponent = Int(suffix.dropFirst()), abs(exponent) <= 30 else { return nil }
            value = exponent >= 0 ? value * power(10, exponent) : value / power(10, -exponent)
        } else {
            return nil
        }
        return negative ? -value : value
    }

    private static func power(_ base: Int, _ exponent: Int) -> Decimal {
        var result = Decimal(1)
        for _ in 0..<exponent { result *= Decimal(base) }
        return result
    }
}
