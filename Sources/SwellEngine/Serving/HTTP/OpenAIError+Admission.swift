import SwellHTTP

extension OpenAIError {
    static func from(_ error: AdmissionError) -> OpenAIError {
        switch error {
        case .queueFull(_, let seconds):
            OpenAIError(status: .tooManyRequests, message: error.description, type: "rate_limit_error",
                        code: "queue_full", retryAfter: seconds, rejectionReason: error.metricReason)
        case .draining:
            OpenAIError(status: .serviceUnavailable, message: error.description, type: "server_error",
                        code: "draining", retryAfter: 1, rejectionReason: error.metricReason)
        case .emptyPrompt:
            OpenAIError(status: .badRequest, message: error.description, param: "prompt", code: "invalid_value",
                        rejectionReason: error.metricReason)
        case .exceedsContext, .exceedsCache:
            OpenAIError(status: .badRequest, message: error.description, param: "max_tokens",
                        code: "context_length_exceeded", rejectionReason: error.metricReason)
        }
    }
}
