import ArgumentParser
import AsyncHTTPClient
import Foundation
import SwellAPI
import SwellClient

/// `swellctl logs [replica/]NAME [-f] [--tail N]` — a replica's engine log, through the API
/// server (which fetches it from the agent of the replica's node).
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print the engine log of a replica.",
        discussion: "NAME is a replica (replica/NAME or rep/NAME also work). -f keeps printing new lines until interrupted."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The replica: NAME, replica/NAME or rep/NAME.")
    var target: String

    @Flag(name: [.short, .long], help: "Follow the log.")
    var follow = false

    @Option(name: .long, help: ArgumentHelp("Only the last N lines.", valueName: "n"))
    var tail: Int?

    func validate() throws {
        if let tail, tail < 0 { throw ArgumentParser.ValidationError("--tail must be 0 or more") }
    }

    func run() async throws {
        var name = target
        if let slash = target.firstIndex(of: "/") {
            let kind = String(target[..<slash])
            guard CLIKinds.named(kind) is Replica.Type else {
                throw CLIError("logs are kept for replicas only (got \"\(kind)\")")
            }
            name = String(target[target.index(after: slash)...])
        }
        let client = try global.client()
        let namespace = global.effectiveNamespace
        var query: [String] = []
        if follow { query.append("follow=true") }
        if let tail { query.append("tailLines=\(tail)") }
        let url = "\(client.baseURL)/apis/swell.dev/v1/namespaces/\(namespace)/replicas/\(name)/log"
            + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let response = try await commandLineHTTPClient.execute(HTTPClientRequest(url: url), timeout: .hours(24))
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: 1 << 20)
            if let status = try? JSONDecoder().decode(Status.self, from: Data(body.readableBytesView)) { throw status }
            throw CLIError("the server answered \(response.status.code): \(String(buffer: body))")
        }
        for try await chunk in response.body {
            write(Data(chunk.readableBytesView), to: .standardOutput)
        }
    }
}
