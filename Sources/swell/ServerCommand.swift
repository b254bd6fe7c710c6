import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

/// `swell server` — the API server and its store in one process, until SIGTERM or SIGINT.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the Swell control plane: API server, controllers and the embedded node agent.",
        discussion: """
            Prints "swell server listening on http://HOST:PORT" once it accepts connections \
            (with the real port when --listen asks for port 0), and "swell router listening on \
            http://HOST:PORT" once the router does. SIGTERM or SIGINT shut it down gracefully: the \
            agent drains its engines, the router finishes in-flight responses, open watches end, the \
            store is closed.
            """
    )

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Directory for the store; the database is <data-dir>/swell.db.", valueName: "dir"))
    var dataDirectory = "./.swell"

    @Option(help: ArgumentHelp("Address to serve the API on (default: 127.0.0.1:7070); port 0 picks a free port.", valueName: "host:port"),
            transform: ListenAddress.argument)
    var listen = ListenAddress(host: "127.0.0.1", port: 7070)

    @Option(name: .customLong("max-body-size"), help: ArgumentHelp("Largest request body the API accepts, in bytes.", valueName: "bytes"))
    var maxBodySize = 4 << 20

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .customLong("router-listen"),
            help: ArgumentHelp("Address of the OpenAI-compatible router (default: 127.0.0.1:8080); port 0 picks a free port.", valueName: "host:port"),
            transform: ListenAddress.argument)
    var routerListen = ListenAddress(host: "127.0.0.1", port: 8080)

    @Flag(name: .customLong("disable-router"), help: "Do not run the router (requests then go straight to replicas).")
    var disableRouter = false

    @Flag(name: .customLong("disable-agent"), help: "Do not run the embedded node agent (engines then run only under `swell agent`).")
    var disableAgent = false

    @OptionGroup var agent: AgentOptions

    func validate() throws {
        if maxBodySize < 1024 { throw ValidationError("--max-body-size must be at least 1024 bytes") }
    }

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = {
            var logger = Logger(label: "swell.server")
            logger.logLevel = level
            return logger
        }()

        let assembly = try ServerAssembly(
            options: .init(dataDirectory: dataDirectory, listen: listen, maxBodySize: maxBodySize,
                           router: disableRouter ? nil : routerListen,
                           agent: disableAgent ? nil : try agent.configuration(dataDirectory: dataDirectory)),
            logger: logger,
            onListening: { url in
                // Tests and scripts wait for this exact line; write it unbuffered.
                FileHandle.standardOutput.write(Data("swell server listening on \(url)\n".utf8))
                logger.info("swell server listening", metadata: ["url": "\(url)"])
            },
            onRouterListening: { url in
                FileHandle.standardOutput.write(Data("swell router listening on \(url)\n".utf8))
                logger.info("swell router listening", metadata: ["url": "\(url)"])
            }
        )
        let group = ServiceGroup(configuration: .init(
            services: assembly.services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        do {
            try await group.run()
        } catch {
            try? assembly.close()
            throw error
        }
        try assembly.close()
        logger.info("swell server stopped")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
