import Foundation
import Logging
import SwellAPI
import Synchronization

/// Records `Event`s about objects through the API, as client-go's event recorder does: a repeat
/// of the same (object, type, reason, message) within the aggregation window bumps `count` and
/// `lastTimestamp` of the existing Event instead of creating a new one.
///
/// Recording never throws and never blocks the caller's reconcile for long: an event that
/// cannot be written is logged and dropped, since events are a record, not state.
public final class EventRecorder: Sendable {
    public let source: String
    private let client: APIClient
    private let logger: Logger
    private let aggregationWindow: Duration
    private let recent = Mutex<[EventIdentity: (name: String, count: Int, first: Timestamp, at: ContinuousClock.Instant)]>([:])

    private struct EventIdentity: Hashable {
        var object: ObjectReference
        var type: Event.EventType
        var reason: String
        var message: String
    }

    /// - Parameter source: the reporting component, e.g. `inferenceservice-controller` or `agent/node-1`.
    public init(client: APIClient, source: String, aggregationWindow: Duration = .seconds(600),
                logger: Logger = Logger(label: "swell.events")) {
        self.client = client
        self.source = source
        self.aggregationWindow = aggregationWindow
        self.logger = logger
    }

    public func normal<R: Resource>(_ object: R, reason: String, message: String) async {
        await record(ObjectReference(object), type: .normal, reason: reason, message: message)
    }

    public func warning<R: Resource>(_ object: R, reason: String, message: String) async {
        await record(ObjectReference(object), type: .warning, reason: reason, message: message)
    }

    public func record(_ object: ObjectReference, type: Event.EventType, reason: String, message: String) async {
        let identity = EventIdentity(object: object, type: type, reason: reason, message: message)
        let now = ContinuousClock.now
        let timestamp = Timestamp.now()
        let existing = recent.withLock { recent -> (name: String, count: Int, first: Timestamp)? in
            guard let entry = recent[identity], now - entry.at < aggregationWindow else { return nil }
            recent[identity] = (entry.name, entry.count + 1, entry.first, now)
            return (entry.name, entry.count + 1, entry.first)
        }
        let namespace = object.namespace ?? "default"
        do {
            if let existing {
                let patch: JSONValue = .object([
                    "count": .int(Int64(existing.count)),
                    "lastTimestamp": .string(timestamp.description),
                ])
                _ = try await client.patch(Event.self, namespace: namespace, name: existing.name, mergePatch: patch)
                return
            }
            // Unique per occurrence, like Kubernetes' `<object>.<hex time>` names.
            let name = "\(object.name).\(String(UInt64(Date().timeIntervalSince1970 * 1e9), radix: 16))"
            let event = Event(metadata: ObjectMeta(name: name, namespace: namespace), involvedObject: object,
                              reason: reason, message: message, type: type, count: 1, firstTimestamp: timestamp,
                              lastTimestamp: timestamp, source: source)
            _ = try await client.create(event)
            recent.withLock { recent in
                recent[identity] = (name, 1, timestamp, now)
                if recent.count > 4096 { recent = recent.filter { now - $0.value.at < aggregationWindow } }
            }
        } catch {
            logger.debug("could not record event", metadata: [
                "object": "\(object.kind)/\(object.name)", "reason": "\(reason)", "error": "\(error)",
            ])
        }
    }
}
