/// A named priority for services; higher values are scheduled first and may preempt lower ones.
public struct PriorityClass: Resource {
    public static let kind = "PriorityClass"
    public static let plural = "priorityclasses"
    public static let shortNames = ["pc"]
    public static let isNamespaced = false
    /// As in Kubernetes, user-defined classes stay at or below one billion.
    public static let maxUserValue: Int32 = 1_000_000_000

    public enum PreemptionPolicy: String, Sendable, Codable, CaseIterable {
        case preemptLowerPriority = "PreemptLowerPriority"
        case never = "Never"
    }

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var value: Int32
    public var globalDefault: Bool?
    public var preemptionPolicy: PreemptionPolicy?
    public var description: String?

    public init(metadata: ObjectMeta, value: Int32, globalDefault: Bool? = nil, preemptionPolicy: PreemptionPolicy? = nil, description: String? = nil) {
        self.apiVersion = swellAPIVersion
        self.kind = Self.kind
        self.metadata = metadata
        self.value = value
        self.globalDefault = globalDefault
        self.preemptionPolicy = preemptionPolicy
        self.description = description
    }

    public mutating func applyDefaults() {
        globalDefault = globalDefault ?? false
        preemptionPolicy = preemptionPolicy ?? .preemptLowerPriority
    }

    public func validate() -> [FieldError] {
        value > Self.maxUserValue
            ? [.invalid("value", "must be <= \(Self.maxUserValue)")]
            : []
    }
}
