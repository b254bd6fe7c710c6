import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SwellAPI
import SwellStore

/// The Swell API server: REST over the store, watch streams, health and metrics.
///
/// A `Service`: `run()` serves until graceful shutdown, which first ends every open watch so
/// that in-flight streaming responses finish and the HTTP server can stop.
public struct APIServer: Service {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port; `onServerRunning` reports the one chosen.
        public var port: Int
        /// Larger request bodies get 413 RequestEntityTooLarge.
        public var maxBodySize: Int
        /// Watches end after this long unless the client asks for `timeoutSeconds`; clients re-watch.
        public var defaultWatchTimeout: Duration
        /// More Prometheus text served on `/metrics` after the API server's own: the metrics of
        /// the controllers running in the same process.
        public var additionalMetrics: @Sendable () -> String
        public var onServerRunning: @Sendable (Int) async -> Void

        public init(
            host: String = "127.0.0.1",
            port: Int = 7070,
            maxBodySize: Int = 4 << 20,
            defaultWatchTimeout: Duration = .seconds(1800),
            additionalMetrics: @escaping @Sendable () -> String = { "" },
            onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
        ) {
            self.host = host
            self.port = port
            self.maxBodySize = maxBodySize
            self.defaultWatchTimeout = defaultWatchTimeout
            self.additionalMetrics = additionalMetrics
            self.onServerRunning = onServerRunning
        }
    }

    let store: any ResourceStore
    let configuration: Configuration
    let logger: Logger
    let metrics = APIMetrics()
    let watches = WatchRegistry()

    public init(store: any ResourceStore, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "swell.apiserver")) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let application = makeApplication()
        let watches = self.watches
        try await withGracefulShutdownHandler {
            try await application.run()
        } onGracefulShutdown: {
            watches.stopAll()
        }
    }

    /// The Hummingbird application, exposed so tests can drive it with HummingbirdTesting.
    func makeApplication() -> some ApplicationProtocol {
        let handler = APIHandler(
            store: store, metrics: metrics, watches: watches, maxBodySize: configuration.maxBodySize,
            defaultWatchTimeout: configuration.defaultWatchTimeout, logger: logger)
        let router = Router()
        router.add(middleware: StatusErrorMiddleware(logger: logger))
        let store = self.store
        let metrics = self.metrics
        let additionalMetrics = configuration.additionalMetrics

        router.get("/healthz") { _, _ in Self.plain("ok") }
        router.get("/livez") { _, _ in Self.plain("ok") }
        router.get("/readyz") { _, _ in
            do {
                _ = try await store.currentRevision()
                return Self.plain("ok")
            } catch {
                return APIHandler.statusResponse(Status(code: 503, reason: .serviceUnavailable, message: "store not ready: \(error)"))
            }
        }
        router.get("/version") { _, _ in try APIHandler.json(VersionInfo.current, code: 200) }
        router.get("/metrics") { _, _ in
            if let revision = try? await store.currentRevision() { metrics.setRevision(revision) }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition() + additionalMetrics())))
        }
        router.get("/sd/replicas") { _, _ in
            let replicas = try await store.list(Replica.self, namespace: nil, selector: .everything).items
            let nodes = try await store.list(Node.self, namespace: nil, selector: .everything).items
            return try APIHandler.json(ReplicaDiscovery.targetGroups(replicas: replicas, nodes: nodes), code: 200)
        }
        let logs = ReplicaLogProxy(store: store)
        // Every method reaches the handler, which answers the ones a path does not support with 405.
        // (The log subresource is matched here rather than as its own route: a more specific
        // route would shadow the wildcard for its parent paths in Hummingbird's trie.)
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete, .options] {
            router.on("/apis/**", method: method) { request, _ in
                if method == .get, let (namespace, name) = ReplicaLogProxy.match(request.uri.path) {
                    return await logs.handle(request, namespace: namespace, name: name)
                }
                return await handler.handle(request)
            }
        }

        let onServerRunning = configuration.onServerRunning
        let logger = self.logger
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "swell"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("API server listening", metadata: ["port": "\(port)"])
                await onServerRunning(port)
            },
            logger: logger
        )
    }

    private static func plain(_ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
