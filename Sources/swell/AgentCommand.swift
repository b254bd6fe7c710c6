import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SwellAgent
import SwellClient

/// `swell agent` — the node agent alone, for a host that runs engines for a remote control plane.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the node agent: register this host as a Node and run the engines bound to it.",
        discussion: """
            Prints "swell agent listening on http://HOST:PORT" once its log endpoint accepts \
            connections. SIGTERM or SIGINT drain and stop this node's engines (their Replicas stay, \
            so a restarted agent starts them again). Engines left running by an agent killed with \
            SIGKILL are adopted by the next one, or stopped when their Replica is gone.
            """
    )

    @Option(help: ArgumentHelp("URL of the API server.", valueName: "url"))
    var server = "http://127.0.0.1:7070"

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Directory for engine logs and the agent's state.", valueName: "dir"))
    var dataDirectory = "./.swell-agent"

    @Option(help: ArgumentHelp("Address of the agent's log endpoint (default: 127.0.0.1:0); port 0 picks a free one.", valueName: "host:port"),
            transform: ListenAddress.argument)
    var listen: ListenAddress?

    @OptionGroup var agent: AgentOptions

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard let url = URL(string: server), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ValidationError("--server must be an http:// or https:// URL (got \"\(server)\")")
        }
    }

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "swell.agent")
        logger.logLevel = level
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let url = LateValue<String>()
        url.set(server.hasSuffix("/") ? String(server.dropLast()) : server)
        let agent = NodeAgent(apiURL: url, configuration: try self.agent.configuration(dataDirectory: dataDirectory, listen: listen),
                              logger: logger)
        let announce = Task {
            guard let address = await agent.address else { return }
            // Scripts and tests wait for this exact line; write it unbuffered.
            FileHandle.standardOutput.write(Data("swell agent listening on \(address)\n".utf8))
        }
        defer { announce.cancel() }
        let group = ServiceGroup(configuration: .init(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
