import Foundation
import Yams

/// Turns untyped documents into typed resources — strictly, like `kubectl --validate=strict` —
/// and typed resources back into JSON or YAML.
public enum ResourceCodec {
    /// Decodes a document of a known kind, rejecting unknown fields and mistyped values.
    public static func decode<R: Resource>(_ type: R.Type, from document: JSONValue) throws(ValidationError) -> R {
        let name = document["metadata"]?["name"]?.stringValue ?? ""
        let object: R
        do {
            object = try document.decode(R.self)
        } catch let error as DecodingError {
            throw ValidationError(kind: R.kind, name: name, errors: [fieldError(from: error, document: document)])
        } catch {
            throw ValidationError(kind: R.kind, name: name, errors: [.invalid("", "\(error)")])
        }
        let unknown: [FieldError]
        do {
            unknown = unknownFields(input: document, decoded: try JSONValue(encoding: object), path: FieldPath(""))
        } catch {
            unknown = [.invalid("", "\(error)")]
        }
        if !unknown.isEmpty {
            throw ValidationError(kind: R.kind, name: name, errors: unknown)
        }
        return object
    }

    /// Decodes a document of whichever kind it names.
    public static func decodeAny(_ document: JSONValue) throws(ValidationError) -> any Resource {
        let name = document["metadata"]?["name"]?.stringValue ?? ""
        guard let kindName = document["kind"]?.stringValue, !kindName.isEmpty else {
            throw ValidationError(kind: "Object", name: name, errors: [.required("kind")])
        }
        guard let type = ResourceKinds.all.first(where: { $0.kind == kindName }) else {
            throw ValidationError(kind: kindName, name: name, errors: [
                .notSupported("kind", kindName, supported: ResourceKinds.all.map { $0.kind }),
            ])
        }
        guard let apiVersion = document["apiVersion"]?.stringValue, !apiVersion.isEmpty else {
            throw ValidationError(kind: kindName, name: name, errors: [.required("apiVersion")])
        }
        guard apiVersion == swellAPIVersion else {
            throw ValidationError(kind: kindName, name: name, errors: [.notSupported("apiVersion", apiVersion, supported: [swellAPIVersion])])
        }
        return try decode(type, from: document)
    }

    /// Compact JSON, as the API sends it.
    public static func jsonData(_ value: some Encodable, pretty: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .withoutEscapingSlashes] : [.withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// YAML with keys sorted at every level, as `kubectl get -o yaml` prints it: stable output
    /// (labels and other maps would otherwise come out in hash order) that still begins with
    /// apiVersion, kind, metadata, spec, status.
    public static func yaml(_ value: some Encodable) throws -> String {
        let encoder = YAMLEncoder()
        encoder.options.sortKeys = true
        return try encoder.encode(value)
    }

    /// Keys the input has (with a non-null value) that the typed object did not keep are unknown.
    static func unknownFields(input: JSONValue, decoded: JSONValue, path: FieldPath) -> [FieldError] {
        switch (input, decoded) {
        case (.object(let inputFields), .object(let decodedFields)):
            var errors = [FieldError]()
            for key in inputFields.keys.sorted() {
                guard let value = inputFields[key], value != .null else { continue }
                let child = path.child(key)
                if let kept = decodedFields[key] {
                    errors += unknownFields(input: value, decoded: kept, path: child)
                } else {
                    errors.append(FieldError(child.description, .unknownField, "unknown field \"\(key)\""))
                }
            }
            return errors
        case (.array(let inputItems), .array(let decodedItems)):
            return zip(inputItems, decodedItems).enumerated().flatMap { index, pair in
                unknownFields(input: pair.0, decoded: pair.1, path: path.index(index))
            }
        default:
            return []
        }
    }

    static func fieldError(from error: DecodingError, document: JSONValue) -> FieldError {
        func render(_ path: [any CodingKey]) -> String {
            var text = ""
            for key in path {
                if let index = key.intValue, key.stringValue == "Index \(index)" || key.stringValue == "\(index)" {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text
        }
        func value(at path: [any CodingKey]) -> JSONValue? {
            var current: JSONValue? = document
            for key in path {
                switch current {
                case .object(let fields)?: current = fields[key.stringValue]
                case .array(let items)?:
                    guard let index = key.intValue, items.indices.contains(index) else { return nil }
                    current = items[index]
                default: return nil
                }
            }
            return current
        }
        switch error {
        case .typeMismatch(let type, let context):
            let found = value(at: context.codingPath)
            let shown = found.map { describe($0) } ?? "nothing"
            return FieldError(render(context.codingPath), .typeMismatch, "Invalid value: \(shown): must be \(expectedName(type))")
        case .valueNotFound(_, let context):
            return .required(render(context.codingPath))
        case .keyNotFound(let key, let context):
            return .required(render(context.codingPath + [key]))
        case .dataCorrupted(let context):
            let field = render(context.codingPath)
            if context.debugDescription == "Required value" { return .required(field) }
            if context.debugDescription.hasPrefix("Cannot initialize"), let found = value(at: context.codingPath) {
                return FieldError(field, .notSupported, "Unsupported value: \(describe(found))")
            }
            return .invalid(field, context.debugDescription.hasPrefix(": ") ? String(context.debugDescription.dropFirst(2)) : context.debugDescription)
        @unknown default:
            return .invalid("", "\(error)")
        }
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): "\"\(text)\""
        case .int(let number): "\(number)"
        case .double(let number): "\(number)"
        case .bool(let flag): "\(flag)"
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        }
    }

    private static func expectedName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int32.Type, is Int64.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object"
        }
    }
}
