import Foundation
import SwellAPI
import SwellStore
import Testing

/// Behaviour every `ResourceStore` must have, run against each harness in `StoreHarness.all`.
@Suite("Store conformance")
struct StoreConformance {
    // MARK: CRUD

    @Test(arguments: StoreHarness.all)
    func createGetAndList(harness: StoreHarness) async throws {
        try await harness.withStore { store in
            let created = [
                try await store.create(Fixtures.event("b", namespace: "ns2")),
                try await store.create(Fixtures.event("z", namespace: "ns1")),
                try await store.create(Fixtures.event("a", namespace: "ns2")),
            ]
            let priorityClass = try await store.create(Fixtures.priorityClass("high", value: 1000))

            for event in created {
                let fetched = try await store.get(Event.self, namespace: event.metadata.namespace, name: event.metadata.name)
                #expect(fetched == event)
                #expect(fetched.metadata.resourceVersion != nil)
            }
            #expect(try await store.get(PriorityClass.self, namespace: nil, name: "high") == priorityClass)
            #expect(priorityClass.value == 1000)

            let (items, revision) = try await store.list(Event.self, namespace: nil, selector: .everything)
            #expect(items.map(\.metadata.key) == ["ns1/z", "ns2/a", "ns2/b"])
            #expect(revision == (try await store.currentRevision()))
            #expect(revision == priorityClass.metadata.revision)

            let (classes, _) = try await store.list(PriorityClass.self, namespace: nil, selector: .everything)
            #expect(classes == [priorityClass])
        }
    }

