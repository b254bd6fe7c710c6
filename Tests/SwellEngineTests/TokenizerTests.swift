import Testing
@testable import SwellEngine

@Suite("Tokenizer")
struct TokenizerTests {
    @Test("SmolLM2 token ids equal llama.cpp's for tricky strings", arguments: LlamaCppReference.tokenizations.indices)
    func matchesLlamaCpp(index: Int) throws {
        let reference = LlamaCppReference.tokenizations[index]
        let tokenizer = try RealModel.model().tokenizer
        let ids = tokenizer.encode(reference.text, addSpecial: false, parseSpecial: reference.parseSpecial)
        #expect(ids == reference.ids, "\(reference.text.debugDescription)")
        // Again, now that its words are in the tokenizer's word cache.
        let again = tokenizer.encode(reference.text, addSpecial: false, parseSpecial: reference.parseSpecial)
        #expect(again == reference.ids, "\(reference.text.debugDescription), from the word cache")
    }

    @Test("words repeated within and across texts encode as they do alone")
    func wordCacheAgreesWithMerging() throws {
        let tokenizer = try RealModel.model().tokenizer
        // Each starts a pre-token of its own (a space, then letters or digits), so that joining
        // them changes no word boundary.
        let words = [" river", " stone", " cloud", " Paper", " 2026", " über", " 你好", " supercalifragilistic"]
        // Each word's ids from a text that holds only it once...
        let alone = words.map { tokenizer.encode($0, addSpecial: false) }
        // ...and in texts that repeat them in another order, encoded twice over.
        for _ in 0..<2 {
            let text = (words + words.reversed()).joined()
            let expected = (alone + alone.reversed()).flatMap { $0 }
            #expect(tokenizer.encode(text, addSpecial: false) == expected)
        }
    }

    @Test("decoding the ids gives the text back", arguments: LlamaCppReference.tokenizations.indices)
    func roundTrip(index: Int) throws {
        let reference = LlamaCppReference.tokenizations[index]
        let tokenizer = try RealModel.model().tokenizer
        #expect(tokenizer.decode(reference.ids, renderSpecial: true) == reference.text)
    }

    @Test("streaming detokenization never emits half a character")
    func streamingKeepsCharactersWhole() throws {
        let tokenizer = try RealModel.model().tokenizer
        let text = "emoji 😀🎉👍🏽 CJK 你好世界 done"
        let ids = tokenizer.encode(text, addSpecial: false)
        // Some emoji are split over several byte tokens; a naive per-token decode would show U+FFFD.
        #expect(ids.contains { tokenizer.bytes(of: $0).count == 1 && tokenizer.bytes(of: $0)[0] >= 0x80 })
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        var pieces: [String] = []
        for id in ids { pieces.append(stream.append(id)) }
        pieces.append(stream.flush())
        #expect(pieces.allSatisfy { !$0.contains("\u{FFFD}") })
        #expect(pieces.joined() == text)
    }

    @Test("an incomplete character at the end is flushed as U+FFFD")
    func streamingFlushesIncompleteBytes() {
        #expect(StreamingDetokenizer.incompleteSuffixLength(Array("a😀".utf8).dropLast(1).map { $0 }) == 3)
        #expect(StreamingDetokenizer.incompleteSuffixLength(Array("a😀".utf8)) == 0)
        #expect(StreamingDetokenizer.incompleteSuffixLength([0x61, 0xC3]) == 1)
        #expect(StreamingDetokenizer.incompleteSuffixLength([0x61, 0x80]) == 0) // stray continuation: nothing to wait for
    }

    @Test("special tokens are parsed only when asked; control tokens render only when asked")
    func specialTokens() throws {
        let tokenizer = try RealModel.model().tokenizer
        #expect(tokenizer.encode("<|im_end|>", addSpecial: false) == [2])
        #expect(tokenizer.encode("<|im_end|>", addSpecial: false, parseSpecial: false).count > 1)
        #expect(tokenizer.decode([1, 4093, 198]) == "user\n")
        #expect(tokenizer.decode([1, 4093, 198], renderSpecial: true) == "<|im_start|>user\n")
        #expect(tokenizer.endOfGeneration.contains(2))
    }

    @Test("special tokens match back to back, and a cut-off one is spelled out")
    func adjacentSpecialTokens() throws {
        let tokenizer = try RealModel.model().tokenizer
        let cutOff = tokenizer.encode("<|im_start|", addSpecial: false, parseSpecial: false)
        #expect(tokenizer.encode("<|im_start|><|im_end|><|im_start|", addSpecial: false) == [1, 2] + cutOff)
        #expect(tokenizer.encode("x<|im_end|><|im_end|>", addSpecial: false) == tokenizer.encode("x", addSpecial: false) + [2, 2])
    }

