import Foundation
import SwellAPI

/// Where clients find the API server.
///
/// The first source that is set wins: the `--server` flag, then `$SWELL_SERVER`, then
/// `server:` in `~/.swell/config.yaml`, then `http://127.0.0.1:7070`. A source that is set but
/// unusable is an error naming it, not a silent fall-through to the next one.
public enum ServerAddress {
    public static let defaultAddress = "http://127.0.0.1:7070"
    public static let environmentVariable = "SWELL_SERVER"
    /// Relative to the home directory.
    public static let configFile = ".swell/config.yaml"

    public struct ResolutionError: Error, Sendable, CustomStringConvertible {
        /// `--server`, `$SWELL_SERVER` or `/home/me/.swell/config.yaml:3`.
        public var source: String
        public var message: String
        public var description: String { "\(source): \(message)" }
    }

    public static func resolve(flag: String?, environment: [String: String], homeDirectory: String?) throws(ResolutionError) -> String {
        if let flag {
            return try normalize(flag, source: "--server")
        }
        if let value = environment[environmentVariable], !value.isEmpty {
            return try normalize(value, source: "$\(environmentVariable)")
        }
        if let homeDirectory, let configured = try configured(homeDirectory: homeDirectory) {
            return configured
        }
        return defaultAddress
    }

    /// The `server:` of the config file, nil when there is no file or it sets no server.
    static func configured(homeDirectory: String) throws(ResolutionError) -> String? {
        let path = URL(fileURLWithPath: homeDirectory).appendingPathComponent(configFile).path
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ResolutionError(source: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        let documents: [Manifest]
        do {
            documents = try ManifestParser.parse(text, source: path)
        } catch {
            throw ResolutionError(source: error.line.map { "\(path):\($0)" } ?? path, message: error.message)
        }
        guard let document = documents.first, let value = document.document["server"] else { return nil }
        let source = "\(path):\(document.line(of: "server"))"
        guard let server = value.stringValue else {
            throw ResolutionError(source: source, message: "server must be a URL string (found \(value.typeName))")
        }
        return try normalize(server, source: source)
    }

    /// `host:port` gets `http://`; a trailing slash is dropped; anything but an http(s) URL with
    /// a host is refused.
    static func normalize(_ raw: String, source: String) throws(ResolutionError) -> String {
        var value = raw.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { throw ResolutionError(source: source, message: "the server address is empty") }
        if !value.contains("://") { value = "http://" + value }
        while value.hasSuffix("/") { value.removeLast() }
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw ResolutionError(source: source, message: "\"\(raw)\" is not an http:// or https:// URL")
        }
        guard let host = url.host, !host.isEmpty else {
            throw ResolutionError(source: source, message: "\"\(raw)\" has no host")
        }
        guard url.query == nil, url.fragment == nil else {
            throw ResolutionError(source: source, message: "\"\(raw)\" must not have a query or fragment")
        }
        return value
    }
}
