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
            SIGTERM or SIGINT drain and stop this node's engines (their Replicas stay, so a restarted \
            agent starts them again). Engines left running by an agent killed with SIGKILL are adopted \
            on the next start, or stopped when their Replica is gone.
            """
    )

    @Option(help: "URL of the API server.")
    var server = "http://127.0.0.1:7070"

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Directory for engine logs and the agent's state.", valueName: "dir"))
    var dataDirectory = "./.swell-agent"

    @OptionGroup var agent: AgentOptions

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

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
        let agent = NodeAgent(apiURL: url, configuration: try self.agent.configuration(dataDirectory: dataDirectory), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
