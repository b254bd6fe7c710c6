import Foundation
import Yams

/// One document of a manifest file, still untyped, with the line of every field.
public struct Manifest: Sendable {
    /// The file it came from (`-` for standard input).
    public var source: String
    /// The document's first line.
    public var line: Int
    public var document: JSONValue
    /// Field path (`spec.autoscaling.maxReplicas`) → line.
    public var positions: [String: Int]

    public init(source: String, line: Int, document: JSONValue, positions: [String: Int] = [:]) {
        self.source = source
        self.line = line
        self.document = document
        self.positions = positions
    }

    public var kindName: String? { document["kind"]?.stringValue }
    public var name: String? { document["metadata"]?["name"]?.stringValue }

    /// The line of a field, or of its nearest ancestor that has one.
    public func line(of field: String) -> Int {
        var path = field
        while !path.isEmpty {
            if let line = positions[path] { return line }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            path = String(path[..<cut])
        }
        return line
    }

    /// `file:line: field: message` for every problem, the way compilers print them.
    public func describe(_ errors: [FieldError]) -> String {
        errors.map { "\(source):\(line(of: $0.field)): \($0.field): \($0.message)" }.joined(separator: "\n")
    }
}

/// A manifest that could not be read, located as precisely as the parser allows.
public struct ManifestError: Error, Sendable, CustomStringConvertible {
    public var source: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(source: String, line: Int?, column: Int? = nil, message: String) {
        self.source = source
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var location = source
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        return "\(location): \(message)"
    }
}

/// Reads YAML (several documents separated by `---`) or JSON into `Manifest`s.
public enum ManifestParser {
    /// Parses every document; JSON is read by the same parser because JSON is YAML.
    public static func parse(_ text: String, source: String) throws(ManifestError) -> [Manifest] {
        var manifests = [Manifest]()
        do {
            let parser = try Parser(yaml: text)
            while let node = try parser.nextRoot() {
                if Resolver.default.resolveTag(of: node) == .null { continue }
                var positions = [String: Int]()
                let document = try convert(node, path: "", positions: &positions, source: source)
                let line = node.mark?.line ?? 1
                guard case .object = document else {
                    throw ManifestError(source: source, line: line, message: "a manifest must be a mapping with apiVersion, kind and metadata, not a \(document.typeName)")
                }
                let manifest = Manifest(source: source, line: line, document: document, positions: positions)
                // `kind: List` (what `get -o yaml` prints for several objects) expands into its items.
                if manifest.kindName == "List" || manifest.kindName?.hasSuffix("List") == true, case .array(let items)? = document["items"] {
                    for (index, item) in items.enumerated() {
                        let prefix = "items[\(index)]"
                        var itemPositions = [String: Int]()
                        for (path, line) in positions where path.hasPrefix(prefix) {
                            let rest = path.dropFirst(prefix.count)
                            itemPositions[rest.hasPrefix(".") ? String(rest.dropFirst()) : String(rest)] = line
                        }
                        manifests.append(Manifest(source: source, line: positions[prefix] ?? line, document: item, positions: itemPositions))
                    }
                } else {
                    manifests.append(manifest)
                }
            }
        } catch let error as ManifestError {
            throw error
        } catch let error as YamlError {
            throw describe(error, source: source, text: text)
        } catch {
            throw ManifestError(source: source, line: nil, message: "\(error)")
        }
        return manifests
    }

    private static func describe(_ error: YamlError, source: String, text: String) -> ManifestError {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let contextText = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return ManifestError(source: source, line: mark.line, column: mark.column, message: "invalid YAML: \(problem)\(contextText)")
        case .reader(let problem, _, _, _):
            return ManifestError(source: source, line: nil, message: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // libyaml only marks the mapping; point at the repeated key, which is what the user must fix.
            let line = secondOccurrence(of: duplicates.first ?? "", in: text, from: context.mark.line) ?? context.mark.line
            return ManifestError(source: source, line: line,
                                 message: "invalid YAML: duplicate key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", "))")
        default:
            return ManifestError(source: source, line: nil, message: "invalid YAML: \(error)")
        }
    }

    private static func secondOccurrence(of key: String, in text: String, from line: Int) -> Int? {
        var seen = 0
        for (index, content) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where index + 1 >= line {
            let trimmed = content.drop { $0 == " " || $0 == "-" }
            if trimmed.hasPrefix("\(key):") || trimmed.hasPrefix("\"\(key)\":") {
                seen += 1
                if seen == 2 { return index + 1 }
            }
        }
        return nil
    }

    private static func convert(_ node: Yams.Node, path: String, positions: inout [String: Int], source: String) throws -> JSONValue {
        if let line = node.mark?.line, !path.isEmpty, positions[path] == nil { positions[path] = line }
        switch node {
        case .scalar(let scalar):
            return scalarValue(scalar)
        case .sequence(let sequence):
            return .array(try sequence.enumerated().map { index, element in
                try convert(element, path: "\(path)[\(index)]", positions: &positions, source: source)
            })
        case .mapping(let mapping):
            var fields = [String: JSONValue]()
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let keyScalar) = keyNode else {
                    throw ManifestError(source: source, line: keyNode.mark?.line, message: "mapping keys must be strings\(path.isEmpty ? "" : " (in \(path))")")
                }
                let key = keyScalar.string
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if fields[key] != nil {
                    throw ManifestError(source: source, line: keyNode.mark?.line, message: "duplicate field \"\(childPath)\"")
                }
                if let line = keyNode.mark?.line { positions[childPath] = line }
                fields[key] = try convert(valueNode, path: childPath, positions: &positions, source: source)
            }
            return .object(fields)
        case .alias:
            throw ManifestError(source: source, line: node.mark?.line, message: "YAML aliases are not supported")
        }
    }

    private static func scalarValue(_ scalar: Yams.Node.Scalar) -> JSONValue {
        let node = Yams.Node.scalar(scalar)
        switch Resolver.default.resolveTag(of: node) {
        case .null: return .null
        case .bool: return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
        case .int: return node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
        case .float: return node.float.map(JSONValue.double) ?? .string(scalar.string)
        default: return .string(scalar.string)
        }
    }
}
