import SwellHTTP

/// The answers the router gives itself, in OpenAI's error shape.
extension OpenAIError {
    static func modelNotFound(_ model: String) -> OpenAIError {
        OpenAIError(status: .notFound, message: "the model '\(model)' does not exist: no InferenceService of that name",
                    param: "model", code: "model_not_found")
    }

    static func bodyTooLarge(limit: Int) -> OpenAIError {
        OpenAIError(status: .contentTooLarge, message: "the request body is larger than the limit of \(limit) bytes",
                    code: "body_too_large")
    }

    static func shed(service: String, priority: String, retryAfter: Int) -> OpenAIError {
        OpenAIError(status: .tooManyRequests, message: "the \(priority) queue of \(service) is full; retry after \(retryAfter) s",
                    type: "rate_limit_error", code: "queue_full", retryAfter: retryAfter)
    }

    static func timedOut(service: String, seconds: Int, readyReplicas: Int) -> OpenAIError {
        let why = readyReplicas == 0 ? "no replica of \(service) became ready" : "every replica of \(service) stayed busy"
        return OpenAIError(status: .serviceUnavailable, message: "\(why) within the queue timeout of \(seconds) s",
                           type: "server_error", code: "queue_timeout", retryAfter: 1)
    }

    static func upstreamFailed(service: String, attempts: Int, error: String) -> OpenAIError {
        OpenAIError(status: .badGateway, message: "no replica of \(service) answered after \(attempts) attempts: \(error)",
                    type: "server_error", code: "upstream_unavailable")
    }

    /// The client went away before its answer (counted with nginx's 499).
    static let clientClosed = OpenAIError(status: .init(code: 499), message: "the client went away", type: "server_error",
                                          code: "cancelled")

    static let shuttingDown = OpenAIError(status: .serviceUnavailable, message: "the router is shutting down",
                                          type: "server_error", code: "shutting_down")
}
