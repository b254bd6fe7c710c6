import Synchronization

/// Open watch streams, so that graceful shutdown can end them: a streaming response would
/// otherwise keep the HTTP server from ever finishing.
final class WatchRegistry: Sendable {
    private struct State {
        var nextID = 0
        var stops: [Int: @Sendable () -> Void] = [:]
        var shuttingDown = false
    }

    private let state = Mutex(State())

    /// Registers a stop action; returns nil (and stops at once) when shutdown has begun.
    func register(_ stop: @escaping @Sendable () -> Void) -> Int? {
        let registered: Int? = state.withLock { state in
            guard !state.shuttingDown else { return nil }
            state.nextID += 1
            state.stops[state.nextID] = stop
            return state.nextID
        }
        if registered == nil { stop() }
        return registered
    }

    func unregister(_ id: Int) {
        _ = state.withLock { $0.stops.removeValue(forKey: id) }
    }

    func stopAll() {
        let stops = state.withLock { state in
            state.shuttingDown = true
            defer { state.stops.removeAll() }
            return Array(state.stops.values)
        }
        for stop in stops { stop() }
    }

    var count: Int { state.withLock { $0.stops.count } }
}
