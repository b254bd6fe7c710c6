/// Left-aligned columns separated by at least three spaces, the way kubectl prints tables.
struct TextTable: Sendable, Equatable {
    static let padding = 3

    var header: [String]
    var rows: [[String]]

    init(header: [String], rows: [[String]] = []) {
        self.header = header
        self.rows = rows
    }

    /// Each column as wide as its widest cell.
    var widths: [Int] {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        return widths
    }

    /// The header and every row, one line each, without trailing spaces.
    func render() -> String {
        let widths = self.widths
        return ([header] + rows).map { Self.line($0, widths: widths) }.joined(separator: "\n")
    }

    /// One row padded to `widths`; a cell wider than its column just pushes the rest right,
    /// which keeps rows printed later (during a watch) readable without reflowing earlier ones.
    static func line(_ cells: [String], widths: [Int]) -> String {
        var text = ""
        for (index, cell) in cells.enumerated() {
            let isLast = index == cells.count - 1
            text += cell
            if !isLast {
                let width = index < widths.count ? widths[index] : cell.count
                text += String(repeating: " ", count: max(width - cell.count, 0) + padding)
            }
        }
        return text
    }
}
