import SwellAPI

/// Builds kubectl-style `describe` text: `Label:  value` lines whose values line up within
/// each block of one indentation, nested sections, and embedded tables.
struct DescribeWriter {
    private enum Line {
        case field(lead: String, label: String, value: String)
        case section(lead: String, label: String)
        case text(String)
    }

    private var lines: [Line] = []

    static func indent(_ level: Int) -> String { String(repeating: "  ", count: level) }

    /// `Label:  value`; a multi-line value continues under the first line's value column.
    mutating func field(_ label: String, _ value: String, lead: String = "") {
        lines.append(.field(lead: lead, label: label, value: value))
    }

    /// `Label:` with its content on the following, more indented lines.
    mutating func section(_ label: String, lead: String = "") {
        lines.append(.section(lead: lead, label: label))
    }

    /// A table (or any preformatted block), each line prefixed with `lead`.
    mutating func table(_ table: TextTable, lead: String) {
        for line in table.render().split(separator: "\n", omittingEmptySubsequences: false) {
            lines.append(.text(lead + line))
        }
    }

    /// Renders a JSON document the way kubectl describes custom resources: keys title-cased
    /// and sorted, scalars inline, objects nested, lists of objects as `- ` items.
    mutating func document(_ value: JSONValue, lead: String) {
        guard case .object(let fields) = value else {
            lines.append(.text(lead + Self.scalar(value)))
            return
        }
        for key in fields.keys.sorted() {
            guard let child = fields[key], child != .null else { continue }
            member(Self.titleCase(key), child, lead: lead, continuation: lead)
        }
    }

    private mutating func member(_ label: String, _ value: JSONValue, lead: String, continuation: String) {
        switch value {
        case .object(let fields) where fields.isEmpty:
            field(label, "<none>", lead: lead)
        case .object:
            section(label, lead: lead)
            document(value, lead: continuation + "  ")
        case .array(let items) where items.contains(where: { $0.objectValue != nil }):
            section(label, lead: lead)
            for item in items {
                self.item(item, lead: continuation + "  ")
            }
        case .array(let items):
            field(label, items.isEmpty ? "<none>" : items.map(Self.scalar).joined(separator: ", "), lead: lead)
        default:
            field(label, Self.scalar(value), lead: lead)
        }
    }

    /// One element of a list of objects: its first field after `- `, the rest under it.
    private mutating func item(_ value: JSONValue, lead: String) {
        guard case .object(let fields) = value else {
            lines.append(.text(lead + "- " + Self.scalar(value)))
            return
        }
        var first = true
        for key in fields.keys.sorted() {
            guard let child = fields[key], child != .null else { continue }
            member(Self.titleCase(key), child, lead: lead + (first ? "- " : "  "), continuation: lead + "  ")
            first = false
        }
    }

    func render() -> String {
        var output = [String]()
        var index = 0
        while index < lines.count {
            guard case .field(let lead, _, _) = lines[index] else {
                switch lines[index] {
                case .section(let lead, let label): output.append("\(lead)\(label):")
                case .text(let text): output.append(text)
                case .field: break
                }
                index += 1
                continue
            }
            // Align the values of consecutive fields that start at the same column.
            var end = index
            var labelWidth = 0
            while end < lines.count, case .field(let otherLead, let label, _) = lines[end], otherLead.count == lead.count {
                labelWidth = max(labelWidth, label.count + 1)
                end += 1
            }
            for case .field(let lead, let label, let value) in lines[index..<end] {
                let column = String(repeating: " ", count: lead.count + labelWidth + 2)
                let valueLines = value.split(separator: "\n", omittingEmptySubsequences: false)
                let padding = String(repeating: " ", count: labelWidth - label.count - 1 + 2)
                output.append("\(lead)\(label):\(padding)\(valueLines.first ?? "")")
                for more in valueLines.dropFirst() {
                    output.append(column + more)
                }
            }
            index = end
        }
        return output.map { $0.trimmingTrailingSpaces() }.joined(separator: "\n")
    }

    /// `minReplicas` → `Min Replicas`, `targetCPU` → `Target CPU`.
    static func titleCase(_ key: String) -> String {
        var words = [String]()
        var current = ""
        let characters = Array(key)
        for (index, character) in characters.enumerated() {
            let previous = index > 0 ? characters[index - 1] : nil
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            let startsWord = character.isUppercase && previous != nil
                && (previous!.isLowercase || previous!.isNumber || (next?.isLowercase ?? false))
            if startsWord, !current.isEmpty {
                words.append(current)
                current = ""
            }
            current.append(current.isEmpty ? Character(character.uppercased()) : character)
        }
        if !current.isEmpty { words.append(current) }
        return words.joined(separator: " ")
    }

    static func scalar(_ value: JSONValue) -> String {
        switch value {
        case .null: "<none>"
        case .bool(let flag): "\(flag)"
        case .int(let number): "\(number)"
        case .double(let number):
            number.rounded() == number && abs(number) < 1e15 ? "\(Int64(number))" : "\(number)"
        case .string(let text): text
        case .array(let items): items.map(scalar).joined(separator: ", ")
        case .object: "<object>"
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }
}
