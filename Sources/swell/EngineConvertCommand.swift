import ArgumentParser
import SwellEngine

/// `swell engine convert` — the same model with its weight matrices in another type.
struct EngineConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write a copy of a GGUF model with its weight matrices converted to another type.",
        discussion: """
            Matrices are dequantized and requantized to --type (F32, F16, BF16, Q8_0, Q4_0, Q4_1); norm \
            vectors and metadata are copied. Converting from a lower precision does not add information: \
            the result is for benchmarking and testing the other formats' kernels on the same model.
            """
    )

    @Option(name: .long, help: "Input GGUF file.")
    var model: String

    @Option(name: .shortAndLong, help: "Output GGUF file.")
    var output: String

    @Option(name: .long, help: "Target type: f32, f16, bf16, q8_0, q4_0 or q4_1.")
    var type: String

    func run() throws {
        guard let target = GGMLType.allCases.first(where: { $0.description.lowercased() == type.lowercased() }) else {
            throw ValidationError("--type must be one of \(GGMLType.allCases.map { $0.description.lowercased() }.joined(separator: ", ")) (got \"\(type)\")")
        }
        do {
            let file = try GGUFFile(path: model)
            try GGUFConversion.convert(file, to: target).write(to: output)
        } catch let error as GGUFError {
            throw EngineCommandError("\(model): \(error.description)")
        } catch let error as GGUFConversion.ConversionError {
            throw EngineCommandError("\(model): \(error.description)")
        }
        print("wrote \(output) (\(target) weights)")
    }
}
