/// An observation of one aspect of an object's state, as in `metav1.Condition`.
public struct Condition: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Codable {
        case `true` = "True"
        case `false` = "False"
        case unknown = "Unknown"
    }

    public var type: String
    public var status: Status
    public var reason: String?
    public var message: String?
    public var lastTransitionTime: Timestamp?
    public var observedGeneration: Int64?

    public init(type: String, status: Status, reason: String? = nil, message: String? = nil, lastTransitionTime: Timestamp? = nil, observedGeneration: Int64? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
        self.observedGeneration = observedGeneration
    }
}

extension Array where Element == Condition {
    public subscript(type type: String) -> Condition? {
        first { $0.type == type }
    }

    /// Sets a condition, keeping `lastTransitionTime` unless the status actually changes.
    public mutating func set(_ condition: Condition, now: Timestamp = .now()) {
        var updated = condition
        if let index = firstIndex(where: { $0.type == condition.type }) {
            let existing = self[index]
            updated.lastTransitionTime = existing.status == condition.status
                ? (existing.lastTransitionTime ?? now) : (condition.lastTransitionTime ?? now)
            self[index] = updated
        } else {
            updated.lastTransitionTime = condition.lastTransitionTime ?? now
            append(updated)
        }
    }
}
