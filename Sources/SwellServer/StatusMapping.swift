import SwellAPI
import SwellStore

/// Maps failures from the store and the codec to the `Status` a client sees.
enum StatusMapping {
    static func status(for error: any Error, kind: String) -> Status {
        switch error {
        case let status as Status:
            return status
        case let error as StoreError:
            switch error {
            case .notFound(let kind, _, let name):
                return .notFound(kind: kind, name: name)
            case .alreadyExists(let kind, _, let name):
                return .alreadyExists(kind: kind, name: name)
            case .conflict(let kind, _, let name, _, _):
                return .conflict(kind: kind, name: name, message: "the object has been modified; please apply your changes to the latest version and try again")
            case .expired:
                return .gone(error.description)
            case .invalidObject(let message):
                return .badRequest(message)
            }
        case let error as ValidationError:
            return .invalid(error)
        default:
            return .internalError("\(error)")
        }
    }

    /// Strict-decoding failures (unknown fields, wrong types) are 400s in Kubernetes; rule
    /// violations found by validation are 422s.
    static func decodingFailure(_ error: ValidationError) -> Status {
        Status(code: 400, reason: .badRequest,
               message: "strict decoding error: " + error.errors.map(\.description).joined(separator: ", "),
               details: .init(name: error.name.isEmpty ? nil : error.name, kind: error.kind,
                              causes: error.errors.map { .init(field: $0.field, message: $0.message, reason: $0.reason.rawValue) }))
    }
}
