import ArgumentParser
import Foundation
import SwellClient

/// Options every command that talks to the server takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "API server URL. Default: $SWELL_SERVER, then `server:` in ~/.swell/config.yaml, then http://127.0.0.1:7070.",
        valueName: "url"))
    var server: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Namespace of namespaced objects (default: \"default\").", valueName: "namespace"))
    var namespace: String?

    @Option(name: .customLong("request-timeout"), help: ArgumentHelp("Seconds to wait for each response (watches excepted).", valueName: "seconds"))
    var requestTimeout: Int = 60

    /// The namespace for objects that name none.
    var effectiveNamespace: String { namespace ?? "default" }

    func serverURL() throws -> String {
        do {
            let environment = ProcessInfo.processInfo.environment
            // $HOME first, as shells and kubectl do; Foundation's home directory ignores it on Linux.
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? FileManager.default.homeDirectoryForCurrentUser.path
            return try ServerAddress.resolve(flag: server, environment: environment, homeDirectory: home)
        } catch {
            throw CLIError("invalid server address from \(error.description)")
        }
    }

    func client() throws -> APIClient {
        APIClient(
            baseURL: try serverURL(),
            httpClient: commandLineHTTPClient,
            configuration: APIClient.Configuration(requestTimeout: .seconds(max(requestTimeout, 1)))
        )
    }
}
