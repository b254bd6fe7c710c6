import Foundation
import SwellAPI
import SwellStore

/// The byte lines of one watch response: initial ADDED events, then translated store events,
/// ending at the timeout, at shutdown, or with an ERROR event when the store gives up.
struct WatchLines<R: Resource>: Sendable {
    let events: AsyncThrowingStream<StoreEvent<R>, any Error>
    let initial: [R]
    let filter: WatchFilter<R>
    let timeout: Duration
    let watches: WatchRegistry

    func stream() -> AsyncStream<[UInt8]> {
        let (lines, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .unbounded)
        let events = self.events
        let initial = self.initial
        var filter = self.filter
        let forwarder = Task {
            do {
                for object in initial {
                    continuation.yield(try Self.line(WatchEvent(type: .added, object: object)))
                }
                for try await event in events {
                    if let translated = filter.translate(event) {
                        continuation.yield(try Self.line(translated))
                    }
                }
            } catch is CancellationError {
            } catch {
                let status: Status = if case StoreError.expired = error {
                    .gone(error.localizedDescription == "" ? "\(error)" : "\(error)")
                } else {
                    .internalError("\(error)")
                }
                if let line = try? Self.line(WatchEvent(type: .error, object: status)) {
                    continuation.yield(line)
                }
            }
            continuation.finish()
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            continuation.finish()
        }
        let id = watches.register { continuation.finish() }
        let watches = self.watches
        continuation.onTermination = { _ in
            forwarder.cancel()
            timer.cancel()
            if let id { watches.unregister(id) }
        }
        return lines
    }

    static func line(_ event: WatchEvent<some Codable & Sendable>) throws -> [UInt8] {
        Array(try ResourceCodec.jsonData(event)) + [UInt8(ascii: "\n")]
    }
}
