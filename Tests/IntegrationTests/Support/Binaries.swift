import Foundation
import Testing

/// The built `swell` and `swellctl` executables, found beside this test bundle
/// (`.build/<triple>/debug/`), or in `$SWELL_BIN_DIR`.
enum Binaries {
    static let directory: URL = {
        if let override = ProcessInfo.processInfo.environment["SWELL_BIN_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        // The test runner is an executable inside the build directory (on Linux the
        // `.xctest` file itself; on macOS inside a bundle there).
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        if let executable = Bundle.main.executableURL { url = executable.resolvingSymlinksInPath() }
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("swellctl").path) {
                return url
            }
        }
        return Bundle.main.bundleURL.deletingLastPathComponent()
    }()

    static func executable(_ name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try #require(FileManager.default.isExecutableFile(atPath: url.path),
                     "\(url.path) is missing: build the executables first (`swift build`, or `make test`)")
        return url
    }

    static var swell: URL { get throws { try executable("swell") } }
    static var swellctl: URL { get throws { try executable("swellctl") } }

    /// The repository root (for `manifests/examples`), found from this source file's path.
    static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    static var examples: URL { repositoryRoot.appendingPathComponent("manifests/examples") }
}
