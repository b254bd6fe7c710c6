/// A host whose agent runs replicas; cluster-scoped.
public struct Node: Resource {
    public static let kind = "Node"
    public static let plural = "nodes"
    public static let shortNames = ["no"]
    public static let isNamespaced = false

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: NodeSpec?
    public var status: NodeStatus?

    public init(metadata: ObjectMeta, spec: NodeSpec? = nil, status: NodeStatus? = nil) {
        self.apiVersion = swellAPIVersion
        self.kind = Self.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public mutating func applyDefaults() {
        var spec = self.spec ?? NodeSpec()
        spec.unschedulable = spec.unschedulable ?? false
        self.spec = spec
    }

    public func validate() -> [FieldError] { [] }

    public mutating func copyStatus(from other: Node) {
        status = other.status
    }
}

public struct NodeSpec: Sendable, Hashable, Codable {
    /// Cordoned: no new replicas are scheduled here.
    public var unschedulable: Bool?

    public init(unschedulable: Bool? = nil) {
        self.unschedulable = unschedulable
    }
}

public struct NodeStatus: Sendable, Hashable, Codable {
    /// Total `cpu` and `memory` of the host.
    public var capacity: [String: Quantity]?
    /// What replicas may request: capacity minus what is reserved for the system.
    public var allocatable: [String: Quantity]?
    public var conditions: [Condition]?
    public var heartbeatTime: Timestamp?
    /// The address replicas on this node listen on (their endpoints are `http://address:port`).
    public var address: String?
    public var agentVersion: String?

    public init(capacity: [String: Quantity]? = nil, allocatable: [String: Quantity]? = nil, conditions: [Condition]? = nil, heartbeatTime: Timestamp? = nil, address: String? = nil, agentVersion: String? = nil) {
        self.capacity = capacity
        self.allocatable = allocatable
        self.conditions = conditions
        self.heartbeatTime = heartbeatTime
        self.address = address
        self.agentVersion = agentVersion
    }
}
