import Logging
import ServiceLifecycle
import Synchronization
import SwellAPI

/// Informers → work queue → workers calling a `Reconciler`, as a controller-runtime controller.
///
/// `watch(_:keys:)` turns an informer's events into queued keys; `run()` waits until every
/// watched informer has synced, then runs `workers` workers. A key is never reconciled by two
/// workers at once; a failure requeues it with per-key exponential backoff; success forgets the
/// backoff and honours `requeueAfter`. The informers are not run by the controller — run them as
/// services beside it, so several controllers can share one.
public final class Controller: Service, Sendable {
    public let name: String
    public let queue: WorkQueue<String>
    private let reconciler: any Reconciler
    private let workers: Int
    private let logger: Logger
    private let syncWaits = Mutex<[@Sendable () async throws -> Void]>([])

    public init(name: String, reconciler: some Reconciler, workers: Int = 1, backoff: ItemBackoff<String> = ItemBackoff(), logger: Logger = Logger(label: "swell.controller")) {
        precondition(workers > 0, "a controller needs at least one worker")
        self.name = name
        self.reconciler = reconciler
        self.workers = workers
        self.queue = WorkQueue(backoff: backoff)
        var logger = logger
        logger[metadataKey: "controller"] = "\(name)"
        self.logger = logger
    }

    /// Enqueues the keys `keys` maps each changed object to (by default its own key). For an
    /// update both the old and the new object's keys are queued, so a changed owner reference
    /// wakes the old owner too.
    public func watch<R: Resource>(_ informer: Informer<R>, keys: @escaping @Sendable (R) -> [String] = { [$0.metadata.key] }) {
        syncWaits.withLock { $0.append { try await informer.waitForSync() } }
        let queue = self.queue
        informer.addEventHandler { event in
            var affected = keys(event.object)
            if case .updated(let old, _) = event {
                for key in keys(old) where !affected.contains(key) { affected.append(key) }
            }
            for key in affected { queue.add(key) }
        }
    }

    /// Maps an owned object to the key of its controlling owner of kind `ownerKind` (none if it
    /// has none): how an InferenceService controller hears about its Replicas.
    public static func ownerKeys<R: Resource>(ofKind ownerKind: String) -> @Sendable (R) -> [String] {
        { object in
            guard let owner = object.metadata.controllerReference, owner.kind == ownerKind else { return [] }
            return [ObjectMeta(name: owner.name, namespace: object.metadata.namespace).key]
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            do {
                for wait in self.syncWaits.withLock({ $0 }) { try await wait() }
            } catch {
                return  // cancelled before the caches synced
            }
            self.logger.debug("caches synced; starting workers", metadata: ["workers": "\(self.workers)"])
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<self.workers {
                    group.addTask { await self.work(worker) }
                }
            }
        }
        queue.shutDown()
    }

    private func work(_ worker: Int) async {
        while let key = await queue.get() {
            defer { queue.done(key) }
            do {
                let result = try await reconciler.reconcile(key: key)
                queue.forget(key)
                if let delay = result.requeueAfter { queue.addAfter(key, delay: delay) }
            } catch {
                if Task.isCancelled { return }
                logger.warning("reconcile failed; retrying with backoff", metadata: [
                    "key": "\(key)", "retries": "\(queue.numRequeues(of: key))", "error": "\(error)",
                ])
                queue.addRateLimited(key)
            }
        }
    }
}
