import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A request the router answers itself, in OpenAI's error shape
/// (`{"error": {"message", "type", "param", "code"}}`) so clients handle it like the replica's own.
struct RouterError: Error, Sendable, Equatable {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    var code: String
    var retryAfter: Int?

    static func invalid(_ message: String, param: String?) -> RouterError {
        RouterError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: "invalid_value")
    }

    static func modelNotFound(_ model: String) -> RouterError {
        RouterError(status: .notFound, message: "the model '\(model)' does not exist: no InferenceService of that name",
                    type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    static func bodyTooLarge(limit: Int) -> RouterError {
        RouterError(status: .contentTooLarge, message: "the request body is larger than the limit of \(limit) bytes",
                    type: "invalid_request_error", code: "body_too_large")
    }

    static func shed(service: String, priority: String, retryAfter: Int) -> RouterError {
        RouterError(status: .tooManyRequests,
                    message: "the \(priority) queue of \(service) is full; retry after \(retryAfter) s",
                    type: "rate_limit_error", code: "queue_full", retryAfter: retryAfter)
    }

    static func timedOut(service: String, seconds: Int, readyReplicas: Int) -> RouterError {
        let why = readyReplicas == 0 ? "no replica of \(service) became ready" : "every replica of \(service) stayed busy"
        return RouterError(status: .serviceUnavailable, message: "\(why) within the queue timeout of \(seconds) s",
                           type: "server_error", code: "queue_timeout", retryAfter: 1)
    }

    static func upstreamFailed(service: String, attempts: Int, error: String) -> RouterError {
        RouterError(status: .badGateway, message: "no replica of \(service) answered after \(attempts) attempts: \(error)",
                    type: "server_error", code: "upstream_unavailable")
    }

    var response: Response {
        struct Body: Encodable {
            struct Detail: Encodable {
                var message: String
                var type: String
                var param: String?
                var code: String

                enum CodingKeys: String, CodingKey {
                    case message, type, param, code
                }

                func encode(to encoder: any Encoder) throws {
                    var container = encoder.container(keyedBy: CodingKeys.self)
                    try container.encode(message, forKey: .message)
                    try container.encode(type, forKey: .type)
                    try container.encode(param, forKey: .param) // null when absent, as OpenAI sends it
                    try container.encode(code, forKey: .code)
                }
            }

            var error: Detail
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let data = (try? JSONEncoder().encode(Body(error: .init(message: message, type: type, param: param, code: code)))) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
