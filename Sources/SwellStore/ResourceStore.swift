import SwellAPI

/// Durable storage for API objects with optimistic concurrency and ordered change events.
///
/// Every write gets the next value of one global revision counter; an object's
/// `metadata.resourceVersion` is the revision of its last write. The API server owns
/// uid, timestamps and generation; a store owns only `resourceVersion`.
///
/// Any implementation (SQLite today, etcd later) must pass `StoreConformance`.
public protocol ResourceStore: Sendable {
    /// The revision of the newest write (0 when nothing was ever written).
    func currentRevision() async throws -> Int64

    /// Throws `StoreError.notFound`.
    func get<R: Resource>(_ type: R.Type, namespace: String?, name: String) async throws -> R

    /// Objects of a kind, optionally in one namespace and matching a label selector, sorted by
    /// namespace then name, with the revision the list was read at (a watch can start there).
    func list<R: Resource>(_ type: R.Type, namespace: String?, selector: LabelSelector) async throws -> (items: [R], revision: Int64)

    /// Stores a new object; throws `StoreError.alreadyExists`. Returns it with its resourceVersion.
    func create<R: Resource>(_ object: R) async throws -> R

    /// Replaces an object only if `object.metadata.resourceVersion` equals the stored one
    /// (`StoreError.conflict` otherwise; `notFound` if absent). A nil or empty resourceVersion
    /// means an unconditional update. Returns it with its new resourceVersion.
    func update<R: Resource>(_ object: R) async throws -> R

    /// Removes an object, only if its resourceVersion matches when one is given (nil or empty:
    /// unconditional). Returns the
    /// object as last stored, with resourceVersion set to the revision of the deletion.
    func delete<R: Resource>(_ type: R.Type, namespace: String?, name: String, expectedResourceVersion: String?) async throws -> R

    /// Every change with a revision greater than `revision`, replayed from history and then
    /// live, in revision order, without gaps or duplicates. Throws `StoreError.expired` (as the
    /// stream's first error) when that history has been compacted away, and also ends a watch
    /// with `expired` (after the events it already has) when its consumer falls so far behind
    /// that the store stops buffering for it; either way the client re-lists and watches again.
    /// Ending the iteration (cancelling its task or dropping the stream) releases the watch.
    func watch<R: Resource>(_ type: R.Type, namespace: String?, fromRevision revision: Int64) -> AsyncThrowingStream<StoreEvent<R>, any Error>
}

/// One change to one object.
public struct StoreEvent<R: Resource>: Sendable, Equatable {
    public enum Change: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
    }

    public var change: Change
    /// The object after the change; for deletions, as it was last stored.
    public var object: R
    public var revision: Int64

    public init(change: Change, object: R, revision: Int64) {
        self.change = change
        self.object = object
        self.revision = revision
    }
}

public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(kind: String, namespace: String?, name: String)
    case alreadyExists(kind: String, namespace: String?, name: String)
    /// The caller's resourceVersion is stale; `current` is the stored one.
    case conflict(kind: String, namespace: String?, name: String, expected: String?, current: String)
    /// History before `oldestAvailable` is gone; re-list and watch from the new revision.
    case expired(requested: Int64, oldestAvailable: Int64)
    case invalidObject(String)

    public var description: String {
        switch self {
        case .notFound(let kind, _, let name):
            "\(kind.lowercased()) \"\(name)\" not found"
        case .alreadyExists(let kind, _, let name):
            "\(kind.lowercased()) \"\(name)\" already exists"
        case .conflict(let kind, _, let name, _, _):
            "Operation cannot be fulfilled on \(kind.lowercased()) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again"
        case .expired(let requested, let oldest):
            "too old resource version: \(requested) (\(oldest))"
        case .invalidObject(let message):
            message
        }
    }
}
