import Foundation

/// The text of one manifest file, or of standard input (`-`).
struct ManifestSource: Sendable, Equatable {
    var name: String
    var text: String
}

/// Expands `-f` arguments into manifest texts: files as given, directories recursively
/// (`.yaml`, `.yml`, `.json`, sorted by path), `-` as standard input.
enum ManifestFiles {
    static let extensions: Set = ["yaml", "yml", "json"]

    static func read(_ paths: [String], standardInput: () -> String = ManifestFiles.readStandardInput) throws(CLIError) -> [ManifestSource] {
        var sources = [ManifestSource]()
        for path in paths {
            if path == "-" {
                sources.append(ManifestSource(name: "-", text: standardInput()))
                continue
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CLIError("the path \"\(path)\" does not exist")
            }
            let files = isDirectory.boolValue ? try manifestFiles(under: path) : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw CLIError("cannot read \"\(file)\"")
                }
                guard let text = String(data: data, encoding: .utf8) else {
                    throw CLIError("\(file): not UTF-8 text")
                }
                sources.append(ManifestSource(name: file, text: text))
            }
        }
        return sources
    }

    /// Manifest files below a directory, sorted so that `00-priorityclasses.yaml` goes first.
    static func manifestFiles(under directory: String) throws(CLIError) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else {
            throw CLIError("cannot read directory \"\(directory)\"")
        }
        var files = [String]()
        while let relative = enumerator.nextObject() as? String {
            let ext = (relative as NSString).pathExtension.lowercased()
            guard extensions.contains(ext) else { continue }
            let path = (directory as NSString).appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(path)
            }
        }
        return files.sorted()
    }

    static func readStandardInput() -> String {
        String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    }
}
