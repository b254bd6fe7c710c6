import Foundation

/// A label query in the string form kubectl accepts: `app=chat,tier!=batch,env in (a,b),!canary,gpu`.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    public enum Requirement: Sendable, Hashable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)

        func matches(_ labels: [String: String]) -> Bool {
            switch self {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .isIn(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            }
        }

        var text: String {
            switch self {
            case .equals(let key, let value): "\(key)=\(value)"
            case .notEquals(let key, let value): "\(key)!=\(value)"
            case .isIn(let key, let values): "\(key) in (\(values.sorted().joined(separator: ",")))"
            case .notIn(let key, let values): "\(key) notin (\(values.sorted().joined(separator: ",")))"
            case .exists(let key): key
            case .doesNotExist(let key): "!\(key)"
            }
        }
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public var requirements: [Requirement]

    /// Matches everything.
    public static let everything = LabelSelector(requirements: [])

    public init(requirements: [Requirement]) {
        self.requirements = requirements
    }

    /// A selector that matches exactly these labels.
    public init(matchLabels: [String: String]) {
        self.requirements = matchLabels.sorted { $0.key < $1.key }.map { .equals($0.key, $0.value) }
    }

    public init(parsing text: String) throws(ParseError) {
        var requirements = [Requirement]()
        for clause in try LabelSelector.splitClauses(text) {
            requirements.append(try LabelSelector.parseClause(clause))
        }
        self.requirements = requirements
    }

    public var isEverything: Bool { requirements.isEmpty }

    public func matches(_ labels: [String: String]?) -> Bool {
        let labels = labels ?? [:]
        return requirements.allSatisfy { $0.matches(labels) }
    }

    public var description: String { requirements.map(\.text).joined(separator: ",") }

    /// Splits on commas that are not inside a `( … )` value set.
    private static func splitClauses(_ text: String) throws(ParseError) -> [String] {
        var clauses = [String]()
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(":
                depth += 1
                current.append(character)
            case ")":
                depth -= 1
                guard depth >= 0 else { throw ParseError(message: "unbalanced ')' in selector \"\(text)\"") }
                current.append(character)
            case "," where depth == 0:
                clauses.append(current)
                current = ""
            default:
                current.append(character)
            }
        }
        guard depth == 0 else { throw ParseError(message: "unbalanced '(' in selector \"\(text)\"") }
        clauses.append(current)
        let trimmed = clauses.map { $0.trimmingCharacters(in: .whitespaces) }
        if trimmed == [""] { return [] }
        if let empty = trimmed.firstIndex(of: "") {
            throw ParseError(message: "empty requirement at position \(empty + 1) in selector \"\(text)\"")
        }
        return trimmed
    }

    private static func parseClause(_ clause: String) throws(ParseError) -> Requirement {
        for op in ["!=", "==", "="] {
            if let range = clause.range(of: op) {
                let key = clause[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                let value = clause[range.upperBound...].trimmingCharacters(in: .whitespaces)
                try checkKey(key, in: clause)
                try checkValue(value, in: clause)
                return op == "!=" ? .notEquals(key, value) : .equals(key, value)
            }
        }
        let words = clause.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true).map(String.init)
        if words.count == 3, words[1] == "in" || words[1] == "notin" {
            let set = words[2].trimmingCharacters(in: .whitespaces)
            guard set.hasPrefix("("), set.hasSuffix(")") else {
                throw ParseError(message: "expected a value set like (a,b) in \"\(clause)\"")
            }
            let values = set.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            for value in values { try checkValue(value, in: clause) }
            try checkKey(words[0], in: clause)
            return words[1] == "in" ? .isIn(words[0], Set(values)) : .notIn(words[0], Set(values))
        }
        if words.count == 1 {
            if clause.hasPrefix("!") {
                let key = String(clause.dropFirst()).trimmingCharacters(in: .whitespaces)
                try checkKey(key, in: clause)
                return .doesNotExist(key)
            }
            try checkKey(clause, in: clause)
            return .exists(clause)
        }
        throw ParseError(message: "cannot parse requirement \"\(clause)\"")
    }

    private static func checkKey(_ key: String, in clause: String) throws(ParseError) {
        if let problem = Validators.qualifiedNameProblem(key) {
            throw ParseError(message: "invalid label key \"\(key)\" in \"\(clause)\": \(problem)")
        }
    }

    private static func checkValue(_ value: String, in clause: String) throws(ParseError) {
        if let problem = Validators.labelValueProblem(value) {
            throw ParseError(message: "invalid label value \"\(value)\" in \"\(clause)\": \(problem)")
        }
    }
}
