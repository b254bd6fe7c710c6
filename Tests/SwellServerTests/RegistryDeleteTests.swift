import Foundation
import SwellAPI
import SwellStore
@testable import SwellServer
import Testing

/// A real SQLite store that, once, writes the object just before forwarding a delete: what a
/// controller's status update does when it lands between the registry's read and its delete.
private struct InterleavingStore: ResourceStore {
    let base: SQLiteStore
    let interleaved = Counter()

    final class Counter: @unchecked Sendable {
        var fired = false
    }

    func currentRevision() async throws -> Int64 { try await base.currentRevision() }
    func get<R: Resource>(_ type: R.Type, namespace: String?, name: String) async throws -> R {
        try await base.get(type, namespace: namespace, name: name)
    }
    func list<R: Resource>(_ type: R.Type, namespace: String?, selector: LabelSelector) async throws -> (items: [R], revision: Int64) {
        try await base.list(type, namespace: namespace, selector: selector)
    }
    func create<R: Resource>(_ object: R) async throws -> R { try await base.create(object) }
    func update<R: Resource>(_ object: R) async throws -> R { try await base.update(object) }
    func delete<R: Resource>(_ type: R.Type, namespace: String?, name: String, expectedResourceVersion: String?) async throws -> R {
        if !interleaved.fired {
            interleaved.fired = true
            var concurrent = try await base.get(type, namespace: namespace, name: name)
            concurrent.metadata.resourceVersion = nil // unconditional, as a status writer's retry ends up
            _ = try await base.update(concurrent)
        }
        return try await base.delete(type, namespace: namespace, name: name, expectedResourceVersion: expectedResourceVersion)
    }
    func watch<R: Resource>(_ type: R.Type, namespace: String?, fromRevision revision: Int64) -> AsyncThrowingStream<StoreEvent<R>, any Error> {
        base.watch(type, namespace: namespace, fromRevision: revision)
    }
}

@Suite("Registry delete")
struct RegistryDeleteTests {
    private func store() throws -> InterleavingStore {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return InterleavingStore(base: try SQLiteStore(path: directory.appendingPathComponent("swell.db").path))
    }

    @Test("a write between the read and the delete does not make an unconditional delete fail")
    func unconditionalDeleteRetriesConflicts() async throws {
        let store = try store()
        let registry = Registry<PriorityClass>(store: store)
        _ = try await store.create(PriorityClass(metadata: ObjectMeta(name: "high"), value: 1000))
        _ = try await registry.delete(namespace: nil, name: "high")
        #expect(store.interleaved.fired)
        await #expect(throws: StoreError.self) { try await store.get(PriorityClass.self, namespace: nil, name: "high") }
    }

    @Test("a delete pinned to a resourceVersion still fails when the object moved on")
    func pinnedDeleteKeepsItsConflict() async throws {
        let store = try store()
        let registry = Registry<PriorityClass>(store: store)
        let created = try await store.create(PriorityClass(metadata: ObjectMeta(name: "high"), value: 1000))
        await #expect(throws: StoreError.self) {
            try await registry.delete(namespace: nil, name: "high", expectedResourceVersion: created.metadata.resourceVersion)
        }
        #expect(try await store.get(PriorityClass.self, namespace: nil, name: "high").metadata.name == "high")
    }
}
