/// The bookkeeping of a work queue, as client-go's: pure, so every rule is table-testable.
///
/// - A key waiting in the queue is there once, however often it is added (`dirty`).
/// - A key being processed is not handed out again; re-adding it marks it dirty and it goes
///   back into the queue when its worker calls `done`, so one key never has two workers and a
///   change that arrives during processing is never lost.
/// - Delayed adds wait in `waiting`; a key keeps only its earliest ready time.
/// - After `shutDown` adds are ignored; keys already queued are still handed out.
public struct WorkQueueState<Key: Hashable & Sendable>: Sendable {
    public enum AddOutcome: Equatable, Sendable {
        case queued
        /// Already waiting in the queue: nothing changes.
        case alreadyQueued
        /// Being processed: it is queued again when the worker is done.
        case queuedAfterDone
        case ignoredShutDown
    }

    public enum DelayOutcome: Equatable, Sendable {
        /// A timer must fire at this instant and call `delayElapsed`.
        case scheduled
        /// An earlier or equal ready time is already pending.
        case alreadyScheduled
        /// A zero or negative delay: added at once.
        case added(AddOutcome)
        case ignoredShutDown
    }

    private(set) var queue: [Key] = []
    private var head = 0
    private(set) var dirty: Set<Key> = []
    private(set) var processing: Set<Key> = []
    private(set) var waiting: [Key: ContinuousClock.Instant] = [:]
    public private(set) var isShuttingDown = false

    public init() {}

    /// Keys waiting to be handed out.
    public var count: Int { queue.count - head }
    public var queued: [Key] { Array(queue[head...]) }
    public var processingKeys: Set<Key> { processing }
    public var delayedKeys: Set<Key> { Set(waiting.keys) }

    public mutating func add(_ key: Key) -> AddOutcome {
        if isShuttingDown { return .ignoredShutDown }
        if dirty.contains(key) { return .alreadyQueued }
        dirty.insert(key)
        if processing.contains(key) { return .queuedAfterDone }
        queue.append(key)
        return .queued
    }

    /// The next key to process, marked as processing; nil when none is queued.
    public mutating func next() -> Key? {
        guard head < queue.count else { return nil }
        let key = queue[head]
        head += 1
        if head > 64, head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        dirty.remove(key)
        processing.insert(key)
        return key
    }

    /// The worker finished `key`; returns true when it was re-added meanwhile and is queued again.
    @discardableResult
    public mutating func done(_ key: Key) -> Bool {
        guard processing.remove(key) != nil else { return false }
        if dirty.contains(key) {
            queue.append(key)
            return true
        }
        return false
    }

    public mutating func addAt(_ key: Key, readyAt: ContinuousClock.Instant, now: ContinuousClock.Instant) -> DelayOutcome {
        if isShuttingDown { return .ignoredShutDown }
        if readyAt <= now { return .added(add(key)) }
        if let pending = waiting[key], pending <= readyAt { return .alreadyScheduled }
        waiting[key] = readyAt
        return .scheduled
    }

    /// A timer for `key` scheduled at `readyAt` fired. A timer superseded by an earlier one does
    /// nothing.
    public mutating func delayElapsed(_ key: Key, readyAt: ContinuousClock.Instant) -> AddOutcome? {
        guard waiting[key] == readyAt else { return nil }
        waiting[key] = nil
        return add(key)
    }

    public mutating func shutDown() {
        isShuttingDown = true
        waiting.removeAll()
    }
}
