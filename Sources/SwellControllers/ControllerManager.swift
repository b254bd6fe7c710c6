import Logging
import ServiceLifecycle
import SwellAPI
import SwellClient

/// Every control-plane controller with the informers they share, run as one `Service`: the
/// InferenceService controller (replicas, rollout, garbage collection, status, priority) and the
/// scheduler (placement and preemption).
///
/// It talks to the API server over HTTP like any other client. The server's URL may be known
/// only once it listens (port 0), so it is handed over as a `LateValue`. Shutdown stops the
/// controllers before the informers they read.
public final class ControllerManager: Service {
    private let apiURL: LateValue<String>
    private let desired: any DesiredReplicasSource
    private let load: any ReplicaLoadSource
    private let logger: Logger

    /// - Parameters:
    ///   - desired: the replica count per service (the autoscaler plugs in here).
    ///   - load: replicas' in-flight requests and cache value, for choosing whom a scale-down removes.
    public init(apiURL: LateValue<String>, desired: any DesiredReplicasSource = SpecReplicas(),
                load: any ReplicaLoadSource = NoReplicaLoad(), logger: Logger = Logger(label: "swell.controllers")) {
        self.apiURL = apiURL
        self.desired = desired
        self.load = load
        self.logger = logger
    }

    public func run() async throws {
        guard let url = try await cancelWhenGracefulShutdown({ await self.apiURL.value() }) else { return }
        let client = APIClient(baseURL: url)
        let group = ServiceGroup(configuration: .init(
            services: Self.services(client: client, desired: desired, load: load, logger: logger),
            logger: logger))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            Task { await group.triggerGracefulShutdown() }
        }
    }

    /// Informers first, controllers last: a ServiceGroup stops services in reverse order.
    public static func services(client: APIClient, desired: any DesiredReplicasSource = SpecReplicas(),
                                load: any ReplicaLoadSource = NoReplicaLoad(), logger: Logger) -> [any Service] {
        let services = Informer<InferenceService>(client: client, logger: logger)
        let replicas = Informer<Replica>(client: client, logger: logger)
        let nodes = Informer<Node>(client: client, logger: logger)
        let priorityClasses = Informer<PriorityClass>(client: client, logger: logger)

        let serviceController = Controller(
            name: "inferenceservice",
            reconciler: InferenceServiceReconciler(
                client: client, services: services.cache, replicas: replicas.cache, priorityClasses: priorityClasses.cache,
                events: EventRecorder(client: client, source: "inferenceservice-controller", logger: logger),
                desired: desired, load: load, logger: logger),
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

        return [services, replicas, nodes, priorityClasses, serviceController, scheduler]
    }
}
