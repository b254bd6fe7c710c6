/// One sample line: `name{label="value",…} value [timestamp]`.
public struct PrometheusSample: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var value: Double
    /// Milliseconds since the epoch, when the line has one.
    public var timestamp: Int64?

    public init(name: String, labels: [String: String] = [:], value: Double, timestamp: Int64? = nil) {
        self.name = name
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
    }
}

public struct PrometheusParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

/// A scrape in the Prometheus text exposition format (version 0.0.4), parsed strictly: a line
/// that is not a comment, a well-formed `# HELP`/`# TYPE`, or a well-formed sample is an error
/// naming its line, as are repeated series, repeated labels and conflicting TYPE lines.
public struct PrometheusExposition: Sendable, Equatable {
    public enum MetricType: String, Sendable, Equatable {
        case counter
        case gauge
        case histogram
        case summary
        case untyped
    }

    public private(set) var samples: [PrometheusSample] = []
    /// Metric family name → its `# TYPE`.
    public private(set) var types: [String: MetricType] = [:]
    /// Metric family name → its `# HELP` text, unescaped.
    public private(set) var help: [String: String] = [:]

    public init(parsing text: String) throws(PrometheusParseError) {
        var seen = Set<SeriesKey>()
        var sampledFamilies = Set<String>()
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var cursor = Cursor(Array(line.utf8), line: number)
            cursor.skipSpaces()
            if cursor.atEnd { continue }
            if cursor.peek == UInt8(ascii: "#") {
                try comment(&cursor, sampledFamilies: sampledFamilies)
                continue
            }
            let sample = try Self.sample(&cursor)
            let key = SeriesKey(name: sample.name, labels: sample.labels)
            guard seen.insert(key).inserted else {
                throw PrometheusParseError(line: number, message: "duplicate series \(Self.render(sample.name, sample.labels))")
            }
            sampledFamilies.insert(Self.family(of: sample.name, types: types))
            samples.append(sample)
        }
    }

    /// The samples of one metric name whose labels include `labels`.
    public func samples(named name: String, matching labels: [String: String] = [:]) -> [PrometheusSample] {
        samples.filter { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }
    }

    /// The sum over matching series, or nil when there are none (the metric is not exposed).
    public func sum(_ name: String, matching labels: [String: String] = [:]) -> Double? {
        let matching = samples(named: name, matching: labels)
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    // MARK: Parsing

    private struct SeriesKey: Hashable {
        var name: String
        var labels: [String: String]
    }

    /// `x_bucket`, `x_sum`, `x_count` belong to the family `x` when `x` is a histogram or summary.
    private static func family(of name: String, types: [String: MetricType]) -> String {
        for suffix in ["_bucket", "_sum", "_count", "_created"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == .histogram || types[base] == .summary { return base }
        }
        return name
    }

    private mutating func comment(_ cursor: inout Cursor, sampledFamilies: Set<String>) throws(PrometheusParseError) {
        cursor.advance()  // '#'
        cursor.skipSpaces()
        let keyword = cursor.word()
        guard keyword == "HELP" || keyword == "TYPE" else { return }  // any other comment
        guard cursor.skipSpaces() > 0 else { throw cursor.error("expected a metric name after # \(keyword)") }
        let name = try cursor.metricName()
        if keyword == "HELP" {
            if !cursor.atEnd, cursor.skipSpaces() == 0 { throw cursor.error("expected a space after the metric name") }
            guard help[name] == nil else { throw cursor.error("a second # HELP for \(name)") }
            help[name] = try cursor.helpText()
            return
        }
        guard cursor.skipSpaces() > 0 else { throw cursor.error("expected a type after # TYPE \(name)") }
        let typeName = cursor.word()
        guard let type = MetricType(rawValue: typeName) else {
            throw cursor.error("unknown metric type \"\(typeName)\" (counter, gauge, histogram, summary or untyped)")
        }
        cursor.skipSpaces()
        guard cursor.atEnd else { throw cursor.error("unexpected text after # TYPE \(name) \(typeName)") }
        guard types[name] == nil else { throw cursor.error("a second # TYPE for \(name)") }
        guard !sampledFamilies.contains(name) else { throw cursor.error("# TYPE \(name) comes after its samples") }
        types[name] = type
    }

    private static func sample(_ cursor: inout Cursor) throws(PrometheusParseError) -> PrometheusSample {
        let name = try cursor.metricName()
        var labels: [String: String] = [:]
        if cursor.peek == UInt8(ascii: "{") {
            cursor.advance()
            cursor.skipSpaces()
            while cursor.peek != UInt8(ascii: "}") {
                guard !cursor.atEnd else { throw cursor.error("unterminated label set") }
                let label = try cursor.labelName()
                cursor.skipSpaces()
                try cursor.expect("=")
                cursor.skipSpaces()
                let value = try cursor.quoted()
                guard labels.updateValue(value, forKey: label) == nil else { throw cursor.error("label \(label) is repeated") }
                cursor.skipSpaces()
                if cursor.peek == UInt8(ascii: ",") {
                    cursor.advance()
                    cursor.skipSpaces()
                } else if !cursor.atEnd, cursor.peek != UInt8(ascii: "}") {
                    throw cursor.error("expected , or } after a label")
                }
            }
            cursor.advance()  // '}'
        }
        guard cursor.skipSpaces() > 0 else { throw cursor.error("expected a space and a value after \(name)") }
        let valueText = cursor.word()
        guard let value = parseValue(valueText) else { throw cursor.error("\"\(valueText)\" is not a sample value") }
        var timestamp: Int64?
        if cursor.skipSpaces() > 0, !cursor.atEnd {
            let text = cursor.word()
            guard let parsed = Int64(text) else { throw cursor.error("\"\(text)\" is not a timestamp in milliseconds") }
            timestamp = parsed
            cursor.skipSpaces()
        }
        guard cursor.atEnd else { throw cursor.error("unexpected text after the sample value") }
        return PrometheusSample(name: name, labels: labels, value: value, timestamp: timestamp)
    }

    static func parseValue(_ text: String) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            // Double(_:) would also take "inf", "nan" and hex floats, which the format does not allow.
            guard !text.isEmpty, text.utf8.allSatisfy({ "0123456789+-.eE".utf8.contains($0) }) else { return nil }
            return Double(text)
        }
    }

    static func render(_ name: String, _ labels: [String: String]) -> String {
        labels.isEmpty ? name : name + "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
    }
}

