/// A record of something that happened to an object, shown by `swellctl describe` and `get events`.
public struct Event: Resource {
    public static let kind = "Event"
    public static let plural = "events"
    public static let shortNames = ["ev"]
    public static let isNamespaced = true

    public enum EventType: String, Sendable, Codable, CaseIterable {
        case normal = "Normal"
        case warning = "Warning"
    }

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference
    public var reason: String
    public var message: String
    public var type: EventType?
    public var count: Int?
    public var firstTimestamp: Timestamp?
    public var lastTimestamp: Timestamp?
    /// The component that reported it (`inferenceservice-controller`, `agent/node-1`).
    public var source: String?

    public init(metadata: ObjectMeta, involvedObject: ObjectReference, reason: String, message: String, type: EventType = .normal, count: Int? = 1, firstTimestamp: Timestamp? = nil, lastTimestamp: Timestamp? = nil, source: String? = nil) {
        self.apiVersion = swellAPIVersion
        self.kind = Self.kind
        self.metadata = metadata
        self.involvedObject = involvedObject
        self.reason = reason
        self.message = message
        self.type = type
        self.count = count
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.source = source
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion) ?? ""
        kind = try container.decodeIfPresent(String.self, forKey: .kind) ?? ""
        metadata = try container.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
        involvedObject = try container.decodeIfPresent(ObjectReference.self, forKey: .involvedObject) ?? ObjectReference(kind: "", name: "")
        reason = try container.decodeIfPresent(String.self, forKey: .reason) ?? ""
        message = try container.decodeIfPresent(String.self, forKey: .message) ?? ""
        type = try container.decodeIfPresent(EventType.self, forKey: .type)
        count = try container.decodeIfPresent(Int.self, forKey: .count)
        firstTimestamp = try container.decodeIfPresent(Timestamp.self, forKey: .firstTimestamp)
        lastTimestamp = try container.decodeIfPresent(Timestamp.self, forKey: .lastTimestamp)
        source = try container.decodeIfPresent(String.self, forKey: .source)
    }

    public mutating func applyDefaults() {
        if metadata.namespace == nil { metadata.namespace = involvedObject.namespace ?? "default" }
        type = type ?? .normal
        count = count ?? 1
    }

    public func validate() -> [FieldError] {
        var errors = [FieldError]()
        if involvedObject.kind.isEmpty { errors.append(.required("involvedObject.kind")) }
        if involvedObject.name.isEmpty { errors.append(.required("involvedObject.name")) }
        if reason.isEmpty { errors.append(.required("reason")) }
        return errors
    }
}

/// Names one object, for events and references between objects.
public struct ObjectReference: Sendable, Hashable, Codable {
    public var kind: String
    public var namespace: String?
    public var name: String
    public var uid: String?

    public init(kind: String, namespace: String? = nil, name: String, uid: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
    }

    public init<R: Resource>(_ object: R) {
        self.init(kind: R.kind, namespace: object.metadata.namespace, name: object.metadata.name, uid: object.metadata.uid)
    }
}
