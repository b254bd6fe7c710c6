import ArgumentParser
import SwellEngine

/// `swell engine tokenize` — show how a model's tokenizer splits text.
struct EngineTokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids and pieces of a text."
    )

    @OptionGroup var modelOptions: EngineModelOptions

    @Flag(name: .long, help: "Do not add BOS/EOS even if the model asks for them.")
    var noSpecial = false

    @Flag(name: .long, help: "Spell out special token texts instead of mapping them to their ids.")
    var noParseSpecial = false

    @Flag(name: .long, help: "Print only the ids, as a JSON array.")
    var idsOnly = false

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        let model = try modelOptions.load()
        let tokenizer = model.tokenizer
        let ids = tokenizer.encode(text, addSpecial: !noSpecial, parseSpecial: !noParseSpecial)
        if idsOnly {
            print("[" + ids.map(String.init).joined(separator: ", ") + "]")
            return
        }
        for id in ids {
            let bytes = tokenizer.bytes(of: id, renderSpecial: true)
            // A piece of a multi-byte character is shown as its bytes rather than as U+FFFD.
            let shown: String
            if let piece = String(validating: bytes, as: UTF8.self) {
                shown = piece.unicodeScalars.map { $0.isASCII && $0.value < 0x20 ? $0.escaped(asASCII: true) : String($0) }.joined()
            } else {
                shown = bytes.map { "<" + String($0, radix: 16, uppercase: true) + ">" }.joined()
            }
            print("\(EngineColumns.right(String(id), 6)) '\(shown)'")
        }
        print("\(ids.count) tokens")
    }
}
