import Foundation
import SwellAPI

/// Turns a failed response into the `Status` the caller sees.
enum ErrorBody {
    /// The server's own `Status` when the body is one; otherwise one made from the HTTP code, so
    /// callers can always switch on `code` and `reason` (a proxy's 502 page, an empty 404).
    static func status(code: Int, reasonPhrase: String, body: Data) -> Status {
        if let status = try? JSONDecoder().decode(Status.self, from: body), status.kind == "Status", status.code != 0 {
            return status
        }
        let text = String(decoding: body.prefix(1024), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let message = text.isEmpty ? "the server responded with \(code) \(reasonPhrase)" : "the server responded with \(code) \(reasonPhrase): \(text)"
        return Status(code: code, reason: reason(forCode: code), message: message)
    }

    static func reason(forCode code: Int) -> Status.Reason {
        switch code {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 405: .methodNotAllowed
        case 409: .conflict
        case 410: .expired
        case 413: .requestEntityTooLarge
        case 415: .unsupportedMediaType
        case 422: .invalid
        case 429: .tooManyRequests
        case 503: .serviceUnavailable
        case 500...599: .internalError
        default: .unknown
        }
    }
}

/// Decodes one line of a watch response.
enum WatchLineDecoder {
    private struct Head: Decodable {
        var type: WatchEvent<JSONValue>.EventType
    }

    /// The event, nil for a line to skip (a BOOKMARK this type cannot hold), or throws the
    /// `Status` of an ERROR event.
    static func decode<R: Resource>(_ type: R.Type, line: Data) throws -> WatchEvent<R>? {
        let decoder = JSONDecoder()
        let head: Head
        do {
            head = try decoder.decode(Head.self, from: line)
        } catch {
            throw APIClientError.invalidResponse("malformed watch event \(preview(line)): \(error)")
        }
        switch head.type {
        case .error:
            let status = (try? decoder.decode(WatchEvent<Status>.self, from: line).object)
                ?? Status(code: 500, reason: .internalError, message: "watch failed: \(preview(line))")
            throw status
        case .bookmark:
            return try? decoder.decode(WatchEvent<R>.self, from: line)
        case .added, .modified, .deleted:
            do {
                return try decoder.decode(WatchEvent<R>.self, from: line)
            } catch {
                throw APIClientError.invalidResponse("cannot decode a \(R.kind) watch event: \(error)")
            }
        }
    }

    private static func preview(_ line: Data) -> String {
        String(decoding: line.prefix(200), as: UTF8.self)
    }
}
