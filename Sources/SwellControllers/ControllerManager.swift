import AsyncHTTPClient
import Logging
import ServiceLifecycle
import Synchronization
import SwellAPI
import SwellClient

/// Every control-plane controller with the informers they share, run as one `Service`: the
/// InferenceService controller (replicas, rollout, garbage collection, status, priority), the
/// scheduler (placement and preemption), and the autoscaler with its metrics pipeline.
///
/// It talks to the API server over HTTP like any other client. The server's URL may be known
/// only once it listens (port 0), so it is handed over as a `LateValue`. Shutdown stops the
/// controllers before the informers they read.
public final class ControllerManager: Service {
    public struct Configuration: Sendable {
        /// How often each autoscaled service is evaluated.
        public var autoscalerTick: Duration
        public var metrics: ReplicaMetricsCollector.Configuration
        public var scaler: HorizontalScaler.Configuration

        public init(autoscalerTick: Duration = .seconds(1), metrics: ReplicaMetricsCollector.Configuration = .init(),
                    scaler: HorizontalScaler.Configuration = .init()) {
            self.autoscalerTick = autoscalerTick
            self.metrics = metrics
            self.scaler = scaler
        }
    }

    /// The autoscaler's `swell_autoscaler_…` metrics, for the API server's `/metrics`.
    public let autoscalerMetrics = AutoscalerMetrics()
    private let apiURL: LateValue<String>
    private let configuration: Configuration
    private let demand: any ServiceDemandSource
    private let routerURL: LateValue<String>?
    private let wakeups = WakeRelay()
    private let logger: Logger

    /// - Parameters:
    ///   - demand: the router's queue and last request per service (QueueLength and scale to
    ///     zero); without a router, engines' own metrics are all there is.
    ///   - routerURL: the router's address once it listens, shown as each service's endpoint.
    public init(apiURL: LateValue<String>, configuration: Configuration = Configuration(),
                demand: any ServiceDemandSource = NoServiceDemand(), routerURL: LateValue<String>? = nil,
                logger: Logger = Logger(label: "swell.controllers")) {
        self.apiURL = apiURL
        self.configuration = configuration
        self.demand = demand
        self.routerURL = routerURL
        self.logger = logger
    }

    /// Evaluates the service (`namespace/name`) now rather than at its next tick: requests wait
    /// for it (the router's scale-from-zero signal).
    public func wake(service key: String) {
        wakeups.wake(key)
    }

    public func run() async throws {
        guard let url = try await cancelWhenGracefulShutdown({ await self.apiURL.value() }) else { return }
        let client = APIClient(baseURL: url)
        try await HTTPClient.withClient { http in
            try await ServiceGroup(configuration: .init(
                services: Self.services(client: client, http: http, configuration: configuration, demand: demand,
                                        routerURL: routerURL, metrics: autoscalerMetrics, wakeups: wakeups, logger: logger),
                logger: logger)).runAsChild()
        }
    }

    /// Informers first, controllers last: a ServiceGroup stops services in reverse order.
    static func services(client: APIClient, http: HTTPClient, configuration: Configuration,
                         demand: any ServiceDemandSource, routerURL: LateValue<String>?, metrics: AutoscalerMetrics,
                         wakeups: WakeRelay, logger: Logger) -> [any Service] {
        let services = Informer<InferenceService>(client: client, logger: logger)
        let replicas = Informer<Replica>(client: client, logger: logger)
        let nodes = Informer<Node>(client: client, logger: logger)
        let priorityClasses = Informer<PriorityClass>(client: client, logger: logger)
        let collector = ReplicaMetricsCollector(replicas: replicas.cache, http: http, configuration: configuration.metrics,
                                                logger: logger)

        let serviceController = Controller(
            name: "inferenceservice",
            reconciler: InferenceServiceReconciler(
                client: client, services: services.cache, replicas: replicas.cache, priorityClasses: priorityClasses.cache,
                events: EventRecorder(client: client, source: "inferenceservice-controller", logger: logger),
                desired: AutoscaledReplicas(), load: collector, routerURL: routerURL, logger: logger),
            workers: 2, logger: logger)
        serviceController.watch(services)
        serviceController.watch(replicas, keys: Controller.ownerKeys(ofKind: InferenceService.kind))
        // A class appearing (or changing) can unblock a service waiting for it, or set the default.
        let serviceCache = services.cache
        serviceController.watch(priorityClasses, keys: { _ in serviceCache.list().map(\.metadata.key) })

        let replicaCache = replicas.cache
        let unscheduled: @Sendable () -> [String] = {
            replicaCache.list().filter { $0.spec.nodeName == nil && !$0.metadata.isBeingDeleted }.map(\.metadata.key)
        }
        let scheduler = Controller(
            name: "scheduler",
            reconciler: SchedulerReconciler(
                client: client, replicas: replicas.cache, nodes: nodes.cache,
                events: EventRecorder(client: client, source: "scheduler", logger: logger), logger: logger),
            logger: logger)
        // Any change of a replica or a node can make room, or take it: retry every unscheduled one.
        scheduler.watch(replicas, keys: { replica in [replica.metadata.key] + unscheduled() })
        scheduler.watch(nodes, keys: { _ in unscheduled() })

        let autoscalerReconciler = AutoscalerReconciler(
            client: client, services: services.cache, replicas: replicas.cache, collector: collector, demand: demand,
            events: EventRecorder(client: client, source: "autoscaler", logger: logger), metrics: metrics,
            tick: configuration.autoscalerTick, configuration: configuration.scaler, logger: logger)
        let autoscaler = Controller(name: "autoscaler", reconciler: autoscalerReconciler, workers: 2, logger: logger)
        // Each autoscaled service requeues itself every tick; a spec change is picked up at once.
        autoscaler.watch(services)
        wakeups.attach { key in
            autoscalerReconciler.markWoken(key)
            autoscaler.queue.add(key)
        }

        return [services, replicas, nodes, priorityClasses, collector, serviceController, scheduler, autoscaler]
    }
}

/// Hands the router's wake-ups to the autoscaler once it exists (it is made in `run()`).
final class WakeRelay: Sendable {
    private let target = Mutex<(@Sendable (String) -> Void)?>(nil)

    func attach(_ wake: @escaping @Sendable (String) -> Void) {
        target.withLock { $0 = wake }
    }

    func wake(_ key: String) {
        target.withLock { $0 }?(key)
    }
}

extension ReplicaMetricsCollector: ReplicaLoadSource {
    /// In flight: the engine's running and waiting requests; cache value: prefix-cache hit tokens
    /// between its last two readings (what its cache has been saving lately).
    public func load(of replica: String) -> ReplicaLoad? {
        guard let readings = readings(forKey: replica) else { return nil }
        return ReplicaLoad(inFlightRequests: readings.latest.running + readings.latest.waiting,
                           prefixCacheValue: readings.previous.map { readings.latest.prefixCacheHits - $0.prefixCacheHits })
    }
}
