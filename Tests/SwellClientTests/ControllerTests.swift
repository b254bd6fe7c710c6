import Foundation
import Logging
import ServiceLifecycle
import SwellAPI
import SwellClient
import Synchronization
import Testing

/// Reports, in each InferenceService's status, the generation it saw and how many Replicas it owns:
/// the shape of the real InferenceService controller, reading only informer caches and writing
/// through the API.
struct ReplicaCountingReconciler: Reconciler {
    let client: APIClient
    let services: Informer<InferenceService>
    let replicas: Informer<Replica>

    func reconcile(key: String) async throws -> ReconcileResult {
        guard let service = services.cache.get(key) else { return .done }
        let owned = replicas.cache.list(namespace: service.metadata.namespace, selector: .everything)
            .filter { $0.metadata.controllerReference?.uid == service.metadata.uid }
        var desired = service
        desired.status = service.status ?? InferenceServiceStatus()
        desired.status?.observedGeneration = service.metadata.generation
        desired.status?.replicas = owned.count
        if desired.status != service.status {
            _ = try await client.updateStatus(desired)  // a stale cache gets 409 and a retry
        }
        return .done
    }
}

/// Fails the first `failures` attempts of every key, remembering when each attempt started.
final class FlakyReconciler: Reconciler {
    let failures: Int
    private let attempts = Mutex<[String: [ContinuousClock.Instant]]>([:])

    init(failures: Int) { self.failures = failures }

    func attempts(of key: String) -> Int { attempts.withLock { $0[key, default: []].count } }

    /// The time between consecutive attempts.
    func gaps(of key: String) -> [Duration] {
        let instants = attempts.withLock { $0[key, default: []] }
        return zip(instants.dropFirst(), instants).map { $0 - $1 }
    }

    func reconcile(key: String) async throws -> ReconcileResult {
        let attempt = attempts.withLock { attempts in
            attempts[key, default: []].append(.now)
            return attempts[key]!.count
        }
        struct Transient: Error {}
        if attempt <= failures { throw Transient() }
        return .done
    }
}

/// Asks to be called again until it has run `rounds` times for a key.
final class PollingReconciler: Reconciler {
    let rounds: Int
    private let calls = Mutex<[String: Int]>([:])

    init(rounds: Int) { self.rounds = rounds }

    func calls(of key: String) -> Int { calls.withLock { $0[key, default: 0] } }

    func reconcile(key: String) async throws -> ReconcileResult {
        let count = calls.withLock { calls in
            calls[key, default: 0] += 1
            return calls[key]!
        }
        return count < rounds ? .requeue(after: .milliseconds(10)) : .done
    }
}

@Suite("Controller runtime against a real server")
struct ControllerTests {
    private func replica(_ name: String, owner: InferenceService) -> Replica {
        Replica(
            metadata: ObjectMeta(name: name, namespace: owner.metadata.namespace, ownerReferences: [
                OwnerReference(kind: InferenceService.kind, name: owner.metadata.name, uid: owner.metadata.uid ?? ""),
            ]),
            spec: ReplicaSpec(serviceName: owner.metadata.name, model: owner.spec.model))
    }

    @Test("a reconciler fed by two informers keeps status in step with spec and owned objects")
    func statusFollowsState() async throws {
        try await withLiveServer { server in
            let client = server.client()
            let logger = LiveServer.quietLogger
            let retries = Informer<InferenceService>.Configuration(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))
            let services = Informer<InferenceService>(client: client, configuration: retries, logger: logger)
            let replicas = Informer<Replica>(client: client, configuration: .init(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200)), logger: logger)
            let controller = Controller(
                name: "replica-counter",
                reconciler: ReplicaCountingReconciler(client: client, services: services, replicas: replicas),
                workers: 2, backoff: ItemBackoff(base: .milliseconds(5), max: .milliseconds(200)), logger: logger)
            controller.watch(services)
            controller.watch(replicas, keys: Controller.ownerKeys(ofKind: InferenceService.kind))

            let group = ServiceGroup(configuration: .init(services: [services, replicas, controller], logger: logger))
            let running = Task { try await group.run() }

            func status(_ name: String) async throws -> InferenceServiceStatus? {
                try await client.get(InferenceService.self, namespace: "default", name: name).status
            }

            let chat = try await client.create(service("chat"))
            try await eventually("status reports generation 1 and no replicas") {
                try await status("chat") == InferenceServiceStatus(observedGeneration: 1, replicas: 0)
            }

            _ = try await client.create(replica("chat-1", owner: chat))
            _ = try await client.create(replica("chat-2", owner: chat))
            _ = try await client.create(Replica(metadata: ObjectMeta(name: "orphan", namespace: "default"),
                                                spec: ReplicaSpec(serviceName: "chat", model: chat.spec.model)))
            try await eventually("owned replicas are counted") { try await status("chat")?.replicas == 2 }

            _ = try await client.patch(InferenceService.self, namespace: "default", name: "chat", mergePatch: .object(["spec": .object(["replicas": .int(3)])]))
            try await eventually("the new generation is observed") { try await status("chat")?.observedGeneration == 2 }

            _ = try await client.delete(Replica.self, namespace: "default", name: "chat-1")
            try await eventually("a deleted replica is no longer counted") { try await status("chat")?.replicas == 1 }

            await group.triggerGracefulShutdown()
            try await running.value
            #expect(controller.queue.isShuttingDown)
        }
    }

    @Test("a failing key is retried with backoff until it succeeds, then forgotten")
    func retries() async throws {
        try await withLiveServer { server in
            let client = server.client()
            let informer = Informer<PriorityClass>(client: client, logger: LiveServer.quietLogger)
            let reconciler = FlakyReconciler(failures: 3)
            let controller = Controller(name: "flaky", reconciler: reconciler,
                                        backoff: ItemBackoff(base: .milliseconds(20), max: .milliseconds(60)), logger: LiveServer.quietLogger)
            controller.watch(informer)
            let runningInformer = Task { try await informer.run() }
            let runningController = Task { try await controller.run() }
            defer {
                runningInformer.cancel()
                runningController.cancel()
            }

            _ = try await client.create(PriorityClass(metadata: ObjectMeta(name: "batch"), value: 10))
            try await eventually("the fourth attempt succeeds") { reconciler.attempts(of: "batch") == 4 }
            try await eventually("success forgets the failures") { controller.queue.numRequeues(of: "batch") == 0 }
            // Each retry waited at least its backoff (20, 40, then the 60 ms cap). Sleeps never end
            // early, so this lower bound holds however slow the machine is.
            let gaps = reconciler.gaps(of: "batch")
            #expect(gaps.count == 3)
            for (gap, backoff) in zip(gaps, [20, 40, 60]) {
                #expect(gap >= .milliseconds(backoff), "retry after \(gap), backoff \(backoff) ms")
            }

            runningController.cancel()
            try await runningController.value
        }
    }

    @Test("requeueAfter calls the reconciler again without any change")
    func requeueAfter() async throws {
        let reconciler = PollingReconciler(rounds: 3)
        let controller = Controller(name: "poller", reconciler: reconciler, logger: LiveServer.quietLogger)
        let running = Task { try await controller.run() }
        controller.queue.add("default/model")
        try await eventually("three rounds ran") { reconciler.calls(of: "default/model") == 3 }
        running.cancel()
        try await running.value
    }
}
