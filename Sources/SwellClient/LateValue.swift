import Synchronization

/// A value that becomes known once, later, and that tasks can wait for — such as the API
/// server's URL when it listens on port 0 and in-process clients start before the port is known.
public final class LateValue<Value: Sendable>: Sendable {
    private enum State {
        case waiting([Int: CheckedContinuation<Value?, Never>])
        case set(Value)
        case abandoned
    }

    private struct Inner {
        var state = State.waiting([:])
        var nextID = 0
    }

    private let inner = Mutex(Inner())

    public init() {}

    /// Sets the value and wakes every waiter; later calls are ignored.
    public func set(_ value: Value) {
        finish(with: value, state: .set(value))
    }

    /// Wakes every waiter with nil: the value will never come (the server failed to start).
    public func abandon() {
        finish(with: nil, state: .abandoned)
    }

    /// The value if it is known now, without waiting.
    public var current: Value? {
        inner.withLock { inner in
            if case .set(let value) = inner.state { return value }
            return nil
        }
    }

    /// The value, waiting for it if needed; nil when abandoned or when the waiting task is cancelled.
    public func value() async -> Value? {
        let id = inner.withLock { inner in
            inner.nextID += 1
            return inner.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready: Value?? = inner.withLock { inner in
                    switch inner.state {
                    case .set(let value): return .some(value)
                    case .abandoned: return .some(nil)
                    case .waiting(var waiters):
                        if Task.isCancelled { return .some(nil) }
                        waiters[id] = continuation
                        inner.state = .waiting(waiters)
                        return nil
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = inner.withLock { inner -> CheckedContinuation<Value?, Never>? in
                guard case .waiting(var waiters) = inner.state else { return nil }
                let waiter = waiters.removeValue(forKey: id)
                inner.state = .waiting(waiters)
                return waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    private func finish(with value: Value?, state: State) {
        let waiters = inner.withLock { inner -> [CheckedContinuation<Value?, Never>] in
            guard case .waiting(let waiters) = inner.state else { return [] }
            inner.state = state
            return Array(waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }
}