    @Test(arguments: StoreHarness.all)
    func getOfAMissingObjectIsNotFound(harness: StoreHarness) async throws {
        try await harness.withStore { store in
            _ = try await store.create(Fixtures.event("present", namespace: "ns1"))
            await #expect(throws: StoreError.notFound(kind: "Event", namespace: "ns1", name: "absent")) {
                _ = try await store.get(Event.self, namespace: "ns1", name: "absent")
            }
            // The same name in another namespace is another object.
            await #expect(throws: StoreError.notFound(kind: "Event", namespace: "ns2", name: "present")) {
                _ = try await store.get(Event.self, namespace: "ns2", name: "present")
            }
            // The same name under another kind is another object.
            await #expect(throws: StoreError.notFound(kind: "PriorityClass", namespace: nil, name: "present")) {
                _ = try await store.get(PriorityClass.self, namespace: nil, name: "present")
            }
        }
    }

    @Test(arguments: StoreHarness.all)
    func createOfAnExistingObjectIsAlreadyExists(harness: StoreHarness) async throws {
        try await harness.withStore { store in
            let first = try await store.create(Fixtures.event("dup", namespace: "ns1", message: "first"))
            let revision = try await store.currentRevision()
            await #expect(throws: StoreError.alreadyExists(kind: "Event", namespace: "ns1", name: "dup")) {
                _ = try await store.create(Fixtures.event("dup", namespace: "ns1", message: "second"))
            }
            #expect(try await store.get(Event.self, namespace: "ns1", name: "dup") == first)
            #expect(try await store.currentRevision() == revision, "a failed write must not use a revision")
        }
    }

    @Test(arguments: StoreHarness.all)
    func objectsWhoseScopeDoesNotFitTheirKindAreRejected(harness: StoreHarness) async throws {
        try await harness.withStore { store in
            var clusterScoped = Fixtures.priorityClass("scoped")
            clusterScoped.metadata.namespace = "ns1"
            let namespaced = Event(metadata: ObjectMeta(name: "floating"), involvedObject: ObjectReference(kind: "Node", name: "n"), reason: "r", message: "m")
            let unnamed = Fixtures.priorityClass("")
            let failures = [
                await storeError { _ = try await store.create(clusterScoped) },
                await storeError { _ = try await store.create(namespaced) },
                await storeError { _ = try await store.create(unnamed) },
            ]
            for failure in failures {
                guard case .invalidObject(let message)? = failure else {
                    Issue.record("expected invalidObject, got \(String(describing: failure))")
                    continue
                }
                #expect(!message.isEmpty)
            }
            let revision = try await store.currentRevision()
            #expect(revision == 0, "rejected writes use no revision")
        }
    }

    @Test(arguments: StoreHarness.all)
    func updateIsCompareAndSwapOnResourceVersion(harness: StoreHarness) async throws {
        try await harness.withStore { store in
            let created = try await store.create(Fixtures.priorityClass("pc", value: 1))

            var change = created
            change.value = 2
            let updated = try await store.update(change)
            #expect(updated.value == 2)
            #expect(try #require(updated.metadata.revision) > (try #require(created.metadata.revision)))

            // Writing from the stale copy fails and changes nothing.
            var stale = created
            stale.value = 3
            let revisionBefore = try await store.currentRevision()
            await #expect(throws: StoreError.conflict(kind: "PriorityClass", namespace: nil, name: "pc", expected: created.metadata.resourceVersion, current: updated.metadata.resourceVersion!)) {
                _ = try await store.update(stale)
            }
            #expect(try await store.get(PriorityClass.self, namespace: nil, name: "pc") == updated)
            #expect(try await store.currentRevision() == revisionBefore)

            // No resourceVersion means an unconditional update.
            for unconditional in [nil, ""] as [String?] {
                var blind = created
                blind.metadata.resourceVersion = unconditional
                blind.value += 10
                let written = try await store.update(blind)
                #expect(written.metadata.revision == revisionBefore + (unconditional == nil ? 1 : 2))
                #expect(try await store.get(PriorityClass.self, namespace: nil, name: "pc").value == blind.value)
            }

            await #expect(throws: StoreError.notFound(kind: "PriorityClass", namespace: nil, name: "ghost")) {
                _ = try await store.update(Fixtures.priorityClass("ghost"))
            }
        }
    }

    @Test(arguments: StoreHarness.all)
    func deleteChecksResourceVersionAndReturnsTheLastState(harness: StoreHarness) async throws {
        try await harness.withStore { store in
            let created = try await store.create(Fixtures.event("gone", namespace: "ns1", labels: ["app": "chat"], message: "v1"))
            var change = created
            change.message = "v2"
            let updated = try await store.update(change)

            await #expect(throws: StoreError.conflict(kind: "Event", namespace: "ns1", name: "gone", expected: created.metadata.resourceVersion, current: updated.metadata.resourceVersion!)) {
                _ = try await store.delete(Event.self, namespace: "ns1", name: "gone", expectedResourceVersion: created.metadata.resourceVersion)
            }
            #expect(try await store.get(Event.self, namespace: "ns1", name: "gone") == updated)

            let deleted = try await store.delete(Event.self, namespace: "ns1", name: "gone", expectedResourceVersion: updated.metadata.resourceVersion)
            var expected = updated
            expected.metadata.resourceVersion = String(try await store.currentRevision())
            #expect(deleted == expected, "the deleted object is the last stored state, at the deletion's revision")
            #expect(try #require(deleted.metadata.revision) > (try #require(updated.metadata.revision)))

            await #expect(throws: StoreError.notFound(kind: "Event", namespace: "ns1", name: "gone")) {
                _ = try await store.get(Event.self, namespace: "ns1", name: "gone")
            }
            await #expect(throws: StoreError.notFound(kind: "Event", namespace: "ns1", name: "gone")) {
                _ = try await store.delete(Event.self, namespace: "ns1", name: "gone", expectedResourceVersion: nil)
            }
            #expect(try await store.list(Event.self, namespace: nil, selector: .everything).items.isEmpty)

            // Without a precondition a delete is unconditional, and the name is free again.
            _ = try await store.create(Fixtures.event("gone", namespace: "ns1"))
            _ = try await store.delete(Event.self, namespace: "ns1", name: "gone", expectedResourceVersion: nil)
        }
    }

    @Test(arguments: StoreHarness.all)
    func everyWriteTakesTheNextRevisionAcrossKinds(harness: StoreHarness) async throws {
        try await harness.withStore { store in
            #expect(try await store.currentRevision() == 0)
            var versions = [Int64]()
            let pc = try await store.create(Fixtures.priorityClass("pc"))
            versions.append(try #require(pc.metadata.revision))
            let event = try await store.create(Fixtures.event("e", namespace: "ns1"))
            versions.append(try #require(event.metadata.revision))
            var pcChange = pc
            pcChange.value = 5
            versions.append(try #require(try await store.update(pcChange).metadata.revision))
            versions.append(try #require(try await store.delete(Event.self, namespace: "ns1", name: "e", expectedResourceVersion: nil).metadata.revision))
            versions.append(try #require(try await store.create(Fixtures.event("e2", namespace: "ns2")).metadata.revision))

            #expect(versions == Array(versions[0]..<(versions[0] + Int64(versions.count))), "revisions: \(versions)")
            #expect(try await store.currentRevision() == versions.last)
        }
    }

    // MARK: Selection

    static let selectorCases: [(selector: String, expected: [String])] = [
        ("", ["a", "b", "c", "d"]),
        ("app=chat", ["a", "b"]),
        ("app==chat", ["a", "b"]),
        ("tier!=batch", ["a", "c", "d"]),
        ("app in (chat,embed)", ["a", "b", "c"]),
        ("app notin (chat)", ["c", "d"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d"]),
        ("app=chat,tier=web", ["a"]),
        ("app=none", []),
    ]

    @Test(arguments: StoreHarness.all, selectorCases)
    func listFiltersByNamespaceAndLabelSelector(harness: StoreHarness, selectorCase: (selector: String, expected: [String])) async throws {
        try await harness.withStore { store in
            let labels: [String: [String: String]] = [
                "a": ["app": "chat", "tier": "web"],
                "b": ["app": "chat", "tier": "batch"],
                "c": ["app": "embed"],
                "d": [:],
            ]
            for namespace in ["ns1", "ns2"] {
                for (name, labels) in labels.sorted(by: { $0.key < $1.key }) {
                    _ = try await store.create(Fixtures.event(name, namespace: namespace, labels: labels.isEmpty ? nil : labels))
                }
            }
            let selector = try LabelSelector(parsing: selectorCase.selector)

            let inOne = try await store.list(Event.self, namespace: "ns2", selector: selector).items
            #expect(inOne.map(\.metadata.key) == selectorCase.expected.map { "ns2/\($0)" })

            let inAll = try await store.list(Event.self, namespace: nil, selector: selector).items
            #expect(inAll.map(\.metadata.key) == ["ns1", "ns2"].flatMap { ns in selectorCase.expected.map { "\(ns)/\($0)" } })

            #expect(try await store.list(Event.self, namespace: "ns3", selector: selector).items.isEmpty)
        }
    }

    // MARK: Watch

    @Test(arguments: StoreHarness.all)
    func watchReplaysChangesAfterARevisionInOrder(harness: StoreHarness) async throws {
        try await harness.withStore { store in
            let a = try await store.create(Fixtures.priorityClass("a"))
            let start = try #require(a.metadata.revision)
            let b = try await store.create(Fixtures.priorityClass("b"))
            var aChange = a
            aChange.value = 7
            let aUpdated = try await store.update(aChange)
            let bDeleted = try await store.delete(PriorityClass.self, namespace: nil, name: "b", expectedResourceVersion: nil)

            let events = try await collect(store.watch(PriorityClass.self, namespace: nil, fromRevision: start), count: 3)
            #expect(events == [
                StoreEvent(change: .added, object: b, revision: b.metadata.revision!),
                StoreEvent(change: .modified, object: aUpdated, revision: aUpdated.metadata.revision!),
                StoreEvent(change: .deleted, object: bDeleted, revision: bDeleted.metadata.revision!),
            ])

            // Nothing else arrives before the next change: the next event is exactly it.
            let watch = store.watch(PriorityClass.self, namespace: nil, fromRevision: start)
            let marker = try await store.create(Fixtures.priorityClass("marker"))
            let all = try await collect(watch, count: 4)
            #expect(all.map(\.revision) == events.map(\.revision) + [marker.metadata.revision!])
            #expect(all.last == StoreEvent(change: .added, object: marker, revision: marker.metadata.revision!))

            // From zero: everything ever written to this kind.
            let everything = try await collect(store.watch(PriorityClass.self, namespace: nil, fromRevision: 0), count: 5)
            #expect(everything.map(\.change) == [.added, .added, .modified, .deleted, .added])
            #expect(everything.first?.object == a)
        }
    }

    @Test(arguments: StoreHarness.all)
    func watchHandsOffFromReplayToLiveWithoutGapsOrDuplicates(harness: StoreHarness) async throws {
        try await harness.withStore { store in
            let writes = 300
            let writer = Task {
                for index in 0..<writes {
                    let name = "pc-\(index % 10)"
                    if index < 10 {
                        _ = try await store.create(Fixtures.priorityClass(name, value: Int32(index)))
                    } else {
                        var current = try await store.get(PriorityClass.self, namespace: nil, name: name)
                        current.value = Int32(index)
                        _ = try await store.update(current)
                    }
                }
                return try await store.currentRevision()
            }

            // Watches begin at whatever revision the store has reached while the writer runs.
            // Their reading starts only after the last one began, so each has changes that are
            // both in history and in its live buffer (deduplicated), and, with the writer still
            // going, changes that only arrive live.
            var streams = [(start: Int64, stream: AsyncThrowingStream<StoreEvent<PriorityClass>, any Error>)]()
            for _ in 0..<4 {
                let start = try await store.currentRevision()
                streams.append((start, store.watch(PriorityClass.self, namespace: nil, fromRevision: start)))
                try await Task.sleep(for: .milliseconds(10))
            }
            let watchers = streams.map { start, stream in
                Task {
                    let events = try await collect(stream) { $0.last?.revision == Int64(writes) }
                    return (start: start, revisions: events.map(\.revision))
                }
            }
            let finalRevision = try await writer.value
            #expect(finalRevision == Int64(writes))

            for watcher in watchers {
                let (start, revisions) = try await watcher.value
                #expect(revisions == Array((start + 1)...finalRevision), "watch from \(start)")
            }
        }
    }

    @Test(arguments: StoreHarness.all)
    func watchIsFilteredByKindAndNamespace(harness: StoreHarness) async throws {
        try await harness.withStore { store in
            let inOne = store.watch(Event.self, namespace: "ns1", fromRevision: 0)
            let inAll = store.watch(Event.self, namespace: nil, fromRevision: 0)
            let classes = store.watch(PriorityClass.self, namespace: nil, fromRevision: 0)

            var expectedInOne = [Int64]()
            var expectedInAll = [Int64]()
            var expectedClasses = [Int64]()
            for index in 0..<12 {
                switch index % 3 {
                case 0:
                    let event = try await store.create(Fixtures.event("e\(index)", namespace: "ns1"))
                    expectedInOne.append(event.metadata.revision!)
                    expectedInAll.append(event.metadata.revision!)
                case 1:
                    let event = try await store.create(Fixtures.event("e\(index)", namespace: "ns2"))
                    expectedInAll.append(event.metadata.revision!)
                default:
                    let pc = try await store.create(Fixtures.priorityClass("pc\(index)"))
                    expectedClasses.append(pc.metadata.revision!)
                }
            }

            let oneEvents = try await collect(inOne, count: expectedInOne.count)
            #expect(oneEvents.map(\.revision) == expectedInOne)
            #expect(oneEvents.allSatisfy { $0.object.metadata.namespace == "ns1" })
            #expect(try await collect(inAll, count: expectedInAll.count).map(\.revision) == expectedInAll)
            #expect(try await collect(classes, count: expectedClasses.count).map(\.revision) == expectedClasses)
        }
    }

    @Test(arguments: StoreHarness.all)
    func watchFromACompactedRevisionIsExpired(harness: StoreHarness) async throws {
        let historyLimit = 10
        try await harness.withStore(historyLimit: historyLimit) { store in
            _ = try await store.create(Fixtures.priorityClass("counter"))
            for value in 1..<40 {
                var current = try await store.get(PriorityClass.self, namespace: nil, name: "counter")
                current.value = Int32(value)
                _ = try await store.update(current)
            }
            let current = try await store.currentRevision()
            #expect(current == 40)

            let (events, error) = try await drain(store.watch(PriorityClass.self, namespace: nil, fromRevision: 1))
            #expect(events.isEmpty)
            guard case .expired(let requested, let oldest)? = error as? StoreError else {
                Issue.record("expected StoreError.expired, got \(String(describing: error))")
                return
            }
            #expect(requested == 1)
            #expect(oldest > 1)
            #expect(oldest <= current - Int64(historyLimit), "at least historyLimit changes stay watchable")

            // The newest historyLimit changes are still there.
            let start = current - Int64(historyLimit)
            let recent = try await collect(store.watch(PriorityClass.self, namespace: nil, fromRevision: start), count: historyLimit)
            #expect(recent.map(\.revision) == Array((start + 1)...current))
            #expect(recent.last?.object.value == 39)

            // Listing still works and gives a revision to watch from.
            let (items, revision) = try await store.list(PriorityClass.self, namespace: nil, selector: .everything)
            #expect(items.map(\.value) == [39])
            let watch = store.watch(PriorityClass.self, namespace: nil, fromRevision: revision)
            _ = try await store.delete(PriorityClass.self, namespace: nil, name: "counter", expectedResourceVersion: nil)
            #expect(try await collect(watch, count: 1).map(\.change) == [.deleted])
        }
    }

    // MARK: Concurrency

    @Test(arguments: StoreHarness.all)
    func concurrentWritersWithRetryLoseNoIncrement(harness: StoreHarness) async throws {
        let writers = 8
        let incrementsPerWriter = 50
        try await harness.withStore { store in
            let created = try await store.create(Fixtures.priorityClass("counter", value: 0))
            let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<writers {
                    group.addTask {
                        var conflicts = 0
                        for _ in 0..<incrementsPerWriter {
                            while true {
                                var current = try await store.get(PriorityClass.self, namespace: nil, name: "counter")
                                current.value += 1
                                do {
                                    _ = try await store.update(current)
                                    break
                                } catch StoreError.conflict {
                                    conflicts += 1
                                }
                            }
                        }
                        return conflicts
                    }
                }
                return try await group.reduce(0, +)
            }
            let total = writers * incrementsPerWriter
            let final = try await store.get(PriorityClass.self, namespace: nil, name: "counter")
            #expect(final.value == Int32(total), "\(conflicts) conflicts were retried")

            // Every successful update is in the history once, with consecutive revisions and values.
            let start = try #require(created.metadata.revision)
            let history = try await collect(store.watch(PriorityClass.self, namespace: nil, fromRevision: start), count: total)
            #expect(history.map(\.revision) == Array((start + 1)...(start + Int64(total))))
            #expect(history.map(\.object.value) == (1...total).map { Int32($0) })
            #expect(history.allSatisfy { $0.change == .modified })
            #expect(try await store.currentRevision() == start + Int64(total))
        }
    }

    // MARK: Durability

    @Test(arguments: StoreHarness.all)
    func reopeningFindsEverything(harness: StoreHarness) async throws {
        try await harness.withLocation { location in
            let first = try await harness.open(location, 10_000)
            let kept = try await first.create(Fixtures.event("kept", namespace: "ns1", labels: ["app": "chat"]))
            var change = try await first.create(Fixtures.priorityClass("pc", value: 1))
            change.value = 2
            let updatedClass = try await first.update(change)
            _ = try await first.create(Fixtures.event("dropped", namespace: "ns1"))
            _ = try await first.delete(Event.self, namespace: "ns1", name: "dropped", expectedResourceVersion: nil)
            let revision = try await first.currentRevision()
            try await harness.close(first)

            let second = try await harness.open(location, 10_000)
            #expect(try await second.currentRevision() == revision)
            #expect(try await second.get(Event.self, namespace: "ns1", name: "kept") == kept)
            #expect(try await second.list(Event.self, namespace: nil, selector: LabelSelector(parsing: "app=chat")).items == [kept])
            #expect(try await second.list(PriorityClass.self, namespace: nil, selector: .everything).items == [updatedClass])
            let events = try await collect(second.watch(Event.self, namespace: nil, fromRevision: 0), count: 3)
            #expect(events.map(\.change) == [.added, .added, .deleted])
            #expect(events.map(\.object.metadata.name) == ["kept", "dropped", "dropped"])

            // Optimistic concurrency carries over: the old resourceVersion still matches.
            var again = updatedClass
            again.value = 3
            #expect(try await second.update(again).metadata.revision == revision + 1)
            try await harness.close(second)
        }
    }

    @Test(arguments: StoreHarness.all)
    func revisionNeverGoesBackwardsAfterDeletingTheNewestObject(harness: StoreHarness) async throws {
        try await harness.withLocation { location in
            let first = try await harness.open(location, 10_000)
            _ = try await first.create(Fixtures.priorityClass("old"))
            _ = try await first.create(Fixtures.priorityClass("newest"))
            let deletion = try await first.delete(PriorityClass.self, namespace: nil, name: "newest", expectedResourceVersion: nil)
            let deletionRevision = try #require(deletion.metadata.revision)
            try await harness.close(first)

            let second = try await harness.open(location, 10_000)
            #expect(try await second.currentRevision() == deletionRevision)
            #expect(try await second.list(PriorityClass.self, namespace: nil, selector: .everything).revision == deletionRevision)
            let next = try await second.create(Fixtures.priorityClass("next"))
            #expect(next.metadata.revision == deletionRevision + 1)
            try await harness.close(second)
        }
    }
}
