/// The affinity key of a request: a 64-bit hash of the text that decides where its reusable KV
/// cache lives.
///
/// The unit is the conversation's opening: for chat, every system (or developer) message and
/// the first user message, in order; for completions, the start of the prompt. Both are cut to
/// `prefixBytes` UTF-8 bytes. Why this unit:
/// - every turn of one conversation has the same opening, so follow-ups land on the replica
///   that holds their history;
/// - chats that share only a system prompt spread over the replicas by their first question,
///   and each replica caches that system prompt once — a few hundred tokens, against the hot
///   spot that keying on the system prompt alone would make;
/// - bytes, not tokens: the router has no tokenizer, and equal text means equal tokens.
enum AffinityKey {
    /// The opening text of a chat: system/developer messages and the first user message.
    static func chatText(_ messages: [(role: String, content: String)]) -> String {
        var text = ""
        for (role, content) in messages {
            switch role {
            case "system", "developer":
                text += "\(role)\u{1F}\(content)\u{1E}"
            case "user":
                return text + "user\u{1F}\(content)\u{1E}"
            default:
                // An assistant turn before any user turn (a primed conversation) is part of the opening.
                text += "\(role)\u{1F}\(content)\u{1E}"
            }
        }
        return text
    }

    /// FNV-1a over the first `prefixBytes` bytes; nil for empty text (no affinity).
    static func hash(_ text: String, prefixBytes: Int) -> UInt64? {
        let bytes = text.utf8.prefix(prefixBytes)
        return bytes.isEmpty ? nil : fnv1a(bytes)
    }

    static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
        return value
    }
}
