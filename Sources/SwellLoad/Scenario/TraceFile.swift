import Foundation

/// One recorded request of a trace.
public struct TraceRow: Sendable, Equatable {
    /// Seconds from the start of the trace.
    public var offset: Double
    public var promptTokens: Int
    public var outputTokens: Int
    public var priority: Priority

    public init(offset: Double, promptTokens: Int, outputTokens: Int, priority: Priority = .standard) {
        self.offset = offset
        self.promptTokens = promptTokens
        self.outputTokens = outputTokens
        self.priority = priority
    }
}

/// A problem in a trace file, with its line.
public struct TraceFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var source: String
    public var line: Int
    public var message: String

    public var description: String { "\(source):\(line): \(message)" }
}

/// Reads traces: CSV with the columns `offset,prompt_tokens,output_tokens[,priority]`, an
/// optional header line, `#` comments, offsets in seconds (or durations like `1.5s`) that never
/// go backwards.
public enum TraceFile {
    public static func parse(_ text: String, source: String) throws(TraceFileError) -> [TraceRow] {
        var rows: [TraceRow] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if rows.isEmpty, fields.first?.lowercased() == "offset" {
                continue  // the header
            }
            func fail(_ message: String) -> TraceFileError {
                TraceFileError(source: source, line: lineNumber, message: message)
            }
            guard fields.count == 3 || fields.count == 4 else {
                throw fail("expected 3 or 4 columns (offset,prompt_tokens,output_tokens[,priority]), found \(fields.count)")
            }
            guard let offset = DurationText.seconds(fields[0]), offset >= 0 else {
                throw fail("offset \"\(fields[0])\" is not a duration of 0 or more")
            }
            if let previous = rows.last, offset < previous.offset {
                throw fail("offset \(fields[0]) is earlier than the previous row's; rows must be in time order")
            }
            guard let prompt = Int(fields[1]), prompt >= 1 else {
                throw fail("prompt_tokens \"\(fields[1])\" must be an integer of 1 or more")
            }
            guard let output = Int(fields[2]), output >= 1 else {
                throw fail("output_tokens \"\(fields[2])\" must be an integer of 1 or more")
            }
            var priority = Priority.standard
            if fields.count == 4, !fields[3].isEmpty {
                guard let parsed = Priority(rawValue: fields[3]) else {
                    throw fail("priority \"\(fields[3])\" must be one of critical, standard, batch")
                }
                priority = parsed
            }
            rows.append(TraceRow(offset: offset, promptTokens: prompt, outputTokens: output, priority: priority))
        }
        if rows.isEmpty { throw TraceFileError(source: source, line: 1, message: "the trace has no rows") }
        return rows
    }
}
