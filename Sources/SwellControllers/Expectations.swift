import Synchronization

/// Creations and deletions a controller has asked for but not yet seen in its informer cache,
/// per owner key, like controller-runtime's expectations: until they are observed (or time
/// out), reconciling the owner again from the stale cache would create or delete twice.
final class Expectations: Sendable {
    private struct Pending {
        var creations: Set<String> = []
        var deletions: Set<String> = []
        var since: ContinuousClock.Instant
    }

    private let timeout: Duration
    private let pending = Mutex<[String: Pending]>([:])

    init(timeout: Duration = .seconds(30)) {
        self.timeout = timeout
    }

    func expect(owner: String, creations: [String] = [], deletions: [String] = []) {
        guard !creations.isEmpty || !deletions.isEmpty else { return }
        pending.withLock { pending in
            var entry = pending[owner] ?? Pending(since: .now)
            entry.creations.formUnion(creations)
            entry.deletions.formUnion(deletions)
            entry.since = .now
            pending[owner] = entry
        }
    }

    /// Whether the cache has caught up with everything asked for `owner`; `present` tells
    /// whether a name is in the cache (and not yet being deleted).
    func satisfied(owner: String, present: (String) -> Bool) -> Bool {
        pending.withLock { pending in
            guard var entry = pending[owner] else { return true }
            entry.creations = entry.creations.filter { !present($0) }
            entry.deletions = entry.deletions.filter { present($0) }
            if (entry.creations.isEmpty && entry.deletions.isEmpty) || ContinuousClock.now - entry.since > timeout {
                pending[owner] = nil
                return true
            }
            pending[owner] = entry
            return false
        }
    }

    func forget(owner: String) {
        _ = pending.withLock { $0.removeValue(forKey: owner) }
    }
}
