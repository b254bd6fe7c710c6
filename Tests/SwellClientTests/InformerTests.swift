import Foundation
import SwellAPI
import SwellClient
import Synchronization
import Testing

/// Collects an informer's events as `TYPE name` lines.
final class EventLog<R: Resource>: Sendable {
    private let lines = Mutex<[String]>([])

    init(_ informer: Informer<R>) {
        informer.addEventHandler { event in self.record(event) }
    }

    private func record(_ event: InformerEvent<R>) {
        let line = switch event {
        case .added(let object): "added \(object.metadata.name)"
        case .updated(_, let object): "updated \(object.metadata.name)"
        case .deleted(let object): "deleted \(object.metadata.name)"
        }
        lines.withLock { $0.append(line) }
    }

    var all: [String] { lines.withLock { $0 } }
}

@Suite("Informer against a real server")
struct InformerTests {
    private static let fastRetries = Informer<InferenceService>.Configuration(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))

    @Test("the cache converges on creates, updates and deletes, and handlers hear each")
    func converges() async throws {
        try await withLiveServer { server in
            let client = server.client()
            _ = try await client.create(service("before"))
            let informer = Informer<InferenceService>(client: client, configuration: Self.fastRetries, logger: LiveServer.quietLogger)
            let log = EventLog(informer)
            #expect(!informer.hasSynced)
            let running = Task { try await informer.run() }
            defer { running.cancel() }
            try await informer.waitForSync()
            #expect(informer.cache.keys == ["default/before"])

            _ = try await client.create(service("a"))
            _ = try await client.create(service("b", namespace: "other"))
            _ = try await client.patch(InferenceService.self, namespace: "default", name: "a", mergePatch: .object(["spec": .object(["replicas": .int(4)])]))
            _ = try await client.delete(InferenceService.self, namespace: "default", name: "before")

            let expected = try await client.list(InferenceService.self, namespace: nil).items
            try await eventually("the cache matches the server") { informer.cache.list() == expected }
            #expect(informer.cache.get(namespace: "default", name: "a")?.spec.replicas == 4)
            #expect(informer.cache.list(namespace: "other", selector: .everything).map(\.metadata.name) == ["b"])
            #expect(log.all == ["added before", "added a", "added b", "updated a", "deleted before"])
            #expect(informer.statistics.lists == 1)

            // A handler added late first hears about everything already cached.
            let late = EventLog(informer)
            #expect(late.all == ["added a", "added b"])

            // So does a stream, which then follows live changes.
            var stream = informer.events().makeAsyncIterator()
            #expect(await stream.next() == .added(try #require(informer.cache.get("default/a"))))
            #expect(await stream.next() == .added(try #require(informer.cache.get("other/b"))))
            let deleted = try await client.delete(InferenceService.self, namespace: "other", name: "b")
            let next = await stream.next()
            guard case .deleted(let object) = next else {
                Issue.record("expected a deletion, got \(String(describing: next))")
                return
            }
            #expect(object.metadata.key == deleted.metadata.key)

            running.cancel()
            try await running.value
        }
    }

    @Test("a label-selected informer drops objects that stop matching")
    func selector() async throws {
        try await withLiveServer { server in
            let client = server.client()
            let informer = Informer<InferenceService>(client: client, namespace: "default", labelSelector: "tier=web", configuration: Self.fastRetries, logger: LiveServer.quietLogger)
            let running = Task { try await informer.run() }
            defer { running.cancel() }
            try await informer.waitForSync()

            _ = try await client.create(service("web", labels: ["tier": "web"]))
            _ = try await client.create(service("batch", labels: ["tier": "batch"]))
            _ = try await client.create(service("elsewhere", namespace: "other", labels: ["tier": "web"]))
            try await eventually("the matching object arrives") { informer.cache.keys == ["default/web"] }

            _ = try await client.patch(InferenceService.self, namespace: "default", name: "web", mergePatch: .object(["metadata": .object(["labels": .object(["tier": .string("batch")])])]))
            _ = try await client.patch(InferenceService.self, namespace: "default", name: "batch", mergePatch: .object(["metadata": .object(["labels": .object(["tier": .string("web")])])]))
            try await eventually("membership follows the labels") { informer.cache.keys == ["default/batch"] }
        }
    }

    @Test("after the server comes back with compacted history the informer re-lists and catches up")
    func recoversFromExpiredWatch() async throws {
        try await withLiveServer(historyLimit: 4) { server in
            let client = server.client()
            _ = try await client.create(service("a"))
            _ = try await client.create(service("b"))
            let informer = Informer<InferenceService>(client: client, configuration: Self.fastRetries, logger: LiveServer.quietLogger)
            let log = EventLog(informer)
            let running = Task { try await informer.run() }
            defer { running.cancel() }
            try await informer.waitForSync()
            #expect(informer.cache.keys == ["default/a", "default/b"])

            // While the server is down, enough happens that the informer's revision is compacted away.
            try await server.pause()
            _ = try await server.store.delete(InferenceService.self, namespace: "default", name: "b", expectedResourceVersion: nil)
            _ = try await server.store.create(service("c"))
            var a = try await server.store.get(InferenceService.self, namespace: "default", name: "a")
            for replicas in 2...12 {
                a.spec.replicas = replicas
                a = try await server.store.update(a)
            }
            try await server.resume()

            try await eventually("the cache matches the store again") {
                let stored = try await server.store.list(InferenceService.self, namespace: nil, selector: .everything).items
                return informer.cache.list() == stored
            }
            #expect(informer.cache.get(namespace: "default", name: "a")?.spec.replicas == 12)
            let statistics = informer.statistics
            #expect(statistics.expiredWatches >= 1)
            #expect(statistics.lists >= 2)
            #expect(log.all.contains("deleted b"), "the re-list reports the deletion it missed")
            #expect(log.all.contains("added c"))
        }
    }
}