/// A position in one line of the exposition.
private struct Cursor {
    let bytes: [UInt8]
    let line: Int
    var index = 0

    init(_ bytes: [UInt8], line: Int) {
        // A trailing carriage return is part of the line ending, not of the content.
        self.bytes = bytes.last == UInt8(ascii: "\r") ? Array(bytes.dropLast()) : bytes
        self.line = line
    }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }

    mutating func advance() { index += 1 }

    @discardableResult
    mutating func skipSpaces() -> Int {
        let start = index
        while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
        return index - start
    }

    /// Up to the next space.
    mutating func word() -> String {
        let start = index
        while let byte = peek, byte != UInt8(ascii: " "), byte != UInt8(ascii: "\t") { advance() }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    func error(_ message: String) -> PrometheusParseError {
        PrometheusParseError(line: line, message: message + " (column \(index + 1))")
    }

    mutating func expect(_ character: Character) throws(PrometheusParseError) {
        guard peek == character.asciiValue else { throw error("expected \(character)") }
        advance()
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || byte == UInt8(ascii: "_")
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    mutating func metricName() throws(PrometheusParseError) -> String {
        try identifier(allowColon: true, what: "metric name")
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`
    mutating func labelName() throws(PrometheusParseError) -> String {
        try identifier(allowColon: false, what: "label name")
    }

    private mutating func identifier(allowColon: Bool, what: String) throws(PrometheusParseError) -> String {
        let start = index
        func allowed(_ byte: UInt8, first: Bool) -> Bool {
            Self.isLetter(byte) || (allowColon && byte == UInt8(ascii: ":")) || (!first && Self.isDigit(byte))
        }
        guard let first = peek, allowed(first, first: true) else { throw error("expected a \(what)") }
        advance()
        while let byte = peek, allowed(byte, first: false) { advance() }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// A label value in double quotes, with `\\`, `\"` and `\n` escapes.
    mutating func quoted() throws(PrometheusParseError) -> String {
        try expect("\"")
        var value: [UInt8] = []
        while true {
            guard let byte = peek else { throw error("unterminated label value") }
            advance()
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                guard let escaped = peek else { throw error("unterminated label value") }
                advance()
                switch escaped {
                case UInt8(ascii: "\\"): value.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "\""): value.append(UInt8(ascii: "\""))
                case UInt8(ascii: "n"): value.append(UInt8(ascii: "\n"))
                default: throw error("unknown escape \\\(Character(UnicodeScalar(escaped))) in a label value")
                }
            } else {
                value.append(byte)
            }
        }
        return String(decoding: value, as: UTF8.self)
    }

    /// The rest of a HELP line, with `\\` and `\n` escapes.
    mutating func helpText() throws(PrometheusParseError) -> String {
        var value: [UInt8] = []
        while let byte = peek {
            advance()
            if byte == UInt8(ascii: "\\"), let escaped = peek {
                advance()
                switch escaped {
                case UInt8(ascii: "\\"): value.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "n"): value.append(UInt8(ascii: "\n"))
                default: value.append(contentsOf: [byte, escaped])
                }
            } else {
                value.append(byte)
            }
        }
        return String(decoding: value, as: UTF8.self)
    }
}
