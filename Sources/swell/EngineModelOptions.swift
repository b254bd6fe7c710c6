import ArgumentParser
import SwellEngine

/// Options shared by the `swell engine` subcommands that load a model.
struct EngineModelOptions: ParsableArguments {
    @Option(name: .long, help: "Path to a GGUF model file.")
    var model: String

    @Flag(name: .long, help: "Use the portable scalar kernels instead of AVX2 (for comparisons).")
    var scalarKernels = false

    @Flag(name: .long, help: "Do not pin compute threads to CPUs (better when the CPUs are shared with other busy processes).")
    var noPin = false

    func load() throws -> LlamaModel {
        if scalarKernels { KernelSelection.simdEnabled = false }
        do {
            return try LlamaModel(path: model)
        } catch let error as GGUFError {
            throw EngineCommandError("\(model): \(error.description)")
        } catch let error as ModelLoadError {
            throw EngineCommandError("\(model): \(error.description)")
        }
    }
}

/// A failure to report as one line, without the usage text ArgumentParser adds to validation errors.
struct EngineCommandError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
