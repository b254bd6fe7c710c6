import GRDB
import SwellAPI

/// The tables of a store file and the migrations that create them.
///
/// - `objects`: the current state, one row per object, keyed by kind, namespace ('' for
///   cluster-scoped kinds) and name.
/// - `history`: one row per write, keyed by revision; compacted to the newest rows.
/// - `meta`: one row holding the revision counter and the compaction point. The counter lives
///   here rather than being derived from `MAX(history.revision)` so that it never goes backwards,
///   even when compaction or a deletion has removed the newest rows that mentioned it.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE objects (
                    kind TEXT NOT NULL,
                    namespace TEXT NOT NULL,
                    name TEXT NOT NULL,
                    uid TEXT NOT NULL,
                    resource_version INTEGER NOT NULL,
                    labels TEXT NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (kind, namespace, name)
                ) WITHOUT ROWID;

                CREATE TABLE history (
                    revision INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL,
                    namespace TEXT NOT NULL,
                    name TEXT NOT NULL,
                    change TEXT NOT NULL CHECK (change IN ('ADDED', 'MODIFIED', 'DELETED')),
                    data BLOB NOT NULL
                );
                CREATE INDEX history_by_kind ON history (kind, revision);

                CREATE TABLE meta (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    revision INTEGER NOT NULL,
                    compacted_revision INTEGER NOT NULL
                );
                INSERT INTO meta (id, revision, compacted_revision) VALUES (1, 0, 0);
                """)
        }
        return migrator
    }
}

/// The store-wide counters kept in the `meta` row.
struct StoreMeta: Sendable, Equatable {
    /// The newest revision ever written.
    var revision: Int64
    /// Every history row at or below this revision has been deleted; watches must start here or later.
    var compactedRevision: Int64

    static func fetch(_ db: Database) throws -> StoreMeta {
        guard let row = try Row.fetchOne(db, sql: "SELECT revision, compacted_revision FROM meta WHERE id = 1") else {
            throw StoreError.invalidObject("store database has no meta row; the file was not created by swell")
        }
        return StoreMeta(revision: row[0], compactedRevision: row[1])
    }

    func save(_ db: Database) throws {
        try db.execute(
            sql: "UPDATE meta SET revision = ?, compacted_revision = ? WHERE id = 1",
            arguments: [revision, compactedRevision]
        )
    }
}

/// Where an object lives in the `objects` table.
struct ObjectKey: Sendable, Hashable {
    var kind: String
    /// '' for cluster-scoped kinds.
    var namespace: String
    var name: String

    /// Cluster-scoped kinds ignore any namespace they are given, as the Kubernetes API does.
    init<R: Resource>(_ type: R.Type, namespace: String?, name: String) {
        self.kind = R.kind
        self.namespace = R.isNamespaced ? (namespace ?? "") : ""
        self.name = name
    }

    /// The namespace as `StoreError` reports it.
    var reportedNamespace: String? { namespace.isEmpty ? nil : namespace }
}
