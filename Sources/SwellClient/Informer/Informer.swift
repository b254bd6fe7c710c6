import Logging
import ServiceLifecycle
import Synchronization
import SwellAPI

/// Keeps a local cache of one kind in step with the server and tells handlers what changed.
///
/// Like client-go's reflector + indexer: list, then watch from the list's resourceVersion,
/// applying every event to `cache` before calling handlers. A watch that ends is resumed from
/// the last resourceVersion seen; one the server can no longer serve (410 Expired, history
/// compacted) is replaced by a fresh list whose differences become events, so handlers miss no
/// deletion. Failures back off exponentially. Run it as a `Service` (or call `run()` in a task);
/// it stops on cancellation or graceful shutdown.
public final class Informer<R: Resource>: Service, Sendable {
    public struct Configuration: Sendable {
        /// How often every cached object is re-delivered as `.updated(old: x, new: x)`; nil: never.
        public var resyncInterval: Duration?
        public var initialBackoff: Duration
        public var maxBackoff: Duration

        public init(resyncInterval: Duration? = nil, initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(30)) {
            self.resyncInterval = resyncInterval
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    /// What the informer has done, for logs, metrics and tests.
    public struct Statistics: Sendable, Hashable {
        public var lists = 0
        public var watches = 0
        /// Watches the server refused or ended with 410 (each followed by a re-list).
        public var expiredWatches = 0
        public var failures = 0
        /// The resourceVersion the cache reflects.
        public var resourceVersion: String?
    }

    public typealias Handler = @Sendable (InformerEvent<R>) -> Void

    public let cache = ObjectCache<R>()
    public let namespace: String?
    public let labelSelector: String?
    private let client: APIClient
    private let configuration: Configuration
    private let logger: Logger
    private let synced = SyncSignal()
    private let handlers = Mutex<(next: Int, all: [Int: Handler])>((0, [:]))
    private let stats = Mutex(Statistics())

    /// Watches `namespace` (nil: every namespace, or a cluster-scoped kind), optionally only
    /// objects matching `labelSelector`.
    public init(client: APIClient, namespace: String? = nil, labelSelector: String? = nil, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "swell.informer")) {
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "resource"] = "\(R.plural)"
        self.logger = logger
    }

    /// True once the first list is in the cache.
    public var hasSynced: Bool { synced.isFired }

    /// Returns once the first list is in the cache; throws CancellationError if cancelled first.
    public func waitForSync() async throws {
        try await synced.wait()
    }

    public var statistics: Statistics { stats.withLock { $0 } }

    /// Calls `handler` for every change from now on; if the cache has synced it first gets
    /// `.added` for every cached object, so a late handler sees the same world as an early one.
    /// Handlers run on the informer's task (and, with a resync interval, on the resync task, so
    /// possibly concurrently): keep them short and thread-safe — enqueue a key, yield to a stream.
    @discardableResult
    public func addEventHandler(_ handler: @escaping Handler) -> Int {
        let (id, replay) = handlers.withLock { handlers in
            handlers.next += 1
            handlers.all[handlers.next] = handler
            return (handlers.next, hasSynced ? cache.list() : [])
        }
        for object in replay { handler(.added(object)) }
        return id
    }

    public func removeEventHandler(_ id: Int) {
        _ = handlers.withLock { $0.all.removeValue(forKey: id) }
    }

    /// The events from now on as a stream (with the replay `addEventHandler` gives); ending the
    /// iteration unregisters it.
    public func events() -> AsyncStream<InformerEvent<R>> {
        let (stream, continuation) = AsyncStream.makeStream(of: InformerEvent<R>.self)
        let id = addEventHandler { continuation.yield($0) }
        continuation.onTermination = { [weak self] _ in self?.removeEventHandler(id) }
        return stream
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.listAndWatch() }
                if let interval = self.configuration.resyncInterval {
                    group.addTask { await self.resync(every: interval) }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    // MARK: Reflector loop

    private func listAndWatch() async {
        var backoff = Backoff(initial: configuration.initialBackoff, max: configuration.maxBackoff)
        // nil: the next step is a (re-)list.
        var resourceVersion: String?
        while !Task.isCancelled {
            do {
                if resourceVersion == nil {
                    resourceVersion = try await relist()
                }
                let started = ContinuousClock.now
                var received = 0
                stats.withLock { $0.watches += 1 }
                for try await event in client.watch(R.self, namespace: namespace, labelSelector: labelSelector, resourceVersion: resourceVersion) {
                    received += 1
                    // A watch that delivers is healthy again: the next failure starts the backoff over.
                    if received == 1 { backoff.reset() }
                    if let version = event.object.metadata.resourceVersion, !version.isEmpty {
                        resourceVersion = version
                        stats.withLock { $0.resourceVersion = version }
                    }
                    if let change = cache.apply(event) { deliver(change) }
                }
                // The server ended the watch (its timeout or shutdown): resume from where it
                // stopped, but don't spin if it keeps ending watches at once.
                if received == 0, ContinuousClock.now - started < configuration.initialBackoff {
                    try await Task.sleep(for: backoff.next())
                }
            } catch let status as Status where status.code == 410 {
                logger.debug("watch expired; re-listing", metadata: ["resourceVersion": "\(resourceVersion ?? "")", "reason": "\(status.message)"])
                stats.withLock { $0.expiredWatches += 1 }
                resourceVersion = nil
            } catch {
                if Task.isCancelled || error is CancellationError { return }
                let delay = backoff.next()
                stats.withLock { $0.failures += 1 }
                logger.warning("list/watch failed; retrying", metadata: ["error": "\(error)", "retryIn": "\(delay)"])
                do { try await Task.sleep(for: delay) } catch { return }
            }
        }
    }

    /// Lists, makes the cache equal to the result, and returns the revision to watch from.
    private func relist() async throws -> String {
        let list = try await client.list(R.self, namespace: namespace, labelSelector: labelSelector)
        let changes = cache.replace(with: list.items)
        let version = list.metadata.resourceVersion ?? "0"
        stats.withLock {
            $0.lists += 1
            $0.resourceVersion = version
        }
        synced.fire()
        for change in changes { deliver(change) }
        logger.debug("listed", metadata: ["items": "\(list.items.count)", "resourceVersion": "\(version)"])
        return version
    }

    private func resync(every interval: Duration) async {
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            guard hasSynced else { continue }
            for object in cache.list() { deliver(.updated(old: object, new: object)) }
        }
    }

    private func deliver(_ event: InformerEvent<R>) {
        let current = handlers.withLock { Array($0.all.values) }
        for handler in current { handler(event) }
    }
}

/// Doubling delays between `initial` and `max`, reset after a success.
struct Backoff: Sendable {
    let initial: Duration
    let max: Duration
    private var current: Duration?

    init(initial: Duration, max: Duration) {
        self.initial = initial
        self.max = max
    }

    mutating func next() -> Duration {
        let delay = current.map { $0 * 2 > max ? max : $0 * 2 } ?? initial
        current = delay
        return delay
    }

    mutating func reset() { current = nil }
}
