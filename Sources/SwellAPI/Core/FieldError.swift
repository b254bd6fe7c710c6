/// One problem found in an object, located by its field path (`spec.autoscaling.maxReplicas`).
public struct FieldError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Reason: String, Sendable, Codable {
        case required = "FieldValueRequired"
        case invalid = "FieldValueInvalid"
        case notSupported = "FieldValueNotSupported"
        case forbidden = "FieldValueForbidden"
        case unknownField = "FieldValueUnknown"
        case typeMismatch = "FieldValueTypeInvalid"
    }

    public var field: String
    public var reason: Reason
    public var message: String

    public init(_ field: String, _ reason: Reason, _ message: String) {
        self.field = field
        self.reason = reason
        self.message = message
    }

    public static func required(_ field: String) -> FieldError {
        FieldError(field, .required, "Required value")
    }

    public static func invalid(_ field: String, _ message: String) -> FieldError {
        FieldError(field, .invalid, message)
    }

    public static func notSupported(_ field: String, _ value: String, supported: [String]) -> FieldError {
        let list = supported.map { "\"\($0)\"" }.joined(separator: ", ")
        return FieldError(field, .notSupported, "Unsupported value: \"\(value)\": supported values: \(list)")
    }

    public static func forbidden(_ field: String, _ message: String) -> FieldError {
        FieldError(field, .forbidden, message)
    }

    public var description: String { "\(field): \(message)" }
}

/// Builds field paths as validation descends into an object.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(_ root: String) { description = root }

    public func child(_ name: String) -> FieldPath {
        FieldPath(description.isEmpty ? name : "\(description).\(name)")
    }

    public func index(_ index: Int) -> FieldPath { FieldPath("\(description)[\(index)]") }

    public func key(_ key: String) -> FieldPath { FieldPath("\(description)[\(key)]") }
}

/// Thrown when an object fails validation; carries every problem, not just the first.
public struct ValidationError: Error, Sendable, CustomStringConvertible {
    public var kind: String
    public var name: String
    public var errors: [FieldError]

    public init(kind: String, name: String, errors: [FieldError]) {
        self.kind = kind
        self.name = name
        self.errors = errors
    }

    public var description: String {
        "\(kind) \"\(name)\" is invalid: " + errors.map(\.description).joined(separator: ", ")
    }
}
