import SwellAPI
import SwellStore

/// Turns store changes into the watch events a label-selected client should see: an object that
/// starts matching is ADDED, one that stops matching is DELETED (as in Kubernetes).
struct WatchFilter<R: Resource> {
    let selector: LabelSelector
    /// Keys of objects this client currently believes match.
    private(set) var visible: Set<String>

    init(selector: LabelSelector, visible: Set<String> = []) {
        self.selector = selector
        self.visible = visible
    }

    mutating func translate(_ event: StoreEvent<R>) -> WatchEvent<R>? {
        let key = event.object.metadata.key
        let matches = selector.matches(event.object.metadata.labels)
        switch event.change {
        case .added:
            guard matches else { return nil }
            visible.insert(key)
            return WatchEvent(type: .added, object: event.object)
        case .modified:
            if matches {
                let wasVisible = !visible.insert(key).inserted
                return WatchEvent(type: wasVisible || selector.isEverything ? .modified : .added, object: event.object)
            }
            guard visible.remove(key) != nil else { return nil }
            return WatchEvent(type: .deleted, object: event.object)
        case .deleted:
            guard visible.remove(key) != nil || (matches && selector.isEverything) else { return nil }
            return WatchEvent(type: .deleted, object: event.object)
        }
    }
}
