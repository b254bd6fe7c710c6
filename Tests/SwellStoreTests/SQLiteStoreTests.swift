import Foundation
import SwellAPI
import SwellStore
import Testing

/// What only the SQLite store does: file handling, locking, watch buffering and cleanup.
@Suite("SQLiteStore")
struct SQLiteStoreTests {
    /// Runs `body` with a path in a fresh temporary directory, removed afterwards.
    private func withPath<T>(_ body: (String) async throws -> T) async throws -> T {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(directory.appendingPathComponent("swell.db").path)
    }

    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        case garbage
        case text
        case truncated

        var testDescription: String { rawValue }
    }

    @Test(arguments: Damage.allCases)
    func aDamagedFileFailsToOpenWithAClearError(damage: Damage) async throws {
        try await withPath { path in
            switch damage {
            case .garbage:
                var generator = SystemRandomNumberGenerator()
                let bytes = (0..<65_536).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
                try Data(bytes).write(to: URL(fileURLWithPath: path))
            case .text:
                try Data("apiVersion: swell.dev/v1\nkind: InferenceService\n".utf8).write(to: URL(fileURLWithPath: path))
            case .truncated:
                // A real store with many pages, cut in the middle like a torn copy.
                let store = try SQLiteStore(path: path)
                for index in 0..<200 {
                    _ = try await store.create(Fixtures.event("e\(index)", namespace: "ns", message: String(repeating: "x", count: 500)))
                }
                try store.close()
                let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
                // Closing checkpointed the log into the file; drop it so only the cut file remains.
                for suffix in ["-wal", "-shm"] {
                    try? FileManager.default.removeItem(atPath: path + suffix)
                }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.truncate(atOffset: UInt64(size / 2))
                try handle.close()
            }
            #expect {
                _ = try SQLiteStore(path: path)
            } throws: { error in
                guard case SQLiteStoreError.cannotOpen(let failedPath, let reason) = error else { return false }
                return failedPath == path && !reason.isEmpty && "\(error)".contains(path)
            }
        }
    }

    @Test func openingCreatesParentDirectoriesAndUsesWAL() async throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("a/b/c/swell.db").path
        let store = try SQLiteStore(path: path)
        _ = try await store.create(Fixtures.priorityClass("pc"))
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(FileManager.default.fileExists(atPath: path + "-wal"), "writes go to the write-ahead log")
        try store.close()
    }

    @Test func aSecondStoreOnTheSameFileIsRefusedUntilTheFirstCloses() async throws {
        try await withPath { path in
            let first = try SQLiteStore(path: path)
            _ = try await first.create(Fixtures.priorityClass("pc"))
            #expect(throws: SQLiteStoreError.locked(path: path + ".lock")) {
                _ = try SQLiteStore(path: path)
            }
            try first.close()
            let second = try await openOnceUnlocked(path: path)
            #expect(try await second.currentRevision() == 1)
            try second.close()
        }
    }

    @Test func closingEndsWatchesWithAnError() async throws {
        try await withPath { path in
            let store = try SQLiteStore(path: path)
            var live = store.watch(PriorityClass.self, namespace: nil, fromRevision: 0).makeAsyncIterator()
            _ = try await store.create(Fixtures.priorityClass("pc"))
            #expect(try await live.next()?.object.metadata.name == "pc")
            let unread = store.watch(PriorityClass.self, namespace: nil, fromRevision: 0)
            try store.close()

            await #expect(throws: SQLiteStoreError.closed(path: path)) {
                _ = try await live.next()
            }
            let (events, error) = try await drain(unread)
            #expect(events.isEmpty)
            #expect(error as? SQLiteStoreError == .closed(path: path))
            #expect(store.watcherCount == 0)
            await #expect(throws: SQLiteStoreError.closed(path: path)) {
                _ = try await store.currentRevision()
            }
            await #expect(throws: SQLiteStoreError.closed(path: path)) {
                _ = try await store.create(Fixtures.priorityClass("late"))
            }
        }
    }

    @Test func aWatcherThatFallsBehindIsExpiredWithoutBlockingWriters() async throws {
        try await withPath { path in
            let bufferLimit = 4
            let store = try SQLiteStore(path: path, watchBufferLimit: bufferLimit)
            let first = try await store.create(Fixtures.priorityClass("pc-0"))
            let start = try #require(first.metadata.revision)

            var iterator = store.watch(PriorityClass.self, namespace: nil, fromRevision: start - 1).makeAsyncIterator()
            // The first event comes from history; after it the watch is live.
            #expect(try await iterator.next()?.revision == start)
            #expect(store.watcherCount == 1)

            // Nobody reads while these are written, and every write still completes.
            for index in 1...20 {
                _ = try await store.create(Fixtures.priorityClass("pc-\(index)"))
            }

            var revisions = [Int64]()
            var failure: (any Error)?
            do {
                while let event = try await iterator.next() {
                    revisions.append(event.revision)
                }
            } catch {
                failure = error
            }
            // What was buffered arrives without gaps, then the watch ends so the client re-lists.
            #expect(revisions == Array((start + 1)...(start + Int64(bufferLimit))))
            #expect(failure as? StoreError == .expired(requested: start + Int64(bufferLimit), oldestAvailable: start + Int64(bufferLimit) + 1))
            #expect(store.watcherCount == 0)
            try store.close()
        }
    }

    @Test func cancellingAWatchUnregistersIt() async throws {
        try await withPath { path in
            let store = try SQLiteStore(path: path)
            let consumer = Task {
                var seen = 0
                for try await _ in store.watch(PriorityClass.self, namespace: nil, fromRevision: 0) {
                    seen += 1
                }
                return seen
            }
            _ = try await store.create(Fixtures.priorityClass("pc"))
            try await waitUntil("the watcher to register") { store.watcherCount == 1 }
            consumer.cancel()
            // Ending quietly or with CancellationError are both fine; what matters is the cleanup.
            _ = await consumer.result
            try await waitUntil("the watcher to unregister") { store.watcherCount == 0 }
            try store.close()
        }
    }

    @Test func droppingAWatchUnregistersIt() async throws {
        try await withPath { path in
            let store = try SQLiteStore(path: path)
            _ = try await store.create(Fixtures.priorityClass("pc"))
            do {
                let watch = store.watch(PriorityClass.self, namespace: nil, fromRevision: 0)
                #expect(store.watcherCount == 1)
                for try await event in watch {
                    #expect(event.change == .added)
                    break
                }
            }
            try await waitUntil("the watcher to unregister") { store.watcherCount == 0 }

            // A watch that is never iterated is released too.
            _ = store.watch(PriorityClass.self, namespace: nil, fromRevision: 0)
            try await waitUntil("the unused watcher to unregister") { store.watcherCount == 0 }
            try store.close()
        }
    }

    @Test func manyWatchersEachSeeEveryChange() async throws {
        try await withPath { path in
            let store = try SQLiteStore(path: path)
            let watchers = (0..<20).map { _ in store.watch(PriorityClass.self, namespace: nil, fromRevision: 0) }
            for index in 0..<30 {
                _ = try await store.create(Fixtures.priorityClass("pc-\(index)"))
            }
            let results = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for watch in watchers {
                    group.addTask { try await collect(watch, count: 30).map(\.revision) }
                }
                return try await group.reduce(into: [[Int64]]()) { $0.append($1) }
            }
            #expect(results.count == 20)
            #expect(results.allSatisfy { $0 == Array(1...30) })
            try store.close()
        }
    }
}

/// Polls `condition` until it holds; the limit only guards against a hang.
func waitUntil(_ what: String, limit: Duration = .seconds(30), _ condition: @escaping @Sendable () -> Bool) async throws {
    try await withTimeout(what, limit) {
        while !condition() {
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// Opens a store whose previous holder has just closed it.
///
/// Other tests in this process spawn child processes; a child forked at the moment the first
/// store's lock descriptor was open shares that descriptor (and its flock) until it execs, which
/// closes it (O_CLOEXEC). So the lock can outlive `close()` by that short window.
private func openOnceUnlocked(path: String) async throws -> SQLiteStore {
    var attempts = 0
    while true {
        do {
            return try SQLiteStore(path: path)
        } catch SQLiteStoreError.locked where attempts < 50 {
            attempts += 1
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
