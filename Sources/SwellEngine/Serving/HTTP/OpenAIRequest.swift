import Foundation
import SwellAPI
import SwellHTTP

/// A value given as one item or a list (`stop: "x"` or `stop: ["x", "y"]`).
struct OneOrMany<Element: Decodable & Sendable>: Decodable, Sendable {
    var values: [Element]

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let one = try? container.decode(Element.self) {
            values = [one]
        } else {
            values = try container.decode([Element].self)
        }
    }
}

/// The prompt of `/v1/completions`: text, or token ids (a batch of one is accepted too).
enum PromptField: Decodable, Sendable {
    case text(String)
    case tokens([Int32])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else if let tokens = try? container.decode([Int32].self) {
            self = .tokens(tokens)
        } else if let texts = try? container.decode([String].self), texts.count == 1 {
            self = .text(texts[0])
        } else if let batches = try? container.decode([[Int32]].self), batches.count == 1 {
            self = .tokens(batches[0])
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription:
                "must be a string or an array of token ids (one prompt per request)")
        }
    }
}

/// Chat message content: a string, or parts of which only text is supported.
struct ContentField: Decodable, Sendable {
    var text: String

    private struct Part: Decodable {
        var type: String
        var text: String?
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self.text = text
            return
        }
        if container.decodeNil() {
            text = ""
            return
        }
        let parts = try container.decode([Part].self)
        guard parts.allSatisfy({ $0.type == "text" }) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "only text content parts are supported")
        }
        text = parts.compactMap(\.text).joined()
    }
}

struct StreamOptions: Decodable, Sendable {
    var include_usage: Bool?
}

/// Fields shared by both endpoints; unknown fields are ignored, as OpenAI clients send many.
struct SamplingFields: Decodable, Sendable {
    var model: String?
    var max_tokens: Int?
    var max_completion_tokens: Int?
    var temperature: Float?
    var top_p: Float?
    var top_k: Int?
    var min_p: Float?
    var repetition_penalty: Float?
    var stop: OneOrMany<String>?
    var seed: Int64?
    var n: Int?
    var stream: Bool?
    var stream_options: StreamOptions?
    var ignore_eos: Bool?
    var priority: RequestPriority?
}

struct CompletionBody: Decodable, Sendable {
    var prompt: PromptField
    var logprobs: Int?
}

struct ChatBody: Decodable, Sendable {
    struct Message: Decodable, Sendable {
        var role: String
        var content: ContentField?
    }

    var messages: [Message]
    var logprobs: Bool?
    var top_logprobs: Int?
}

/// A validated generation request, whichever endpoint it came from.
struct GenerationParameters: Sendable {
    var maxTokens: Int
    var sampling: SamplingParameters
    var stop: [String]
    var stopAtEndOfGeneration: Bool
    var stream: Bool
    var includeUsage: Bool
    var topLogprobs: Int?
    var priority: RequestPriority?
    var model: String?
}

/// Decodes request bodies, turning every decoding failure into a 400 that names the field.
enum OpenAIRequestDecoder {
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(OpenAIError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw OpenAIError.invalid("the body is not valid JSON: \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> OpenAIError {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
                .trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return .invalid("missing required field '\(field)'", param: field)
        case .typeMismatch(let expected, let context):
            let field = path(context.codingPath)
            return .invalid("invalid type for '\(field)': expected \(expected)", param: field)
        case .valueNotFound(_, let context):
            let field = path(context.codingPath)
            return .invalid("'\(field)' must not be null", param: field)
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty { return .invalid("the body is not valid JSON") }
            return .invalid("invalid value for '\(field)': \(context.debugDescription)", param: field)
        @unknown default:
            return .invalid("invalid request: \(error)")
        }
    }

    /// Checks ranges and resolves defaults; `maxTokensLimit` caps what one request may ask for.
    static func parameters(_ fields: SamplingFields, topLogprobs: Int?, defaultMaxTokens: Int,
                           maxTokensLimit: Int) throws(OpenAIError) -> GenerationParameters {
        if let n = fields.n, n != 1 { throw .invalid("only n=1 is supported (got \(n))", param: "n") }
        let maxTokens = fields.max_completion_tokens ?? fields.max_tokens ?? defaultMaxTokens
        let maxField = fields.max_completion_tokens != nil ? "max_completion_tokens" : "max_tokens"
        guard maxTokens >= 1 else { throw .invalid("\(maxField) must be at least 1 (got \(maxTokens))", param: maxField) }
        guard maxTokens <= maxTokensLimit else {
            throw .invalid("\(maxField) is \(maxTokens); this server allows at most \(maxTokensLimit)", param: maxField)
        }
        if let temperature = fields.temperature, !(0...2).contains(temperature) {
            throw .invalid("temperature must be between 0 and 2 (got \(temperature))", param: "temperature")
        }
        if let topP = fields.top_p, !(topP > 0 && topP <= 1) {
            throw .invalid("top_p must be in (0, 1] (got \(topP))", param: "top_p")
        }
        if let topK = fields.top_k, topK < -1 { throw .invalid("top_k must be -1, 0 or positive (got \(topK))", param: "top_k") }
        if let minP = fields.min_p, !(0...1).contains(minP) {
            throw .invalid("min_p must be between 0 and 1 (got \(minP))", param: "min_p")
        }
        let stops = fields.stop?.values ?? []
        if stops.count > 4 { throw .invalid("at most 4 stop sequences are allowed (got \(stops.count))", param: "stop") }
        if let topLogprobs, !(0...20).contains(topLogprobs) {
            throw .invalid("logprobs must be between 0 and 20 (got \(topLogprobs))", param: "logprobs")
        }
        if fields.stream_options != nil, fields.stream != true {
            throw .invalid("stream_options is only allowed when stream is true", param: "stream_options")
        }
        // OpenAI's defaults: temperature 1, top_p 1, no top-k or min-p.
        let sampling = SamplingParameters(
            temperature: fields.temperature ?? 1, topK: max(0, fields.top_k ?? 0), topP: fields.top_p ?? 1,
            minP: fields.min_p ?? 0, repetitionPenalty: fields.repetition_penalty ?? 1,
            seed: fields.seed.map { UInt64(bitPattern: $0) } ?? UInt64.random(in: 0...UInt64.max))
        return GenerationParameters(
            maxTokens: maxTokens, sampling: sampling, stop: stops, stopAtEndOfGeneration: fields.ignore_eos != true,
            stream: fields.stream ?? false, includeUsage: fields.stream_options?.include_usage ?? false,
            topLogprobs: topLogprobs, priority: fields.priority, model: fields.model)
    }
}