    @Test("ChatML with SmolLM2's default system prompt")
    func chatTemplate() throws {
        let tokenizer = try RealModel.model().tokenizer
        let template = try #require(ChatTemplate(tokenizer: tokenizer))
        #expect(template.defaultSystemPrompt == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let rendered = template.render([ChatMessage(role: "user", content: "What is 2+2? Answer in one word.")])
        #expect(rendered == LlamaCppReference.logits[1].prompt)
        let withSystem = template.render([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi")])
        #expect(withSystem == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    // MARK: - Pre-tokenizers

    @Test("GPT-2 pre-tokenizer splits as its regular expression does")
    func gpt2Split() {
        #expect(PreTokenizer.gpt2.split("Hello world") == ["Hello", " world"])
        #expect(PreTokenizer.gpt2.split("I'm  here\n\nnow 123!!") == ["I", "'m", " ", " here", "\n", "\n", "now", " 123", "!!"])
        #expect(PreTokenizer.gpt2.split("a   ") == ["a", "   "])
        #expect(PreTokenizer.gpt2.split("x\t y") == ["x", "\t", " y"])
    }

    @Test("the ASCII fast paths classify every ASCII scalar as its Unicode properties do")
    func asciiClasses() {
        let letters: [Unicode.GeneralCategory] = [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter]
        let numbers: [Unicode.GeneralCategory] = [.decimalNumber, .letterNumber, .otherNumber]
        for value in UInt8(0)..<128 {
            let scalar = Unicode.Scalar(value)
            let category = scalar.properties.generalCategory
            #expect(scalar.isLetter == letters.contains(category), "U+\(String(value, radix: 16)) letter")
            #expect(scalar.isNumber == numbers.contains(category), "U+\(String(value, radix: 16)) number")
            #expect(scalar.isSpace == scalar.properties.isWhitespace, "U+\(String(value, radix: 16)) space")
        }
    }

    @Test("SmolLM pre-tokenizer isolates every digit first")
    func digitSplit() {
        #expect(PreTokenizer.digitsThenGPT2.split("year 2024!") == ["year", " ", "2", "0", "2", "4", "!"])
    }

    @Test("Llama 3 pre-tokenizer groups up to three digits and keeps newlines together")
    func llama3Split() {
        #expect(PreTokenizer.llama3.split("12345 abc") == ["123", "45", " abc"])
        #expect(PreTokenizer.llama3.split("HE'S ok\n\n  x") == ["HE", "'S", " ok", "\n\n", " ", " x"])
        #expect(PreTokenizer.llama3.split("(hello)") == ["(hello", ")"])
        #expect(PreTokenizer(ggufName: "llama-bpe") == .llama3)
        #expect(PreTokenizer(ggufName: "smollm") == .digitsThenGPT2)
        #expect(PreTokenizer(ggufName: "something-new") == nil)
    }

    // MARK: - Tiny vocabularies

    @Test("byte-level BPE on the tiny model round-trips any text")
    func tinyBPERoundTrip() throws {
        let tokenizer = try TinyModel.model().tokenizer
        for text in ["the quick brown fox", "unseen wörds ✓ 42", "<|im_start|>user\nhello<|im_end|>"] {
            let ids = tokenizer.encode(text)
            #expect(tokenizer.decode(ids, renderSpecial: true) == text)
        }
        // Merges learned from the corpus apply: "the" is one token, not three bytes.
        #expect(tokenizer.encode("the", addSpecial: false).count == 1)
        #expect(tokenizer.encode("<|im_start|>", addSpecial: false) == [1])
    }

    @Test("SentencePiece merges by score and falls back to bytes")
    func sentencePiece() throws {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        var tokens = ["<unk>", "<s>", "</s>"]
        var types: [TokenType] = [.unknown, .control, .control]
        var scores: [Float] = [0, 0, 0]
        for byte in 0..<256 {
            tokens.append(String(format: "<0x%02X>", byte))
            types.append(.byte)
            scores.append(0)
        }
        let pieces: [(String, Float)] = [("▁", -1), ("h", -2), ("e", -2), ("l", -2), ("o", -2), ("▁h", -3), ("el", -4),
                                          ("ll", -1.5), ("he", -2.5), ("llo", -1), ("▁hello", -0.5), ("▁he", -2)]
        for (piece, score) in pieces {
            tokens.append(piece)
            types.append(.normal)
            scores.append(score)
        }
        writer.set("tokenizer.ggml.model", .string("llama"))
        writer.set("tokenizer.ggml.tokens", .array(tokens.map { .string($0) }))
        writer.set("tokenizer.ggml.token_type", .array(types.map { .int32($0.rawValue) }))
        writer.set("tokenizer.ggml.scores", .array(scores.map { .float32($0) }))
        writer.set("tokenizer.ggml.bos_token_id", .uint32(1))
        writer.set("tokenizer.ggml.eos_token_id", .uint32(2))
        let tokenizer = try Tokenizer(gguf: GGUFFile(bytes: writer.serialized()))
        let id = { (text: String) in tokenizer.id(of: text)! }
        // BOS added by default for SentencePiece; "▁hello" is reachable through score-ordered merges.
        #expect(tokenizer.encode("hello") == [1, id("▁hello")])
        // "é" has no piece: its two UTF-8 bytes become byte tokens.
        #expect(tokenizer.encode("hé", addSpecial: false) == [id("▁h"), id("<0xC3>"), id("<0xA9>")])
        #expect(tokenizer.decode(tokenizer.encode("hello hé")) == "hello hé")
    }
}
