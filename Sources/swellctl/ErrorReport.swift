import SwellAPI
import SwellClient

/// How `swellctl` words a failure on standard error.
enum ErrorReport {
    /// One error as printed before exiting 1.
    static func text(for error: any Error) -> String {
        switch error {
        case let status as Status:
            return status.description
        case let failure as CLIError:
            return "error: \(failure.message)"
        case APIClientError.requestFailed(let method, let url, let underlying):
            return "error: cannot reach the Swell server: \(method) \(url): \(underlying)"
        case let problem as ManifestError:
            return "error: \(problem.description)"
        default:
            return "error: \(error)"
        }
    }

    /// A server error for an object from a manifest, with each cause located in the file:
    ///
    ///     Error from server (Invalid): error when applying inferenceservice/chat from chat.yaml: …
    ///     chat.yaml:14: spec.engine.threads: must be between 1 and 256
    static func text(for status: Status, verb: String, object: ManifestObject) -> String {
        var lines = ["Error from server (\(status.reason.rawValue)): error when \(verb) \(object.reference) from \(object.manifest.source): \(status.message)"]
        for cause in status.details?.causes ?? [] {
            if let field = cause.field, !field.isEmpty {
                lines.append("\(object.manifest.source):\(object.manifest.line(of: field)): \(field): \(cause.message)")
            } else {
                lines.append("\(object.manifest.source):\(object.manifest.line): \(cause.message)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
