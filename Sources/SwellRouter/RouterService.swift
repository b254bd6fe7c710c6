import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SwellAPI
import SwellClient
import SwellHTTP
import Synchronization

/// The control plane's OpenAI-compatible front door: `POST /v1/chat/completions` and
/// `/v1/completions` with `"model": "<service>"` go to a Ready replica of that InferenceService,
/// chosen by its routing policy, queued by priority when every replica is busy, held while it
/// scales from zero, and retried elsewhere when a replica cannot be reached.
///
/// It watches InferenceServices and Replicas through the API like any controller, so it runs in
/// `swell server` or on its own.
public final class RouterService: Service {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port; `onServerRunning` reports the one chosen.
        public var port: Int
        public var maxBodySize: Int
        /// Replicas one request may be tried on before it fails with 502.
        public var maxAttempts: Int
        /// Longest a replica may take to answer one request, streaming included.
        public var upstreamTimeout: Duration
        public var onServerRunning: @Sendable (Int) async -> Void

        public init(host: String = "127.0.0.1", port: Int = 8080, maxBodySize: Int = 4 << 20, maxAttempts: Int = 3,
                    upstreamTimeout: Duration = .seconds(1800), onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
            self.host = host
            self.port = port
            self.maxBodySize = maxBodySize
            self.maxAttempts = maxAttempts
            self.upstreamTimeout = upstreamTimeout
            self.onServerRunning = onServerRunning
        }
    }

    /// What the router knows of one service's demand, for the autoscaler.
    public struct ServiceStatistics: Sendable, Equatable {
        /// Requests waiting in the router, by class.
        public var queued: [RequestPriority: Int]
        public var inFlight: Int
        /// When the last request for the service arrived (nil: none since the router started).
        public var lastRequest: ContinuousClock.Instant?
    }

    public let configuration: Configuration
    private let apiURL: LateValue<String>
    private let onDemand: @Sendable (String) -> Void
    private let logger: Logger
    private let metrics = RouterMetrics()
    private let gates = Mutex<[String: ServiceGate]>([:])

    /// - Parameter onDemand: called with a service's key (`namespace/name`) when requests wait
    ///   for it — with no routable replica (the wake-up from zero; at most once a second), or
    ///   because a queue formed or grew with every replica busy (at most four times a second).
    public init(apiURL: LateValue<String>, configuration: Configuration = Configuration(),
                onDemand: @escaping @Sendable (String) -> Void = { _ in },
                logger: Logger = Logger(label: "swell.router")) {
        self.apiURL = apiURL
        self.configuration = configuration
        self.onDemand = onDemand
        self.logger = logger
    }

    /// The router's view of a service (`namespace/name`), nil before any request or replica.
    public func statistics(service key: String) -> ServiceStatistics? {
        guard let gate = gates.withLock({ $0[key] }) else { return nil }
        let stats = gate.statistics
        return ServiceStatistics(queued: stats.queued, inFlight: stats.inFlight, lastRequest: stats.lastArrival)
    }

    public func run() async throws {
        guard let url = await cancelWhenGracefulShutdown({ await self.apiURL.value() }) else { return }
        let client = APIClient(baseURL: url)
        let services = Informer<InferenceService>(client: client, logger: logger)
        let replicas = Informer<Replica>(client: client, logger: logger)
        _ = services.addEventHandler { [self] event in
            refresh(event.object.metadata.key, services: services.cache, replicas: replicas.cache)
        }
        _ = replicas.addEventHandler { [self] event in
            refresh(ServiceDirectory.serviceKey(of: event.object), services: services.cache, replicas: replicas.cache)
        }

        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1024
        httpConfiguration.timeout.connect = .seconds(2)
        try await HTTPClient.withClient(configuration: httpConfiguration) { http in
            let proxy = UpstreamProxy(http: http, metrics: metrics, maxAttempts: max(1, configuration.maxAttempts),
                                      timeout: configuration.upstreamTimeout)
            let application = makeApplication(proxy: proxy, services: services, replicas: replicas)
            let sweeper = Task { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    for gate in gates.withLock({ Array($0.values) }) { gate.sweep() }
                }
            }
            defer { sweeper.cancel() }
            // Stopped in reverse: the HTTP server first (in-flight responses finish), then the informers.
            try await ServiceGroup(configuration: .init(services: [services, replicas, application], logger: logger)).runAsChild()
        }
    }

    // MARK: Routing state

    private func gate(for key: String, service: InferenceService?) -> ServiceGate {
        gates.withLock { gates in
            if let gate = gates[key] { return gate }
            let settings = ServiceAdmission.Settings(service?.spec.routing ?? RoutingSpec())
            let gate = ServiceGate(service: key, settings: settings, onDemand: onDemand)
            gates[key] = gate
            return gate
        }
    }

    private func refresh(_ key: String, services: ObjectCache<InferenceService>, replicas: ObjectCache<Replica>) {
        guard let service = services.get(key) else {
            gates.withLock { $0[key] }?.update(endpoints: [:], settings: ServiceAdmission.Settings())
            return
        }
        gate(for: key, service: service).update(
            endpoints: ServiceDirectory.routableEndpoints(of: service, among: replicas.list()),
            settings: ServiceAdmission.Settings(service.spec.routing ?? RoutingSpec()))
    }

    // MARK: HTTP

    private func makeApplication(proxy: UpstreamProxy, services: Informer<InferenceService>,
                                 replicas: Informer<Replica>) -> some ApplicationProtocol {
        let router = Router(context: ConnectionRequestContext.self)
        let metrics = self.metrics
        router.get("/health") { _, _ in Self.json(["status": "ok"]) }
        router.get("/ready") { _, _ in
            services.hasSynced && replicas.hasSynced ? Self.json(["status": "ready"])
                : Self.json(["status": "syncing"], status: .serviceUnavailable)
        }
        router.get("/metrics") { [self] _, _ in
            metrics.refresh(gates.withLock { $0.mapValues(\.statistics) })
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.get("/v1/models") { _, _ in
            try? await services.waitForSync()
            return Self.modelList(services.cache.list(), replicas: replicas.cache.list())
        }
        router.post("/v1/chat/completions") { [self] request, context in
            await handle(request, context, endpoint: .chat, proxy: proxy, services: services)
        }
        router.post("/v1/completions") { [self] request, context in
            await handle(request, context, endpoint: .completion, proxy: proxy, services: services)
        }
        let onServerRunning = configuration.onServerRunning
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "swell-router"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    private func handle(_ request: Request, _ context: ConnectionRequestContext, endpoint: RoutedRequest.Endpoint,
                        proxy: UpstreamProxy, services: Informer<InferenceService>) async -> Response {
        let arrival = ContinuousClock.now
        do {
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: configuration.maxBodySize)
            } catch is NIOTooManyBytesError {
                throw OpenAIError.bodyTooLarge(limit: configuration.maxBodySize)
            }
            let routed = try RoutedRequest.decode(Data(body.readableBytesView), endpoint: endpoint)
            var priority = routed.priority
            if priority == nil, let header = request.headers[HTTPField.Name(RequestPriority.headerName)!] {
                guard let parsed = RequestPriority(parsing: header) else {
                    throw OpenAIError.invalid("\(RequestPriority.headerName) \(RequestPriority.expectation)",
                                              param: RequestPriority.headerName)
                }
                priority = parsed
            }
            try await services.waitForSync()
            let key = ServiceDirectory.key(forModel: routed.model)
            guard let service = services.cache.get(key), !service.metadata.isBeingDeleted else {
                throw OpenAIError.modelNotFound(routed.model)
            }
            let routing = service.spec.routing ?? RoutingSpec()
            let routedRequest = UpstreamProxy.Routed(
                service: key, gate: gate(for: key, service: service), path: request.uri.path, body: body,
                priority: priority ?? .standard,
                key: AffinityKey.hash(routed.affinityText, prefixBytes: routing.affinityPrefixBytes ?? RoutingSpec.defaultAffinityPrefixBytes),
                arrival: arrival, queueTimeoutSeconds: routing.queue?.timeoutSeconds ?? RouterQueueSpec.defaultTimeoutSeconds)
            // A client that hangs up while its request waits in the queue, or before the replica's
            // answer starts (a whole, non-streamed completion starts only at its end), cancels it:
            // it leaves the queue, or the connection to the replica closes and the engine stops.
            return try await cancellingOnDisconnect(context.channel) { await proxy.forward(routedRequest) }
        } catch let error as OpenAIError {
            metrics.requestEnded(service: nil, priority: .standard, code: Int(error.status.code),
                                 seconds: (ContinuousClock.now - arrival).inSeconds, firstByteSeconds: nil)
            return error.response
        } catch {
            // Only cancellation of the sync wait gets here: the router is shutting down.
            return OpenAIError.shuttingDown.response
        }
    }

    private static func modelList(_ services: [InferenceService], replicas: [Replica]) -> Response {
        struct Model: Encodable {
            var id: String
            var object = "model"
            var created: Int
            var owned_by = "swell"
            var ready_replicas: Int
        }
        struct List: Encodable {
            var object = "list"
            var data: [Model]
        }
        let models = services.filter { !$0.metadata.isBeingDeleted }.map { service in
            Model(id: ServiceDirectory.modelID(of: service),
                  created: Int(service.metadata.creationTimestamp?.secondsSince1970 ?? 0),
                  ready_replicas: ServiceDirectory.routableEndpoints(of: service, among: replicas).count)
        }.sorted { $0.id < $1.id }
        return JSONResponse.encoded(List(data: models))
    }

    static func json(_ object: [String: String], status: HTTPResponse.Status = .ok) -> Response {
        JSONResponse.encoded(object, status: status)
    }
}
