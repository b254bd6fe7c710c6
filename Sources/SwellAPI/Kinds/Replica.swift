/// One running engine process serving a service's model: the Pod analogue.
public struct Replica: Resource {
    public static let kind = "Replica"
    public static let plural = "replicas"
    public static let shortNames = ["rep"]
    public static let isNamespaced = true
    public static var nameRule: Validators.NameRule { .label }

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: ReplicaSpec
    public var status: ReplicaStatus?

    public init(metadata: ObjectMeta, spec: ReplicaSpec, status: ReplicaStatus? = nil) {
        self.apiVersion = swellAPIVersion
        self.kind = Self.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public mutating func applyDefaults() {
        if metadata.namespace == nil { metadata.namespace = "default" }
        var engine = spec.engine ?? EngineSpec()
        engine.applyDefaults()
        spec.engine = engine
        spec.resources?.applyDefaults()
    }

    public func validate() -> [FieldError] {
        let path = FieldPath("spec")
        var errors = [FieldError]()
        if spec.serviceName.isEmpty { errors.append(.required(path.child("serviceName").description)) }
        errors += spec.model.validate(path.child("model"))
        errors += spec.engine?.validate(path.child("engine")) ?? []
        errors += spec.resources?.validate(path.child("resources")) ?? []
        if let port = spec.port, !(1...65535).contains(port) {
            errors.append(.invalid(path.child("port").description, "must be between 1 and 65535"))
        }
        return errors
    }

    public mutating func copyStatus(from other: Replica) {
        status = other.status
    }

    /// The QoS class its resources give it.
    public var qosClass: QoSClass { (spec.resources ?? ResourceRequirements()).qosClass }
}

public struct ReplicaSpec: Sendable, Hashable, Codable {
    /// The InferenceService this replica serves.
    public var serviceName: String
    /// Set by the scheduler; the agent of that node runs it.
    public var nodeName: String?
    public var model: ModelSpec
    public var engine: EngineSpec?
    public var resources: ResourceRequirements?
    public var priorityClassName: String?
    /// Resolved from the priority class when the replica is created.
    public var priority: Int32?
    /// Copied from the priority class with `priority`: `Never` keeps this replica from
    /// preempting others when it fits nowhere.
    public var preemptionPolicy: PriorityClass.PreemptionPolicy?
    /// A fixed port; nil lets the agent pick a free one.
    public var port: Int?
    /// Hash of the service's template that produced this replica, for rolling updates.
    public var templateHash: String?

    public init(serviceName: String, nodeName: String? = nil, model: ModelSpec, engine: EngineSpec? = nil, resources: ResourceRequirements? = nil, priorityClassName: String? = nil, priority: Int32? = nil, preemptionPolicy: PriorityClass.PreemptionPolicy? = nil, port: Int? = nil, templateHash: String? = nil) {
        self.serviceName = serviceName
        self.nodeName = nodeName
        self.model = model
        self.engine = engine
        self.resources = resources
        self.priorityClassName = priorityClassName
        self.priority = priority
        self.preemptionPolicy = preemptionPolicy
        self.port = port
        self.templateHash = templateHash
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        serviceName = try container.decodeIfPresent(String.self, forKey: .serviceName) ?? ""
        nodeName = try container.decodeIfPresent(String.self, forKey: .nodeName)
        model = try container.decodeIfPresent(ModelSpec.self, forKey: .model) ?? ModelSpec(path: "")
        engine = try container.decodeIfPresent(EngineSpec.self, forKey: .engine)
        resources = try container.decodeIfPresent(ResourceRequirements.self, forKey: .resources)
        priorityClassName = try container.decodeIfPresent(String.self, forKey: .priorityClassName)
        priority = try container.decodeIfPresent(Int32.self, forKey: .priority)
        preemptionPolicy = try container.decodeIfPresent(PriorityClass.PreemptionPolicy.self, forKey: .preemptionPolicy)
        port = try container.decodeIfPresent(Int.self, forKey: .port)
        templateHash = try container.decodeIfPresent(String.self, forKey: .templateHash)
    }
}

public struct ReplicaStatus: Sendable, Hashable, Codable {
    public enum Phase: String, Sendable, Codable, CaseIterable {
        case pending = "Pending"
        case starting = "Starting"
        case ready = "Ready"
        case draining = "Draining"
        case succeeded = "Succeeded"
        case failed = "Failed"
    }

    public var phase: Phase?
    public var qosClass: QoSClass?
    public var pid: Int?
    public var port: Int?
    /// `http://host:port` of the engine once it listens.
    public var endpoint: String?
    public var restarts: Int?
    public var reason: String?
    public var message: String?
    public var startTime: Timestamp?
    public var conditions: [Condition]?
    public var cpuSeconds: Double?
    public var memoryBytes: Int64?
    /// How the agent enforces `qosClass` on the running engine.
    public var qos: QoSEnforcement?
    /// The node the scheduler is freeing for this replica by preempting lower-priority ones; it
    /// binds once their requests are released (Kubernetes' `status.nominatedNodeName`).
    public var nominatedNodeName: String?

    public init(phase: Phase? = nil, qosClass: QoSClass? = nil, pid: Int? = nil, port: Int? = nil, endpoint: String? = nil, restarts: Int? = nil, reason: String? = nil, message: String? = nil, startTime: Timestamp? = nil, conditions: [Condition]? = nil, cpuSeconds: Double? = nil, memoryBytes: Int64? = nil, qos: QoSEnforcement? = nil, nominatedNodeName: String? = nil) {
        self.phase = phase
        self.qosClass = qosClass
        self.pid = pid
        self.port = port
        self.endpoint = endpoint
        self.restarts = restarts
        self.reason = reason
        self.message = message
        self.startTime = startTime
        self.conditions = conditions
        self.cpuSeconds = cpuSeconds
        self.memoryBytes = memoryBytes
        self.qos = qos
        self.nominatedNodeName = nominatedNodeName
    }
}

/// What keeps a replica's engine within its QoS class on its node.
public enum QoSMechanism: String, Sendable, Codable, CaseIterable {
    /// Its own cgroup in the unified hierarchy: `cpu.max`, `cpu.weight`, `memory.max`.
    case cgroupV2 = "cgroup-v2"
    /// Its own cgroup in the v1 `cpu` and `memory` hierarchies: `cpu.cfs_quota_us`, `cpu.shares`,
    /// `memory.limit_in_bytes`.
    case cgroupV1 = "cgroup-v1"
    /// A nice value by class, where no cgroup is writable.
    case nice
    /// The agent was told not to enforce anything.
    case off
}

/// How the node's agent enforces a replica's QoS class on its engine process, as it did it.
public struct QoSEnforcement: Sendable, Hashable, Codable {
    public var mechanism: QoSMechanism
    /// The cgroup directories the engine runs in: one per v1 controller, or one v2 cgroup.
    public var cgroups: [String]?
    /// What was set, by file name: `cpu.shares: "512"`, `oom_score_adj: "-997"`, `nice: "5"`.
    public var settings: [String: String]?
    /// Why a weaker mechanism than cgroups was used, or what could not be set.
    public var message: String?

    public init(mechanism: QoSMechanism, cgroups: [String]? = nil, settings: [String: String]? = nil, message: String? = nil) {
        self.mechanism = mechanism
        self.cgroups = cgroups
        self.settings = settings
        self.message = message
    }
}
