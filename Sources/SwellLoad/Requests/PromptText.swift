/// Deterministic filler text of about a given number of tokens: the seed (which makes the text
/// unique from its first word, so prompts only share the prefixes they are meant to) followed by
/// common short words, each one token in byte-level BPE vocabularies.
public enum PromptText {
    static let vocabulary = ["the", "river", "stone", "light", "green", "quiet", "house", "north", "paper", "clock",
                             "bread", "window", "garden", "winter", "music", "road", "cloud", "silver", "market", "forest"]

    public static func text(words: Int, seed: String) -> String {
        var state = UInt64(truncatingIfNeeded: seed.utf8.reduce(1469598103934665603) { ($0 ^ UInt64($1)) &* 1099511628211 })
        var out: [String] = [seed]
        for _ in 0..<max(0, words - 3) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            out.append(vocabulary[Int((state >> 33) % UInt64(vocabulary.count))])
        }
        return out.joined(separator: " ")
    }
}
