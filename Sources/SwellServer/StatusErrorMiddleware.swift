import Hummingbird
import Logging
import SwellAPI

/// Turns errors that escape a route — Hummingbird's own 404 for an unknown path, anything a
/// handler throws — into a `Status` JSON body, so a client never has to parse anything else.
struct StatusErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let code = Int(error.status.code)
            let message = error.body ?? (code == 404
                ? "the server could not find the requested resource (\(request.method) \(request.uri.path))"
                : error.status.reasonPhrase)
            return APIHandler.statusResponse(Status(code: code, reason: Self.reason(forCode: code), message: message))
        } catch {
            logger.error("unhandled error", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
            return APIHandler.statusResponse(.internalError("\(error)"))
        }
    }

    static func reason(forCode code: Int) -> Status.Reason {
        switch code {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 405: .methodNotAllowed
        case 413: .requestEntityTooLarge
        case 415: .unsupportedMediaType
        case 429: .tooManyRequests
        case 503: .serviceUnavailable
        default: code >= 500 ? .internalError : .unknown
        }
    }
}
