import Foundation
import Logging
import Synchronization

/// One row of the `history` table: a committed change, still undecoded.
struct HistoryRecord: Sendable, Equatable {
    var revision: Int64
    var kind: String
    var namespace: String
    var name: String
    var change: String
    var data: Data
}

/// Fans committed changes out to live watchers.
///
/// Each watcher gets its own bounded buffer. A writer never waits for a watcher: when a
/// watcher's buffer is full, the hub ends that watcher's stream with `StoreError.expired`
/// (after the events already buffered, so the watcher sees no silent gap) and forgets it; the
/// client re-lists and watches again, as it would after an etcd watch fell too far behind.
final class WatchHub: Sendable {
    typealias Stream = AsyncThrowingStream<HistoryRecord, any Error>

    private struct Subscriber: Sendable {
        /// Nil watches every namespace.
        var namespace: String?
        var continuation: Stream.Continuation
    }

    private struct State {
        var nextID = 0
        /// Subscribers by kind, then by id.
        var subscribers: [String: [Int: Subscriber]] = [:]
        /// Set once the store closes; later subscribers end at once with it.
        var closedError: (any Error)?
    }

    let bufferLimit: Int
    private let logger: Logger
    private let state = Mutex(State())

    init(bufferLimit: Int, logger: Logger) {
        precondition(bufferLimit > 0, "a watch buffer must hold at least one event")
        self.bufferLimit = bufferLimit
        self.logger = logger
    }

    /// The error the store closed with, if it has closed.
    var closedError: (any Error)? {
        state.withLock { $0.closedError }
    }

    var subscriberCount: Int {
        state.withLock { $0.subscribers.values.reduce(0) { $0 + $1.count } }
    }

    /// Registers a live watcher. Every record published after this returns reaches the stream.
    func subscribe(kind: String, namespace: String?) -> Stream {
        let (stream, continuation) = Stream.makeStream(bufferingPolicy: .bufferingOldest(bufferLimit))
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        // Set before the subscriber is visible, so a termination can never miss it.
        continuation.onTermination = { [weak self] _ in
            self?.unsubscribe(kind: kind, id: id)
        }
        let closedError: (any Error)? = state.withLock { state in
            if let error = state.closedError { return error }
            state.subscribers[kind, default: [:]][id] = Subscriber(namespace: namespace, continuation: continuation)
            return nil
        }
        if let closedError {
            continuation.finish(throwing: closedError)
        }
        return stream
    }

    /// Delivers one committed change. Called on the database writer's queue right after the
    /// commit, so records arrive in revision order.
    func publish(_ record: HistoryRecord) {
        let targets: [(Int, Stream.Continuation)] = state.withLock { state in
            guard let subscribers = state.subscribers[record.kind] else { return [] }
            return subscribers.compactMap { id, subscriber in
                subscriber.namespace == nil || subscriber.namespace == record.namespace ? (id, subscriber.continuation) : nil
            }
        }
        // Yield and finish outside the lock: finishing runs onTermination, which takes it.
        for (id, continuation) in targets {
            guard case .dropped = continuation.yield(record) else { continue }
            unsubscribe(kind: record.kind, id: id)
            logger.warning("watcher fell behind; ending its watch", metadata: [
                "kind": "\(record.kind)",
                "revision": "\(record.revision)",
                "bufferLimit": "\(bufferLimit)",
            ])
            // The watcher has everything up to revision - 1 buffered and must resume after it.
            continuation.finish(throwing: StoreError.expired(requested: record.revision - 1, oldestAvailable: record.revision))
        }
    }

    /// Ends every watch with `error` and refuses new ones.
    func close(with error: any Error) {
        let all: [Stream.Continuation] = state.withLock { state in
            state.closedError = error
            defer { state.subscribers = [:] }
            return state.subscribers.values.flatMap { $0.values.map(\.continuation) }
        }
        for continuation in all {
            continuation.finish(throwing: error)
        }
    }

    private func unsubscribe(kind: String, id: Int) {
        state.withLock { state in
            state.subscribers[kind]?[id] = nil
            if state.subscribers[kind]?.isEmpty == true {
                state.subscribers[kind] = nil
            }
        }
    }
}
