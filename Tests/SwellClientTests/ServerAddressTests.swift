import Foundation
@testable import SwellClient
import Testing

@Suite("Server address resolution")
struct ServerAddressTests {
    /// A home directory holding `.swell/config.yaml` with `config` (none when nil).
    private func home(config: String?) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent(".swell"), withIntermediateDirectories: true)
        if let config {
            try config.write(to: directory.appendingPathComponent(".swell/config.yaml"), atomically: true, encoding: .utf8)
        }
        return directory.path
    }

    @Test("flag, then environment, then config file, then the default", arguments: [
        ("http://flag:1" as String?, "http://env:2" as String?, "server: http://file:3\n" as String?, "http://flag:1"),
        (nil, "http://env:2", "server: http://file:3\n", "http://env:2"),
        (nil, "", "server: http://file:3\n", "http://file:3"),
        (nil, nil, "server: http://file:3\n", "http://file:3"),
        (nil, nil, "# comment only\n", "http://127.0.0.1:7070"),
        (nil, nil, "other: value\n", "http://127.0.0.1:7070"),
        (nil, nil, nil, "http://127.0.0.1:7070"),
        ("10.0.0.5:7070", nil, nil, "http://10.0.0.5:7070"),
        ("https://swell.example.com/", nil, nil, "https://swell.example.com"),
    ])
    func precedence(flag: String?, environment: String?, config: String?, expected: String) throws {
        let home = try home(config: config)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let env = environment.map { ["SWELL_SERVER": $0] } ?? [:]
        #expect(try ServerAddress.resolve(flag: flag, environment: env, homeDirectory: home) == expected)
    }

    @Test("no home directory falls back to the default")
    func noHome() throws {
        #expect(try ServerAddress.resolve(flag: nil, environment: [:], homeDirectory: nil) == ServerAddress.defaultAddress)
    }

    @Test("an unusable source is an error naming it", arguments: [
        ("ftp://x" as String?, nil as String?, nil as String?, "--server", "not an http:// or https:// URL"),
        ("", nil, nil, "--server", "empty"),
        (nil, "http://", nil, "$SWELL_SERVER", "has no host"),
        (nil, "http://h:1/?a=b", nil, "$SWELL_SERVER", "query"),
        (nil, nil, "# settings\nserver: [1, 2]\n", "config.yaml:2", "must be a URL string (found array)"),
        (nil, nil, "server: \"unterminated\n", "config.yaml:", "invalid YAML"),
    ])
    func errors(flag: String?, environment: String?, config: String?, source: String, message: String) throws {
        let home = try home(config: config)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let env = environment.map { ["SWELL_SERVER": $0] } ?? [:]
        let error = try #require(throws: ServerAddress.ResolutionError.self) {
            try ServerAddress.resolve(flag: flag, environment: env, homeDirectory: home)
        }
        #expect(error.source.hasSuffix(source) || error.source.contains(source), "\(error.source)")
        #expect(error.message.contains(message), "\(error.message)")
    }
}
