/// The error body every failing API call returns, as Kubernetes' `metav1.Status`.
public struct Status: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Reason: String, Sendable, Codable {
        case badRequest = "BadRequest"
        case invalid = "Invalid"
        case notFound = "NotFound"
        case alreadyExists = "AlreadyExists"
        case conflict = "Conflict"
        case gone = "Gone"
        case expired = "Expired"
        case unauthorized = "Unauthorized"
        case forbidden = "Forbidden"
        case methodNotAllowed = "MethodNotAllowed"
        case requestEntityTooLarge = "RequestEntityTooLarge"
        case unsupportedMediaType = "UnsupportedMediaType"
        case tooManyRequests = "TooManyRequests"
        case internalError = "InternalError"
        case serviceUnavailable = "ServiceUnavailable"
        case unknown = "Unknown"
    }

    public struct Cause: Sendable, Hashable, Codable {
        public var field: String?
        public var message: String
        public var reason: String?

        public init(field: String?, message: String, reason: String? = nil) {
            self.field = field
            self.message = message
            self.reason = reason
        }
    }

    public struct Details: Sendable, Hashable, Codable {
        public var name: String?
        public var kind: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?

        public init(name: String? = nil, kind: String? = nil, causes: [Cause]? = nil, retryAfterSeconds: Int? = nil) {
            self.name = name
            self.kind = kind
            self.causes = causes
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    public var apiVersion: String = "v1"
    public var kind: String = "Status"
    /// `Failure` (or `Success` for a delete that returns a Status).
    public var status: String
    public var code: Int
    public var reason: Reason
    public var message: String
    public var details: Details?

    public init(code: Int, reason: Reason, message: String, details: Details? = nil, status: String = "Failure") {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.status = status
    }

    public var description: String {
        var text = "Error from server (\(reason.rawValue)): \(message)"
        for cause in details?.causes ?? [] where !message.contains(cause.message) {
            text += "\n  * \(cause.field.map { "\($0): " } ?? "")\(cause.message)"
        }
        return text
    }

    public static func notFound(kind: String, name: String) -> Status {
        Status(code: 404, reason: .notFound, message: "\(kind.lowercased()) \"\(name)\" not found",
               details: Details(name: name, kind: kind))
    }

    public static func alreadyExists(kind: String, name: String) -> Status {
        Status(code: 409, reason: .alreadyExists, message: "\(kind.lowercased()) \"\(name)\" already exists",
               details: Details(name: name, kind: kind))
    }

    public static func conflict(kind: String, name: String, message: String) -> Status {
        Status(code: 409, reason: .conflict,
               message: "Operation cannot be fulfilled on \(kind.lowercased()) \"\(name)\": \(message)",
               details: Details(name: name, kind: kind))
    }

    public static func invalid(_ error: ValidationError) -> Status {
        Status(code: 422, reason: .invalid, message: error.description,
               details: Details(name: error.name, kind: error.kind,
                                causes: error.errors.map { Cause(field: $0.field, message: $0.message, reason: $0.reason.rawValue) }))
    }

    public static func badRequest(_ message: String) -> Status {
        Status(code: 400, reason: .badRequest, message: message)
    }

    public static func gone(_ message: String) -> Status {
        Status(code: 410, reason: .expired, message: message)
    }

    public static func internalError(_ message: String) -> Status {
        Status(code: 500, reason: .internalError, message: message)
    }
}
