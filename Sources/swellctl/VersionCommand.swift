import ArgumentParser
import SwellAPI
import SwellClient

/// `swellctl version` — this client's version and, when reachable, the server's.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the client and server versions."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("client"), help: "Print only the client version; do not contact the server.")
    var clientOnly = false

    func run() async throws {
        printOutput("Client Version: \(swellVersion) (API \(swellAPIVersion))")
        if clientOnly { return }
        let url = try global.serverURL()
        do {
            let server = try await global.client().version()
            printOutput("Server Version: \(server.version) (API \(server.apiVersion))")
        } catch {
            // The client version alone is still an answer; say why the server's is missing.
            var reason = ErrorReport.text(for: error)
            if reason.hasPrefix("error: ") { reason.removeFirst("error: ".count) }
            printError("Server Version: unavailable from \(url): \(reason)")
        }
    }
}
