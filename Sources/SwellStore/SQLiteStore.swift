import Foundation
import GRDB
import Logging
import SwellAPI

/// Why a SQLite store could not be used.
public enum SQLiteStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is missing permissions, is not a SQLite database, or is damaged.
    case cannotOpen(path: String, reason: String)
    /// Another `SQLiteStore`, in this process or another, has the file open.
    case locked(path: String)
    /// The store was closed.
    case closed(path: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open store \(path): \(reason)"
        case .locked(let path):
            "store lock \(path) is held by another process (or another open store in this one); stop it first"
        case .closed(let path):
            "store \(path) is closed"
        }
    }
}

/// A `ResourceStore` in one SQLite file: the current objects plus a bounded log of every change.
///
/// Durability: WAL journal with `synchronous = FULL`, so a write is on disk (WAL fsynced) before
/// the call returns; an acknowledged write survives a process kill and a power loss, and an
/// interrupted one leaves no trace. Writes are serialised by GRDB's single writer connection;
/// reads run concurrently on reader connections, each inside one snapshot transaction.
///
/// Updates are compare-and-swap on `metadata.resourceVersion`: an empty or missing
/// resourceVersion means an unconditional update (as a Kubernetes PUT without one), any other
/// value must equal the stored one or the update fails with `StoreError.conflict`.
/// A create ignores any resourceVersion the object carries.
public final class SQLiteStore: ResourceStore {
    public let path: String
    /// At least this many of the newest changes stay watchable.
    public let historyLimit: Int
    private let pool: DatabasePool
    private let hub: WatchHub
    private let lock: StoreFileLock
    private let logger: Logger

    /// Opens (creating if needed, with parent directories) the store file at `path`.
    ///
    /// - Parameters:
    ///   - historyLimit: how many of the newest changes stay available to watches.
    ///   - watchBufferLimit: events buffered per watcher before it is ended with `expired`.
    /// - Throws: `SQLiteStoreError` when the file cannot be used.
    public init(path: String, logger: Logger = Logger(label: "swell.store"), historyLimit: Int = 10_000, watchBufferLimit: Int = 1_024) throws {
        precondition(historyLimit > 0, "historyLimit must be positive")
        self.path = path
        self.historyLimit = historyLimit
        self.logger = logger
        self.hub = WatchHub(bufferLimit: watchBufferLimit, logger: logger)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw SQLiteStoreError.cannotOpen(path: path, reason: "cannot create directory \(directory.path): \(error.localizedDescription)")
        }
        self.lock = try StoreFileLock(path: path + ".lock")

