import Foundation
import SwellAPI
import SwellStore
import Testing

/// One `ResourceStore` implementation as the conformance suite sees it: a way to make fresh
/// storage, open it (again and again, as a restarted server would), and close it.
///
/// A new implementation (etcd) joins the suite by adding a harness to `all`.
struct StoreHarness: Sendable, CustomTestStringConvertible {
    let name: String
    /// Creates empty storage and returns where it is.
    let makeLocation: @Sendable () throws -> String
    let removeLocation: @Sendable (String) throws -> Void
    /// Opens the storage at a location, keeping at least `historyLimit` changes watchable.
    let open: @Sendable (_ location: String, _ historyLimit: Int) async throws -> any ResourceStore
    let close: @Sendable (any ResourceStore) async throws -> Void

    var testDescription: String { name }

    static let all: [StoreHarness] = [.sqlite]

    static let sqlite = StoreHarness(
        name: "SQLiteStore",
        makeLocation: { try TemporaryDirectory.make().appendingPathComponent("state/swell.db").path },
        removeLocation: { path in
            // The store sits in state/ inside the temporary directory; remove the whole directory.
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().deletingLastPathComponent()
            try FileManager.default.removeItem(at: directory)
        },
        open: { path, historyLimit in try SQLiteStore(path: path, historyLimit: historyLimit) },
        close: { store in try (store as! SQLiteStore).close() }
    )

    /// Runs `body` with fresh storage that is removed afterwards.
    func withLocation<T>(_ body: (String) async throws -> T) async throws -> T {
        let location = try makeLocation()
        defer { try? removeLocation(location) }
        return try await body(location)
    }

    /// Runs `body` with a store opened on fresh storage, closed and removed afterwards.
    func withStore<T>(historyLimit: Int = 10_000, _ body: (any ResourceStore) async throws -> T) async throws -> T {
        try await withLocation { location in
            let store = try await open(location, historyLimit)
            do {
                let result = try await body(store)
                try await close(store)
                return result
            } catch {
                try? await close(store)
                throw error
            }
        }
    }
}

enum TemporaryDirectory {
    static func make() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swell-store-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Small objects of a cluster-scoped kind (PriorityClass) and a namespaced one (Event).
enum Fixtures {
    static func priorityClass(_ name: String, value: Int32 = 0, labels: [String: String]? = nil) -> PriorityClass {
        PriorityClass(metadata: ObjectMeta(name: name, labels: labels), value: value)
    }

    static func event(_ name: String, namespace: String = "default", labels: [String: String]? = nil, message: String = "hello") -> Event {
        Event(
            metadata: ObjectMeta(name: name, namespace: namespace, labels: labels),
            involvedObject: ObjectReference(kind: "InferenceService", namespace: namespace, name: "chat"),
            reason: "Testing",
            message: message
        )
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing after `limit`. The limit only guards against hangs; it measures nothing.
func withTimeout<T: Sendable>(_ what: String, _ limit: Duration = .seconds(60), _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimedOut(what: what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Reads events until `done` says so (inclusive).
func collect<R: Resource>(
    _ stream: AsyncThrowingStream<StoreEvent<R>, any Error>,
    until done: @escaping @Sendable ([StoreEvent<R>]) -> Bool
) async throws -> [StoreEvent<R>] {
    try await withTimeout("watch events") {
        var events = [StoreEvent<R>]()
        for try await event in stream {
            events.append(event)
            if done(events) { return events }
        }
        return events
    }
}

func collect<R: Resource>(_ stream: AsyncThrowingStream<StoreEvent<R>, any Error>, count: Int) async throws -> [StoreEvent<R>] {
    try await collect(stream) { $0.count >= count }
}

/// Reads events until the stream fails, returning what arrived and the error (nil if it just ended).
func drain<R: Resource>(_ stream: AsyncThrowingStream<StoreEvent<R>, any Error>) async throws -> (events: [StoreEvent<R>], error: (any Error)?) {
    try await withTimeout("the watch to end") {
        var events = [StoreEvent<R>]()
        do {
            for try await event in stream {
                events.append(event)
            }
            return (events, nil)
        } catch {
            return (events, error)
        }
    }
}

/// The StoreError a call threw, or nil if it succeeded or threw something else.
func storeError(_ body: () async throws -> Void) async -> StoreError? {
    do {
        try await body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        return nil
    }
}
