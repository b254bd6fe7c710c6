import SwellAPI
@testable import SwellClient
import Testing

@Suite("Informer cache transitions")
struct CacheTransitionTests {
    private func object(_ name: String, version: String, replicas: Int = 1) -> InferenceService {
        var object = service(name, replicas: replicas)
        object.metadata.resourceVersion = version
        return object
    }

    @Test("watch events update the cache and say what changed")
    func watchEvents() {
        var cache = [String: InferenceService]()
        let a1 = object("a", version: "1")
        let a2 = object("a", version: "2", replicas: 3)
        let a3 = object("a", version: "3", replicas: 3)

        #expect(CacheTransition.apply(WatchEvent(type: .added, object: a1), to: &cache) == .added(a1))
        #expect(CacheTransition.apply(WatchEvent(type: .added, object: a1), to: &cache) == nil, "a replayed event is not a change")
        #expect(CacheTransition.apply(WatchEvent(type: .modified, object: a2), to: &cache) == .updated(old: a1, new: a2))
        #expect(cache["default/a"] == a2)
        #expect(CacheTransition.apply(WatchEvent(type: .deleted, object: a3), to: &cache) == .deleted(a3))
        #expect(cache.isEmpty)
        #expect(CacheTransition.apply(WatchEvent(type: .deleted, object: a3), to: &cache) == nil, "deleting the unknown is no event")
        #expect(CacheTransition.apply(WatchEvent(type: .modified, object: a2), to: &cache) == .added(a2), "a MODIFIED for an unknown object adds it")
    }

    @Test("a re-list becomes adds, updates and deletes for the differences only")
    func relist() {
        let keep = object("keep", version: "1")
        let old = object("change", version: "2")
        let new = object("change", version: "7", replicas: 2)
        let gone = object("gone", version: "3")
        let fresh = object("fresh", version: "8")
        var cache = ["default/keep": keep, "default/change": old, "default/gone": gone]

        let events = CacheTransition.replace(&cache, with: [keep, new, fresh])
        #expect(events == [.updated(old: old, new: new), .added(fresh), .deleted(gone)])
        #expect(Set(cache.keys) == ["default/keep", "default/change", "default/fresh"])
        #expect(CacheTransition.replace(&cache, with: [keep, new, fresh]).isEmpty)
    }
}
