import SwellAPI

/// A change an informer saw, after its cache applied it.
public enum InformerEvent<R: Resource>: Sendable {
    case added(R)
    /// Also delivered with `old == new` on a periodic resync, so level-based handlers re-check.
    case updated(old: R, new: R)
    /// The last state the informer knew (for a deletion seen by a re-list, possibly older than
    /// the deletion itself).
    case deleted(R)

    /// The object after the change (for deletions, the last known state).
    public var object: R {
        switch self {
        case .added(let object), .deleted(let object): object
        case .updated(_, let new): new
        }
    }
}

extension InformerEvent: Equatable where R: Equatable {}
