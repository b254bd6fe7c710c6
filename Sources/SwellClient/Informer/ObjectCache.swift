import Synchronization
import SwellAPI

/// An informer's thread-safe copy of the objects it watches, keyed by `namespace/name`
/// (`ObjectMeta.key`). Readers get values, never references into the cache.
public final class ObjectCache<R: Resource>: Sendable {
    private let objects = Mutex<[String: R]>([:])

    public init() {}

    public func get(_ key: String) -> R? {
        objects.withLock { $0[key] }
    }

    public func get(namespace: String?, name: String) -> R? {
        get(ObjectMeta(name: name, namespace: R.isNamespaced ? namespace : nil).key)
    }

    /// Every cached object, sorted by key (namespace, then name).
    public func list() -> [R] {
        objects.withLock { Array($0.values) }.sorted { $0.metadata.key < $1.metadata.key }
    }

    /// The cached objects in `namespace` (nil: all) whose labels match `selector`, sorted by key.
    public func list(namespace: String? = nil, selector: LabelSelector) -> [R] {
        list().filter { object in
            (namespace == nil || object.metadata.namespace == namespace) && selector.matches(object.metadata.labels)
        }
    }

    public var keys: [String] { objects.withLock { Array($0.keys) }.sorted() }

    public var count: Int { objects.withLock { $0.count } }

    // MARK: Writes (the informer's)

    /// Applies one watch event; nil when it changes nothing (a replayed or duplicate event).
    func apply(_ event: WatchEvent<R>) -> InformerEvent<R>? {
        objects.withLock { objects in
            CacheTransition.apply(event, to: &objects)
        }
    }

    /// Makes the cache equal to a fresh list, returning the events that explain the difference.
    func replace(with items: [R]) -> [InformerEvent<R>] {
        objects.withLock { objects in
            CacheTransition.replace(&objects, with: items)
        }
    }
}

/// How watch events and re-lists change a cache: pure, for table tests.
enum CacheTransition {
    static func apply<R: Resource>(_ event: WatchEvent<R>, to objects: inout [String: R]) -> InformerEvent<R>? {
        let key = event.object.metadata.key
        switch event.type {
        case .added, .modified:
            let old = objects.updateValue(event.object, forKey: key)
            guard let old else { return .added(event.object) }
            return old == event.object ? nil : .updated(old: old, new: event.object)
        case .deleted:
            // The deletion's own state (its final resourceVersion) is the one handlers get.
            guard objects.removeValue(forKey: key) != nil else { return nil }
            return .deleted(event.object)
        case .bookmark, .error:
            return nil
        }
    }

    static func replace<R: Resource>(_ objects: inout [String: R], with items: [R]) -> [InformerEvent<R>] {
        var events = [InformerEvent<R>]()
        var fresh = [String: R](minimumCapacity: items.count)
        for item in items {
            let key = item.metadata.key
            fresh[key] = item
            if let old = objects[key] {
                if old != item { events.append(.updated(old: old, new: item)) }
            } else {
                events.append(.added(item))
            }
        }
        for (key, old) in objects.sorted(by: { $0.key < $1.key }) where fresh[key] == nil {
            events.append(.deleted(old))
        }
        objects = fresh
        return events
    }
}
