import Foundation

/// A chat message for the chat template.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Renders chats the way the model was fine-tuned: ChatML (`<|im_start|>role\ncontent<|im_end|>\n`),
/// with the default system prompt that the model's own template inserts when a chat has none.
public struct ChatTemplate: Sendable {
    public var defaultSystemPrompt: String?

    public init(defaultSystemPrompt: String? = nil) {
        self.defaultSystemPrompt = defaultSystemPrompt
    }

    /// The ChatML template for a tokenizer, picking up the default system prompt that a Jinja
    /// template like SmolLM2's adds when the first message is not from the system.
    public init?(tokenizer: Tokenizer) {
        guard tokenizer.id(of: "<|im_start|>") != nil, tokenizer.id(of: "<|im_end|>") != nil else { return nil }
        self.init(defaultSystemPrompt: Self.defaultSystemPrompt(in: tokenizer.chatTemplateSource ?? ""))
    }

    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var text = ""
        if let defaultSystemPrompt, messages.first?.role != "system" {
            text += "<|im_start|>system\n\(defaultSystemPrompt)<|im_end|>\n"
        }
        for message in messages {
            text += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n"
        }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        return text
    }

    static func defaultSystemPrompt(in template: String) -> String? {
        guard template.contains("!= 'system'") || template.contains("!= \"system\"") else { return nil }
        let opening = "<|im_start|>system\n"
        guard let start = template.range(of: opening),
              let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex) else { return nil }
        let prompt = String(template[start.upperBound..<end.lowerBound])
        // A literal prompt only: anything templated (e.g. `{{ messages[0]['content'] }}`) is not a default.
        return prompt.contains("{{") || prompt.contains("'") ? nil : prompt
    }
}
