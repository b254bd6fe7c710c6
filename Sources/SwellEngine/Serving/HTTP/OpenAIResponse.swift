import Foundation

/// `usage`, with the prompt tokens the prefix cache supplied.
struct Usage: Encodable, Sendable {
    struct PromptDetails: Encodable, Sendable {
        var cached_tokens: Int
    }

    var prompt_tokens: Int
    var completion_tokens: Int
    var total_tokens: Int
    var prompt_tokens_details: PromptDetails

    init(_ completion: ServingCompletion) {
        prompt_tokens = completion.promptTokens
        completion_tokens = completion.completionTokens
        total_tokens = completion.promptTokens + completion.completionTokens
        prompt_tokens_details = PromptDetails(cached_tokens: completion.cachedPromptTokens)
    }
}

/// Chat logprobs: `{"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}`.
struct ChatLogprobs: Encodable, Sendable {
    struct Entry: Encodable, Sendable {
        struct Alternative: Encodable, Sendable {
            var token: String
            var logprob: Float
            var bytes: [UInt8]
        }

        var token: String
        var logprob: Float
        var bytes: [UInt8]
        var top_logprobs: [Alternative]
    }

    var content: [Entry]

    init(_ entries: [TokenLogprob], tokenizer: Tokenizer, top: Int) {
        content = entries.map { entry in
            let bytes = tokenizer.bytes(of: entry.token)
            return Entry(token: String(decoding: bytes, as: UTF8.self), logprob: entry.logprob, bytes: bytes,
                         top_logprobs: entry.top.prefix(top).map { alternative in
                             let bytes = tokenizer.bytes(of: alternative.token)
                             return Entry.Alternative(token: String(decoding: bytes, as: UTF8.self), logprob: alternative.logprob,
                                                bytes: bytes)
                         })
        }
    }
}

/// Legacy completions logprobs: parallel arrays.
struct CompletionLogprobs: Encodable, Sendable {
    var tokens: [String]
    var token_logprobs: [Float]
    var top_logprobs: [[String: Float]]
    var text_offset: [Int]

    init(_ entries: [TokenLogprob], tokenizer: Tokenizer, top: Int, startOffset: Int) {
        tokens = entries.map { tokenizer.decode([$0.token]) }
        token_logprobs = entries.map(\.logprob)
        top_logprobs = entries.map { entry in
            Dictionary(entry.top.prefix(top).map { (tokenizer.decode([$0.token]), $0.logprob) }, uniquingKeysWith: max)
        }
        var offset = startOffset
        text_offset = tokens.map { token in
            defer { offset += token.utf8.count }
            return offset
        }
    }
}

/// One choice of a response or chunk; `finish_reason` and `logprobs` are always present
/// (null until known), as OpenAI sends them.
struct Choice<Payload: Encodable & Sendable, Logprobs: Encodable & Sendable>: Encodable, Sendable {
    var index = 0
    var payloadKey: String
    var payload: Payload
    var logprobs: Logprobs?
    var finishReason: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: DynamicKey.self)
        try container.encode(index, forKey: DynamicKey("index"))
        try container.encode(payload, forKey: DynamicKey(payloadKey))
        try container.encode(logprobs, forKey: DynamicKey("logprobs"))
        try container.encode(finishReason, forKey: DynamicKey("finish_reason"))
    }
}

struct DynamicKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

struct ChatMessageBody: Encodable, Sendable {
    var role: String?
    var content: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: DynamicKey.self)
        if let role { try container.encode(role, forKey: DynamicKey("role")) }
        if let content { try container.encode(content, forKey: DynamicKey("content")) }
    }
}

/// A whole response or one streamed chunk. `usage` is written as null in chunks when the
/// client asked for a usage chunk (OpenAI's convention), and left out otherwise.
struct CompletionEnvelope<ChoiceType: Encodable & Sendable>: Encodable, Sendable {
    var id: String
    var object: String
    var created: Int
    var model: String
    var choices: [ChoiceType]
    var usage: Usage?
    var writeNullUsage = false

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: DynamicKey.self)
        try container.encode(id, forKey: DynamicKey("id"))
        try container.encode(object, forKey: DynamicKey("object"))
        try container.encode(created, forKey: DynamicKey("created"))
        try container.encode(model, forKey: DynamicKey("model"))
        try container.encode(choices, forKey: DynamicKey("choices"))
        if usage != nil || writeNullUsage { try container.encode(usage, forKey: DynamicKey("usage")) }
    }
}

struct ModelList: Encodable, Sendable {
    struct Model: Encodable, Sendable {
        var id: String
        var object = "model"
        var created: Int
        var owned_by = "swell"
        var max_model_len: Int
    }

    var object = "list"
    var data: [Model]
}
