import Foundation

/// One second of the run, as `--timeline` writes it and the chart draws it.
public struct TimelineRow: Sendable, Equatable {
    public var second: Int
    /// Requests due in this second (the load offered, whether or not it could be sent).
    public var offered: Int
    /// Requests that finished successfully in this second.
    public var completed: Int
    /// Requests that failed in this second (not counting shed ones).
    public var errors: Int
    /// Requests refused with 429 in this second.
    public var shed: Int
    /// p99 time to first token of the successful requests sent in this second: what a user
    /// arriving then waited, lined up with the load that caused it.
    public var ttftP99: Double?
    public var readyReplicas: Int?
    public var desiredReplicas: Int?
    public var queueLength: Double?

    public init(second: Int, offered: Int = 0, completed: Int = 0, errors: Int = 0, shed: Int = 0, ttftP99: Double? = nil,
                readyReplicas: Int? = nil, desiredReplicas: Int? = nil, queueLength: Double? = nil) {
        self.second = second
        self.offered = offered
        self.completed = completed
        self.errors = errors
        self.shed = shed
        self.ttftP99 = ttftP99
        self.readyReplicas = readyReplicas
        self.desiredReplicas = desiredReplicas
        self.queueLength = queueLength
    }
}

/// The per-second rows of a run.
public struct Timeline: Sendable, Equatable {
    public var rows: [TimelineRow]

    public init(rows: [TimelineRow]) {
        self.rows = rows
    }

    public static let csvHeader = "second,offered,completed,errors,shed,ttft_p99_ms,ready_replicas,desired_replicas,queue_length"

    /// CSV with a header; unknown values are empty cells.
    public var csv: String {
        var lines = [Self.csvHeader]
        for row in rows {
            let cells: [String] = [
                "\(row.second)", "\(row.offered)", "\(row.completed)", "\(row.errors)", "\(row.shed)",
                row.ttftP99.map { String(format: "%.1f", $0 * 1000) } ?? "",
                row.readyReplicas.map(String.init) ?? "", row.desiredReplicas.map(String.init) ?? "",
                row.queueLength.map { String(format: "%g", $0) } ?? "",
            ]
            lines.append(cells.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Nearest-rank percentile of a small set (a second's worth of requests).
    static func percentile(_ values: [Double], _ percentile: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((percentile / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }
}
