import ArgumentParser
import SwellEngine

/// Options shared by the `swell engine` subcommands that load a model.
struct EngineModelOptions: ParsableArguments {
    @Option(name: .long, help: "Path to a GGUF model file.")
    var model: String

    @Flag(name: .long, help: "Use the portable scalar kernels instead of AVX2 (for comparisons).")
    var scalarKernels = false

    @Option(name: .long, help: "Kernel level: scalar, avx2 or avx512vnni (default: the best this CPU has).")
    var kernels: KernelSelection.Level?

    @Flag(name: .long, help: "Do not pin compute threads to CPUs (better when the CPUs are shared with other busy processes).")
    var noPin = false

    func load() throws -> LlamaModel {
        if scalarKernels { KernelSelection.selectForProcess(.scalar) }
        if let kernels, !KernelSelection.selectForProcess(kernels) {
            throw EngineCommandError("--kernels \(kernels): this CPU supports \(KernelSelection.supportedLevels.map(\.description).joined(separator: ", "))")
        }
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

extension KernelSelection.Level: ExpressibleByArgument {
    public init?(argument: String) {
        guard let level = Self.allCases.first(where: { $0.description == argument }) else { return nil }
        self = level
    }

    public static var allValueStrings: [String] { allCases.map(\.description) }
}
