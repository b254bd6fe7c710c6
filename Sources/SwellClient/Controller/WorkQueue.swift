import Synchronization

/// A de-duplicating, rate-limited work queue for controllers, with client-go's semantics
/// (see `WorkQueueState`): workers `get()` a key, reconcile, then call `done(_:)`; a failure is
/// retried with `addRateLimited(_:)` and a success clears the backoff with `forget(_:)`.
public final class WorkQueue<Key: Hashable & Sendable>: Sendable {
    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Key?, Never>
    }

    private struct Inner {
        var state = WorkQueueState<Key>()
        var backoff: ItemBackoff<Key>
        var waiters: [Waiter] = []
        var timers: [Int: Task<Void, Never>] = [:]
        var nextID = 0

        /// Pairs idle getters with queued keys; the caller resumes them outside the lock.
        mutating func handOut() -> [(CheckedContinuation<Key?, Never>, Key?)] {
            var handed = [(CheckedContinuation<Key?, Never>, Key?)]()
            while !waiters.isEmpty, let key = state.next() {
                handed.append((waiters.removeFirst().continuation, key))
            }
            if state.isShuttingDown, state.count == 0 {
                handed += waiters.map { ($0.continuation, nil) }
                waiters.removeAll()
            }
            return handed
        }
    }

    private let inner: Mutex<Inner>

    public init(backoff: ItemBackoff<Key> = ItemBackoff()) {
        inner = Mutex(Inner(backoff: backoff))
    }

    /// Queues `key` unless it is already queued; a key being processed is queued again after `done`.
    public func add(_ key: Key) {
        resume(inner.withLock { inner in
            _ = inner.state.add(key)
            return inner.handOut()
        })
    }

    /// Queues `key` once `delay` has passed (at once if it is not positive). A key already waiting
    /// keeps the earlier of the two times.
    public func addAfter(_ key: Key, delay: Duration) {
        let now = ContinuousClock.now
        let readyAt = now + delay
        resume(inner.withLock { inner in
            switch inner.state.addAt(key, readyAt: readyAt, now: now) {
            case .scheduled:
                inner.nextID += 1
                let id = inner.nextID
                inner.timers[id] = Task { [weak self] in
                    try? await Task.sleep(until: readyAt, clock: .continuous)
                    self?.timerFired(id: id, key: key, readyAt: readyAt)
                }
                return []
            case .added:
                return inner.handOut()
            case .alreadyScheduled, .ignoredShutDown:
                return []
            }
        })
    }

    /// Queues `key` after its backoff: 5 ms, 10 ms, 20 ms, … for consecutive failures.
    public func addRateLimited(_ key: Key) {
        let delay = inner.withLock { $0.backoff.nextDelay(for: key) }
        addAfter(key, delay: delay)
    }

    /// Clears `key`'s failure count (call after a successful reconcile).
    public func forget(_ key: Key) {
        inner.withLock { $0.backoff.forget(key) }
    }

    /// Consecutive failures recorded for `key` since it was last forgotten.
    public func numRequeues(of key: Key) -> Int {
        inner.withLock { $0.backoff.failureCount(of: key) }
    }

    /// The worker finished `key`; if it was re-added meanwhile it is queued again.
    public func done(_ key: Key) {
        resume(inner.withLock { inner in
            inner.state.done(key)
            return inner.handOut()
        })
    }

    /// The next key, waiting for one if needed; nil once the queue is shut down and drained, or
    /// when the calling task is cancelled.
    public func get() async -> Key? {
        let id = inner.withLock { inner in
            inner.nextID += 1
            return inner.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Key?, Never>) in
                let immediate: Key?? = inner.withLock { inner in
                    if let key = inner.state.next() { return .some(key) }
                    // Checked under the lock: a cancellation handler that already ran found no
                    // waiter to wake, so this getter must not start waiting.
                    if inner.state.isShuttingDown || Task.isCancelled { return .some(nil) }
                    inner.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = inner.withLock { inner -> Waiter? in
                guard let index = inner.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return inner.waiters.remove(at: index)
            }
            waiter?.continuation.resume(returning: nil)
        }
    }

    /// Stops accepting keys and drops pending delayed adds; getters drain what is queued, then get nil.
    public func shutDown() {
        let (handed, timers) = inner.withLock { inner in
            inner.state.shutDown()
            defer { inner.timers.removeAll() }
            return (inner.handOut(), Array(inner.timers.values))
        }
        for timer in timers { timer.cancel() }
        resume(handed)
    }

    public var isShuttingDown: Bool { inner.withLock { $0.state.isShuttingDown } }

    /// Keys waiting to be handed out (not those being processed or delayed).
    public var count: Int { inner.withLock { $0.state.count } }

    private func timerFired(id: Int, key: Key, readyAt: ContinuousClock.Instant) {
        resume(inner.withLock { inner in
            inner.timers[id] = nil
            _ = inner.state.delayElapsed(key, readyAt: readyAt)
            return inner.handOut()
        })
    }

    private func resume(_ handed: [(CheckedContinuation<Key?, Never>, Key?)]) {
        for (continuation, key) in handed { continuation.resume(returning: key) }
    }
}
