import Logging
import SwellAPI
import SwellClient

/// Where the replica count a service should have comes from: `spec.replicas` until an
/// autoscaler decides (the autoscaler issue plugs in here).
public protocol DesiredReplicasSource: Sendable {
    func desiredReplicas(for service: InferenceService) -> Int
}

/// `spec.replicas` (or `autoscaling.minReplicas` when autoscaling is set, until an autoscaler runs).
public struct SpecReplicas: DesiredReplicasSource {
    public init() {}

    public func desiredReplicas(for service: InferenceService) -> Int {
        if let replicas = service.spec.replicas { return replicas }
        return service.spec.autoscaling?.minReplicas ?? 1
    }
}

/// Keeps an InferenceService's Replicas matching its spec: creates and deletes them (rolling
/// over to a new template within maxSurge / maxUnavailable), deletes those whose owner is gone,
/// and writes the service's status. Level-based: it looks only at the informer caches.
public struct InferenceServiceReconciler: Reconciler {
    let client: APIClient
    let services: ObjectCache<InferenceService>
    let replicas: ObjectCache<Replica>
    let priorityClasses: ObjectCache<PriorityClass>
    let events: EventRecorder
    let desired: any DesiredReplicasSource
    let load: any ReplicaLoadSource
    let routerURL: LateValue<String>?
    let expectations: Expectations
    let logger: Logger

    /// - Parameters:
    ///   - priorityClasses: resolves `priorityClassName` into each new replica's priority.
    ///   - load: in-flight requests and cache value per replica, for choosing whom a scale-down removes.
    public init(client: APIClient, services: ObjectCache<InferenceService>, replicas: ObjectCache<Replica>,
                priorityClasses: ObjectCache<PriorityClass>, events: EventRecorder,
                desired: any DesiredReplicasSource = SpecReplicas(), load: any ReplicaLoadSource = NoReplicaLoad(),
                routerURL: LateValue<String>? = nil, logger: Logger = Logger(label: "swell.controller.inferenceservice")) {
        self.client = client
        self.services = services
        self.replicas = replicas
        self.priorityClasses = priorityClasses
        self.events = events
        self.desired = desired
        self.load = load
        self.routerURL = routerURL
        self.expectations = Expectations()
        self.logger = logger
    }

    public func reconcile(key: String) async throws -> ReconcileResult {
        let (namespace, name) = Self.split(key)
        let owned = replicas.list().filter { replica in
            replica.metadata.namespace == namespace && replica.metadata.controllerReference?.kind == InferenceService.kind
                && replica.metadata.controllerReference?.name == name
        }
        guard let service = services.get(key), !service.metadata.isBeingDeleted else {
            // The owner is gone: its replicas are garbage.
            expectations.forget(owner: key)
            for replica in owned where !replica.metadata.isBeingDeleted {
                try await delete(replica)
            }
            return .done
        }
        // Replicas of an earlier service with the same name (deleted and re-created) are garbage too.
        let stale = owned.filter { $0.metadata.controllerReference?.uid != service.metadata.uid }
        for replica in stale where !replica.metadata.isBeingDeleted {
            try await delete(replica)
        }
        let mine = owned.filter { $0.metadata.controllerReference?.uid == service.metadata.uid }
        let live = mine.filter { !$0.metadata.isBeingDeleted }

        let liveNames = Set(live.map(\.metadata.name))
        guard expectations.satisfied(owner: key, present: { liveNames.contains($0) }) else {
            // The cache has not caught up with our last changes; their events will wake us.
            return .requeue(after: .seconds(1))
        }

        let template = ReplicaTemplate(service: service)
        let hash = template.hash
        let desiredCount = desired.desiredReplicas(for: service)
        let plan = RolloutPlanner.plan(desired: desiredCount, rollout: service.spec.rollout,
                                       replicas: live.map { Self.snapshot($0, currentHash: hash, load: load.load(of: $0.metadata.key)) })
        let priority = PriorityResolution.resolve(service.spec.priorityClassName, classes: priorityClasses.list())

        var created: [String] = []
        if case .resolved(let resolved) = priority {
            for _ in 0..<plan.create {
                let stored = try await client.create(template.makeReplica(for: service, priority: resolved))
                created.append(stored.metadata.name)
                expectations.expect(owner: key, creations: [stored.metadata.name])
                await events.normal(service, reason: "SuccessfulCreate", message: "Created replica \(stored.metadata.name)")
            }
        }
        for victim in plan.delete {
            guard let replica = live.first(where: { $0.metadata.name == victim }) else { continue }
            expectations.expect(owner: key, deletions: [victim])
            try await delete(replica)
            let why = replica.spec.templateHash == hash ? "scale down" : "rolling update"
            await events.normal(service, reason: "SuccessfulDelete", message: "Deleted replica \(victim) (\(why))")
        }
        if !created.isEmpty || !plan.delete.isEmpty {
            logger.info("reconciled replicas", metadata: [
                "service": "\(key)", "desired": "\(desiredCount)", "created": "\(created.count)",
                "deleted": "\(plan.delete.count)",
            ])
        }

        let status = ServiceStatusCalculator.status(of: service, replicas: mine, desired: desiredCount,
                                                    creationProblem: plan.create > 0 ? priority.problem : nil,
                                                    routerURL: routerURL?.current, now: .now())
        if status != service.status {
            var updated = service
            updated.status = status
            do {
                _ = try await client.updateStatus(updated)
            } catch let error as Status where error.code == 409 {
                // Another worker or a spec change got there first; recompute from the newer object.
                return .requeue(after: .milliseconds(50))
            }
            if service.status?.conditions?[type: "ReplicaFailure"]?.status != .true,
               let failure = status.conditions?[type: "ReplicaFailure"], failure.status == .true {
                await events.warning(service, reason: failure.reason ?? "ReplicaFailure", message: failure.message ?? "")
            }
        }
        return .done
    }

    private func delete(_ replica: Replica) async throws {
        do {
            _ = try await client.delete(Replica.self, namespace: replica.metadata.namespace, name: replica.metadata.name)
        } catch let status as Status where status.code == 404 {
            // Already gone: the goal is reached.
        }
    }

    static func snapshot(_ replica: Replica, currentHash: String, load: ReplicaLoad?) -> ReplicaSnapshot {
        let state: ReplicaSnapshot.State = switch replica.status?.phase {
        case .ready: .ready
        case .starting: .starting
        case .failed, .succeeded: .failed
        case .draining: .failed
        case .pending, nil: replica.spec.nodeName == nil ? .unscheduled : .pending
        }
        return ReplicaSnapshot(name: replica.metadata.name, isCurrent: replica.spec.templateHash == currentHash,
                               state: state, age: replica.metadata.creationTimestamp?.secondsSince1970 ?? 0,
                               inFlightRequests: load?.inFlightRequests, prefixCacheValue: load?.prefixCacheValue)
    }

    static func split(_ key: String) -> (namespace: String?, name: String) {
        guard let slash = key.firstIndex(of: "/") else { return (nil, key) }
        return (String(key[..<slash]), String(key[key.index(after: slash)...]))
    }
}