        var configuration = Configuration()
        configuration.label = "swell.store"
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // FULL also fsyncs the WAL on every commit: acknowledged means on disk.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let meta: StoreMeta
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // Find torn or foreign files now, with a clear error, rather than on some later read.
            let problems = try pool.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            guard problems == ["ok"] else {
                throw SQLiteStoreError.cannotOpen(path: path, reason: "database is damaged: \(problems.prefix(3).joined(separator: "; "))")
            }
            try SQLiteSchema.migrator.migrate(pool)
            meta = try pool.read { db in try StoreMeta.fetch(db) }
        } catch let error as SQLiteStoreError {
            throw error
        } catch let error as DatabaseError {
            throw SQLiteStoreError.cannotOpen(path: path, reason: error.message ?? error.description)
        } catch {
            throw SQLiteStoreError.cannotOpen(path: path, reason: "\(error)")
        }
        logger.info("opened store", metadata: [
            "path": "\(path)",
            "revision": "\(meta.revision)",
            "compactedRevision": "\(meta.compactedRevision)",
        ])
    }

    /// Ends every watch with `SQLiteStoreError.closed`, closes the file and releases its lock.
    public func close() throws {
        hub.close(with: SQLiteStoreError.closed(path: path))
        try pool.close()
        lock.release()
        logger.info("closed store", metadata: ["path": "\(path)"])
    }

    /// The database, or `SQLiteStoreError.closed` once `close()` ran.
    ///
    /// A call racing with `close()` may still get GRDB's "Connection is closed" error instead;
    /// either way it fails cleanly.
    private var database: DatabasePool {
        get throws {
            if let closed = hub.closedError { throw closed }
            return pool
        }
    }

    /// Live watches, for metrics and tests.
    public var watcherCount: Int { hub.subscriberCount }

    // MARK: Reads

    public func currentRevision() async throws -> Int64 {
        try await database.read { db in try StoreMeta.fetch(db).revision }
    }

    public func get<R: Resource>(_ type: R.Type, namespace: String?, name: String) async throws -> R {
        let key = ObjectKey(R.self, namespace: namespace, name: name)
        let data = try await database.read { db in try Self.fetchData(db, key) }
        guard let data else {
            throw StoreError.notFound(kind: R.kind, namespace: key.reportedNamespace, name: name)
        }
        return try Self.decode(R.self, data, key: key)
    }

    public func list<R: Resource>(_ type: R.Type, namespace: String?, selector: LabelSelector) async throws -> (items: [R], revision: Int64) {
        let namespace = R.isNamespaced ? namespace.flatMap { $0.isEmpty ? nil : $0 } : nil
        let (rows, revision) = try await database.read { db in
            var sql = "SELECT namespace, name, labels, data FROM objects WHERE kind = ?"
            var arguments: StatementArguments = [R.kind]
            if let namespace {
                sql += " AND namespace = ?"
                arguments += [namespace]
            }
            sql += " ORDER BY namespace, name"
            let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
            return (rows.map { (namespace: $0[0] as String, name: $0[1] as String, labels: $0[2] as String, data: $0[3] as Data) }, try StoreMeta.fetch(db).revision)
        }
        let decoder = JSONDecoder()
        var items = [R]()
        for row in rows {
            let key = ObjectKey(R.self, namespace: row.namespace, name: row.name)
            // Filter on the small labels column before decoding whole objects.
            if !selector.isEverything {
                let labels = try? decoder.decode([String: String].self, from: Data(row.labels.utf8))
                guard selector.matches(labels) else { continue }
            }
            items.append(try Self.decode(R.self, row.data, key: key))
        }
        return (items, revision)
    }

    // MARK: Writes

    public func create<R: Resource>(_ object: R) async throws -> R {
        let key = try Self.checkedKey(object)
        return try await database.write { [hub, historyLimit] db in
            if try Self.fetchResourceVersion(db, key) != nil {
                throw StoreError.alreadyExists(kind: R.kind, namespace: key.reportedNamespace, name: key.name)
            }
            var meta = try StoreMeta.fetch(db)
            meta.revision += 1
            var stored = object
            stored.metadata.resourceVersion = String(meta.revision)
            let data = try Self.encode(stored)
            try Self.saveObject(db, key, stored, data: data, revision: meta.revision)
            try Self.recordChange(db, &meta, key: key, change: StoreEvent<R>.Change.added, data: data, historyLimit: historyLimit, hub: hub)
            return stored
        }
    }

    public func update<R: Resource>(_ object: R) async throws -> R {
        let key = try Self.checkedKey(object)
        let expected = object.metadata.resourceVersion.flatMap { $0.isEmpty ? nil : $0 }
        return try await database.write { [hub, historyLimit] db in
            guard let current = try Self.fetchResourceVersion(db, key) else {
                throw StoreError.notFound(kind: R.kind, namespace: key.reportedNamespace, name: key.name)
            }
            if let expected, expected != String(current) {
                throw StoreError.conflict(kind: R.kind, namespace: key.reportedNamespace, name: key.name, expected: expected, current: String(current))
            }
            var meta = try StoreMeta.fetch(db)
            meta.revision += 1
            var stored = object
            stored.metadata.resourceVersion = String(meta.revision)
            let data = try Self.encode(stored)
            try Self.saveObject(db, key, stored, data: data, revision: meta.revision)
            try Self.recordChange(db, &meta, key: key, change: StoreEvent<R>.Change.modified, data: data, historyLimit: historyLimit, hub: hub)
            return stored
        }
    }

    public func delete<R: Resource>(_ type: R.Type, namespace: String?, name: String, expectedResourceVersion: String?) async throws -> R {
        let key = ObjectKey(R.self, namespace: namespace, name: name)
        let expected = expectedResourceVersion.flatMap { $0.isEmpty ? nil : $0 }
        return try await database.write { [hub, historyLimit] db in
            guard let row = try Row.fetchOne(
                db,
                sql: "SELECT resource_version, data FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
                arguments: [key.kind, key.namespace, key.name]
            ) else {
                throw StoreError.notFound(kind: R.kind, namespace: key.reportedNamespace, name: name)
            }
            let current: Int64 = row[0]
            if let expected, expected != String(current) {
                throw StoreError.conflict(kind: R.kind, namespace: key.reportedNamespace, name: name, expected: expected, current: String(current))
            }
            var meta = try StoreMeta.fetch(db)
            meta.revision += 1
            var last = try Self.decode(R.self, row[1], key: key)
            last.metadata.resourceVersion = String(meta.revision)
            try db.execute(
                sql: "DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
                arguments: [key.kind, key.namespace, key.name]
            )
            try Self.recordChange(db, &meta, key: key, change: StoreEvent<R>.Change.deleted, data: try Self.encode(last), historyLimit: historyLimit, hub: hub)
            return last
        }
    }

    // MARK: Watch

    public func watch<R: Resource>(_ type: R.Type, namespace: String?, fromRevision revision: Int64) -> AsyncThrowingStream<StoreEvent<R>, any Error> {
        let namespace = R.isNamespaced ? namespace.flatMap { $0.isEmpty ? nil : $0 } : nil
        // Subscribe before the cursor reads any history; see WatchCursor.
        let live = hub.subscribe(kind: R.kind, namespace: namespace)
        let cursor = WatchCursor<R>(reader: pool, hub: hub, namespace: namespace, after: revision, live: live)
        return AsyncThrowingStream { try await cursor.next() }
    }

    // MARK: Rows

    /// Appends the history row, advances the counter, compacts, and publishes after the commit.
    ///
    /// Publishing from `afterNextTransaction` runs on the writer's queue, serialised with all
    /// writes, so watchers see changes in revision order and never see a rolled-back one.
    private static func recordChange<R: Resource>(
        _ db: Database,
        _ meta: inout StoreMeta,
        key: ObjectKey,
        change: StoreEvent<R>.Change,
        data: Data,
        historyLimit: Int,
        hub: WatchHub
    ) throws {
        try db.execute(
            sql: "INSERT INTO history (revision, kind, namespace, name, change, data) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [meta.revision, key.kind, key.namespace, key.name, change.rawValue, data]
        )
        // Compact in batches of about a tenth of the limit, so most writes delete nothing.
        let slack = Int64(min(max(historyLimit / 10, 1), 1_000))
        let floor = meta.revision - Int64(historyLimit)
        if floor - meta.compactedRevision >= slack {
            try db.execute(sql: "DELETE FROM history WHERE revision <= ?", arguments: [floor])
            meta.compactedRevision = floor
        }
        try meta.save(db)
        let record = HistoryRecord(revision: meta.revision, kind: key.kind, namespace: key.namespace, name: key.name, change: change.rawValue, data: data)
        db.afterNextTransaction { _ in hub.publish(record) }
    }

    private static func saveObject<R: Resource>(_ db: Database, _ key: ObjectKey, _ object: R, data: Data, revision: Int64) throws {
        let labels = try JSONEncoder.sorted.encode(object.metadata.labels ?? [:])
        try db.execute(
            sql: """
                INSERT INTO objects (kind, namespace, name, uid, resource_version, labels, data) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (kind, namespace, name) DO UPDATE SET
                    uid = excluded.uid, resource_version = excluded.resource_version,
                    labels = excluded.labels, data = excluded.data
                """,
            arguments: [key.kind, key.namespace, key.name, object.metadata.uid ?? "", revision, String(decoding: labels, as: UTF8.self), data]
        )
    }

    private static func fetchResourceVersion(_ db: Database, _ key: ObjectKey) throws -> Int64? {
        try Int64.fetchOne(
            db,
            sql: "SELECT resource_version FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
            arguments: [key.kind, key.namespace, key.name]
        )
    }

    private static func fetchData(_ db: Database, _ key: ObjectKey) throws -> Data? {
        try Data.fetchOne(
            db,
            sql: "SELECT data FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
            arguments: [key.kind, key.namespace, key.name]
        )
    }

    /// The row key of an object to write, rejecting objects whose scope doesn't fit their kind.
    private static func checkedKey<R: Resource>(_ object: R) throws -> ObjectKey {
        let name = object.metadata.name
        let namespace = object.metadata.namespace ?? ""
        guard !name.isEmpty else {
            throw StoreError.invalidObject("\(R.singular) has no metadata.name")
        }
        if R.isNamespaced, namespace.isEmpty {
            throw StoreError.invalidObject("\(R.singular) \"\(name)\" has no metadata.namespace")
        }
        if !R.isNamespaced, !namespace.isEmpty {
            throw StoreError.invalidObject("\(R.singular) \"\(name)\" is cluster-scoped but has metadata.namespace \"\(namespace)\"")
        }
        return ObjectKey(R.self, namespace: namespace, name: name)
    }

    private static func encode<R: Resource>(_ object: R) throws -> Data {
        do {
            return try ResourceCodec.jsonData(object)
        } catch {
            throw StoreError.invalidObject("\(R.singular) \"\(object.metadata.name)\" cannot be encoded: \(error)")
        }
    }

    private static func decode<R: Resource>(_ type: R.Type, _ data: Data, key: ObjectKey) throws -> R {
        do {
            return try JSONDecoder().decode(R.self, from: data)
        } catch {
            let name = key.namespace.isEmpty ? key.name : "\(key.namespace)/\(key.name)"
            throw StoreError.invalidObject("stored \(R.singular) \(name) cannot be decoded: \(error)")
        }
    }
}

extension JSONEncoder {
    /// Deterministic key order, so equal label sets store equal text.
    fileprivate static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
