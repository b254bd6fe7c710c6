import ArgumentParser
import SwellEngine

/// `swell engine inspect` — metadata and tensor table of a GGUF file.
struct EngineInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a GGUF file's metadata and tensor table."
    )

    @Option(name: .long, help: "Path to a GGUF model file.")
    var model: String

    @Flag(name: .long, help: "Print only the metadata.")
    var metadataOnly = false

    func run() throws {
        let file: GGUFFile
        do {
            file = try GGUFFile(path: model)
        } catch {
            throw EngineCommandError("\(model): \(error.description)")
        }
        print("GGUF v\(file.version), \(file.metadata.count) metadata keys, \(file.tensors.count) tensors, "
              + "alignment \(file.alignment), data at byte \(file.dataOffset), \(file.fileSize) bytes")
        print()
        let keyWidth = min(file.metadataKeys.map(\.count).max() ?? 0, 48)
        for key in file.metadataKeys {
            print("\(EngineColumns.left(key, keyWidth))  \(file.metadata[key]!.summary)")
        }
        guard !metadataOnly else { return }
        print()
        let nameWidth = file.tensors.map(\.name.count).max() ?? 0
        print("\(EngineColumns.left("tensor", nameWidth))  \(EngineColumns.left("type", 5))  \(EngineColumns.left("shape", 16))  offset")
        var totals: [String: Int] = [:]
        for tensor in file.tensors {
            let shape = tensor.dimensions.map(String.init).joined(separator: " × ")
            print("\(EngineColumns.left(tensor.name, nameWidth))  \(EngineColumns.left(tensor.type.description, 5))  "
                  + "\(EngineColumns.left(shape, 16))  \(tensor.offset)")
            totals[tensor.type.description, default: 0] += tensor.byteCount
        }
        print()
        for (type, bytes) in totals.sorted(by: { $0.key < $1.key }) {
            print("\(type): \(bytes) bytes")
        }
    }
}
