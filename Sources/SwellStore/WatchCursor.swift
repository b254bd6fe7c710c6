import Foundation
import GRDB
import SwellAPI

/// Produces one watch's events: first the history after the start revision, page by page, then
/// the live feed, skipping live records the replay already delivered.
///
/// The live subscription is registered before the first history page is read. A change
/// committed before that read is in the history the read sees; a change committed after it is
/// published after its commit, so it reaches the already-registered subscription. Records in
/// both places are dropped by revision, so the hand-off has neither gaps nor duplicates.
///
/// `@unchecked Sendable`: the mutable state is touched only from `next()`, and an
/// `AsyncThrowingStream(unfolding:)` is consumed by one iterator at a time, so calls never overlap.
final class WatchCursor<R: Resource>: @unchecked Sendable {
    /// Rows read per history query; bounds memory while replaying a long history.
    static var pageSize: Int { 256 }

    private let reader: any DatabaseReader
    private let hub: WatchHub
    private let key: (kind: String, namespace: String?)
    private var delivered: Int64
    private var page: [HistoryRecord] = []
    private var pageIndex = 0
    private var historyExhausted = false
    private var live: WatchHub.Stream.AsyncIterator
    private let decoder = JSONDecoder()

    init(reader: any DatabaseReader, hub: WatchHub, namespace: String?, after revision: Int64, live: WatchHub.Stream) {
        self.reader = reader
        self.hub = hub
        self.key = (R.kind, namespace)
        self.delivered = revision
        self.live = live.makeAsyncIterator()
    }

    func next() async throws -> StoreEvent<R>? {
        while let record = try await nextRecord() {
            guard record.revision > delivered else { continue }
            delivered = record.revision
            return try decode(record)
        }
        return nil
    }

    private func nextRecord() async throws -> HistoryRecord? {
        while !historyExhausted || pageIndex < page.count {
            if pageIndex < page.count {
                defer { pageIndex += 1 }
                return page[pageIndex]
            }
            page = try await readPage(after: delivered)
            pageIndex = 0
            historyExhausted = page.count < Self.pageSize
        }
        return try await live.next()
    }

    private func readPage(after revision: Int64) async throws -> [HistoryRecord] {
        let (kind, namespace) = key
        let limit = Self.pageSize
        if let closed = hub.closedError { throw closed }
        return try await reader.read { db in
            // Read in the same transaction as the rows, so compaction can't slip in between.
            let meta = try StoreMeta.fetch(db)
            if revision < meta.compactedRevision {
                throw StoreError.expired(requested: revision, oldestAvailable: meta.compactedRevision)
            }
            var sql = "SELECT revision, kind, namespace, name, change, data FROM history WHERE kind = ? AND revision > ?"
            var arguments: StatementArguments = [kind, revision]
            if let namespace {
                sql += " AND namespace = ?"
                arguments += [namespace]
            }
            sql += " ORDER BY revision LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                HistoryRecord(revision: row[0], kind: row[1], namespace: row[2], name: row[3], change: row[4], data: row[5])
            }
        }
    }

    private func decode(_ record: HistoryRecord) throws -> StoreEvent<R> {
        guard let change = StoreEvent<R>.Change(rawValue: record.change) else {
            throw StoreError.invalidObject("history revision \(record.revision) has unknown change type \"\(record.change)\"")
        }
        do {
            return StoreEvent(change: change, object: try decoder.decode(R.self, from: record.data), revision: record.revision)
        } catch {
            let name = record.namespace.isEmpty ? record.name : "\(record.namespace)/\(record.name)"
            throw StoreError.invalidObject("history revision \(record.revision) (\(R.singular) \(name)) cannot be decoded: \(error)")
        }
    }
}
