import Foundation
import Logging
import ServiceLifecycle
import SwellAgent
import SwellClient
import SwellControllers
import SwellRouter
import SwellServer
import SwellStore
import Synchronization

/// Everything one `swell server` process runs, built from its options.
///
/// The services share one `ServiceGroup`, so they start together and shut down together; the
/// controllers, router and embedded agent join this list as they arrive.
struct ServerAssembly {
    struct Options: Sendable {
        /// Holds `swell.db` (and its WAL and lock files).
        var dataDirectory: String
        var listen: ListenAddress
        var maxBodySize: Int = 4 << 20
        var runControllers = true
        /// The router (OpenAI-compatible front door); nil with `--disable-router`.
        var router: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8080)
        /// The embedded node agent; nil with `--disable-agent`.
        var agent: NodeAgent.Configuration?
    }

    let store: SQLiteStore
    let services: [any Service]
    /// The API server's own URL once it listens; in-process clients (controllers, the embedded
    /// agent) wait for it, since with port 0 it is known only then.
    let apiURL = LateValue<String>()

    static func databasePath(dataDirectory: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("swell.db").path
    }

    /// Opens the store and wires the services.
    ///
    /// - Parameter onListening: called with the API server's URL once it accepts connections,
    ///   with the real port when the options asked for port 0.
    init(options: Options, logger: Logger, onListening: @escaping @Sendable (String) async -> Void,
         onRouterListening: @escaping @Sendable (String) async -> Void = { _ in }) throws {
        store = try SQLiteStore(path: Self.databasePath(dataDirectory: options.dataDirectory), logger: logger.child("store"))
        let listen = options.listen
        let apiURL = self.apiURL
        // The router and the autoscaler need each other: the autoscaler reads the router's queues,
        // the router wakes the autoscaler. The router is made second, so it is handed over late.
        let routerDemand = RouterDemand()
        let routerURL = LateValue<String>()
        let controllers = options.runControllers
            ? ControllerManager(apiURL: apiURL, demand: routerDemand, routerURL: options.router == nil ? nil : routerURL,
                                logger: logger.child("controllers"))
            : nil
        let apiServer = APIServer(
            store: store,
            configuration: .init(
                host: listen.host,
                port: listen.port,
                maxBodySize: options.maxBodySize,
                additionalMetrics: { controllers?.autoscalerMetrics.exposition() ?? "" },
                onServerRunning: { port in
                    apiURL.set(listen.clientURL(port: port))
                    await onListening(listen.url(port: port))
                }
            ),
            logger: logger.child("apiserver")
        )
        var services: [any Service] = [apiServer]
        if let controllers {
            services.append(controllers)
        }
        if let address = options.router {
            // After the controllers, so it stops before them: in-flight responses finish first.
            let router = RouterService(
                apiURL: apiURL,
                configuration: .init(host: address.host, port: address.port, maxBodySize: options.maxBodySize,
                                     onServerRunning: { port in
                                         routerURL.set(address.clientURL(port: port))
                                         await onRouterListening(address.url(port: port))
                                     }),
                onDemand: { key in controllers?.wake(service: key) },
                logger: logger.child("router"))
            routerDemand.attach(router)
            services.append(router)
        }
        if let agent = options.agent {
            // Last in the list, so it stops first: engines are drained while the API still answers.
            services.append(NodeAgent(apiURL: apiURL, configuration: agent, logger: logger.child("agent")))
        }
        self.services = services
    }

    /// Releases what outlives the services: the store file and its lock.
    func close() throws {
        try store.close()
    }
}

/// The router's view of each service's demand, for the autoscaler in the same process.
final class RouterDemand: ServiceDemandSource {
    private let router = Mutex<RouterService?>(nil)

    func attach(_ router: RouterService) {
        self.router.withLock { $0 = router }
    }

    func demand(for service: String) -> ServiceDemand? {
        guard let statistics = router.withLock({ $0 })?.statistics(service: service) else { return nil }
        return ServiceDemand(queued: Double(statistics.queued.values.reduce(0, +)), lastRequest: statistics.lastRequest)
    }
}

extension Logger {
    /// A logger for one component that keeps this one's level and metadata.
    func child(_ component: String) -> Logger {
        var logger = Logger(label: "swell.\(component)")
        logger.logLevel = logLevel
        for (key, value) in handler.metadata { logger[metadataKey: key] = value }
        return logger
    }
}
