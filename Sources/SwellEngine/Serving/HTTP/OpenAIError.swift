import Foundation
import HTTPTypes

/// An error answered in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
public struct OpenAIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    /// Seconds for `Retry-After` (429 and 503).
    public var retryAfter: Int?
    /// The `swell_engine_rejected_total{reason}` label, when this is a refusal to serve.
    public var rejectionReason: String?

    public init(status: HTTPResponse.Status, message: String, type: String = "invalid_request_error",
                param: String? = nil, code: String? = nil, retryAfter: Int? = nil, rejectionReason: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
        self.rejectionReason = rejectionReason
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    static func invalid(_ message: String, param: String? = nil) -> OpenAIError {
        OpenAIError(status: .badRequest, message: message, param: param, code: "invalid_value", rejectionReason: "invalid")
    }

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

    /// The JSON body.
    var body: Data {
        struct Body: Encodable {
            struct Detail: Encodable {
                var message: String
                var type: String
                var param: String?
                var code: String?

                func encode(to encoder: any Encoder) throws {
                    var container = encoder.container(keyedBy: CodingKeys.self)
                    try container.encode(message, forKey: .message)
                    try container.encode(type, forKey: .type)
                    try container.encode(param, forKey: .param)
                    try container.encode(code, forKey: .code)
                }

                enum CodingKeys: String, CodingKey { case message, type, param, code }
            }
            var error: Detail
        }
        return (try? JSONEncoder().encode(Body(error: .init(message: message, type: type, param: param, code: code)))) ?? Data()
    }
}
