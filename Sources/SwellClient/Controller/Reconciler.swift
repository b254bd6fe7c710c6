/// Level-based reconciliation of one object, named by its key (`namespace/name`).
///
/// `reconcile` reads the current state (from informer caches), compares it with the desired
/// state and acts; it must not assume which event triggered it, and must be safe to call again
/// for the same key. Throwing retries the key with per-key exponential backoff.
public protocol Reconciler: Sendable {
    func reconcile(key: String) async throws -> ReconcileResult
}

/// What a successful reconcile asks for next.
public struct ReconcileResult: Sendable, Hashable {
    /// Reconcile this key again after this long even if nothing changes (polling an external
    /// state such as a process or a metric); nil: only on the next change.
    public var requeueAfter: Duration?

    public init(requeueAfter: Duration? = nil) {
        self.requeueAfter = requeueAfter
    }

    public static let done = ReconcileResult()

    public static func requeue(after delay: Duration) -> ReconcileResult {
        ReconcileResult(requeueAfter: delay)
    }
}
