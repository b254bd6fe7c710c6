/// One line of a watch stream: `{"type":"ADDED","object":{…}}`.
public struct WatchEvent<Object: Codable & Sendable>: Sendable, Codable {
    public enum EventType: String, Sendable, Codable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
        /// Carries only a resourceVersion: progress without a change.
        case bookmark = "BOOKMARK"
        /// The object is a `Status` (for example 410 Expired when the revision is compacted away).
        case error = "ERROR"
    }

    public var type: EventType
    public var object: Object

    public init(type: EventType, object: Object) {
        self.type = type
        self.object = object
    }
}

extension WatchEvent: Equatable where Object: Equatable {}
