/// A model served by a set of engine replicas that the control plane keeps running and scales.
public struct InferenceService: Resource {
    public static let kind = "InferenceService"
    public static let plural = "inferenceservices"
    public static let shortNames = ["isvc"]
    public static let isNamespaced = true
    /// Service names become model names and replica name prefixes, so they are DNS labels.
    public static var nameRule: Validators.NameRule { .label }

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: InferenceServiceSpec
    public var status: InferenceServiceStatus?

    public init(metadata: ObjectMeta, spec: InferenceServiceSpec, status: InferenceServiceStatus? = nil) {
        self.apiVersion = swellAPIVersion
        self.kind = Self.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public mutating func applyDefaults() {
        if metadata.namespace == nil { metadata.namespace = "default" }
        spec.applyDefaults()
    }

    public func validate() -> [FieldError] {
        spec.validate(FieldPath("spec"))
    }

    public mutating func copyStatus(from other: InferenceService) {
        status = other.status
    }
}

public struct InferenceServiceSpec: Sendable, Hashable, Codable {
    public var model: ModelSpec
    public var engine: EngineSpec?
    public var resources: ResourceRequirements?
    public var priorityClassName: String?
    /// The replica count when `autoscaling` is absent.
    public var replicas: Int?
    public var autoscaling: AutoscalingSpec?
    public var rollout: RolloutSpec?
    public var routing: RoutingSpec?

    public init(model: ModelSpec, engine: EngineSpec? = nil, resources: ResourceRequirements? = nil, priorityClassName: String? = nil, replicas: Int? = nil, autoscaling: AutoscalingSpec? = nil, rollout: RolloutSpec? = nil, routing: RoutingSpec? = nil) {
        self.model = model
        self.engine = engine
        self.resources = resources
        self.priorityClassName = priorityClassName
        self.replicas = replicas
        self.autoscaling = autoscaling
        self.rollout = rollout
        self.routing = routing
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decodeIfPresent(ModelSpec.self, forKey: .model) ?? ModelSpec(path: "")
        engine = try container.decodeIfPresent(EngineSpec.self, forKey: .engine)
        resources = try container.decodeIfPresent(ResourceRequirements.self, forKey: .resources)
        priorityClassName = try container.decodeIfPresent(String.self, forKey: .priorityClassName)
        replicas = try container.decodeIfPresent(Int.self, forKey: .replicas)
        autoscaling = try container.decodeIfPresent(AutoscalingSpec.self, forKey: .autoscaling)
        rollout = try container.decodeIfPresent(RolloutSpec.self, forKey: .rollout)
        routing = try container.decodeIfPresent(RoutingSpec.self, forKey: .routing)
    }

    mutating func applyDefaults() {
        var engine = self.engine ?? EngineSpec()
        engine.applyDefaults()
        self.engine = engine
        resources?.applyDefaults()
        if autoscaling == nil, replicas == nil { replicas = 1 }
        autoscaling?.applyDefaults()
        var rollout = self.rollout ?? RolloutSpec()
        rollout.applyDefaults()
        self.rollout = rollout
        var routing = self.routing ?? RoutingSpec()
        routing.applyDefaults()
        self.routing = routing
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = model.validate(path.child("model"))
        errors += engine?.validate(path.child("engine")) ?? []
        errors += resources?.validate(path.child("resources")) ?? []
        if let name = priorityClassName, let problem = Validators.dns1123SubdomainProblem(name) {
            errors.append(.invalid(path.child("priorityClassName").description, "Invalid value: \"\(name)\": \(problem)"))
        }
        if let replicas, replicas < 0 {
            errors.append(.invalid(path.child("replicas").description, "must be greater than or equal to 0"))
        }
        errors += autoscaling?.validate(path.child("autoscaling")) ?? []
        errors += rollout?.validate(path.child("rollout")) ?? []
        errors += routing?.validate(path.child("routing")) ?? []
        return errors
    }
}

/// How new replicas replace old ones when the engine, model or resources change.
public struct RolloutSpec: Sendable, Hashable, Codable {
    public var maxSurge: IntOrPercent?
    public var maxUnavailable: IntOrPercent?

    public init(maxSurge: IntOrPercent? = nil, maxUnavailable: IntOrPercent? = nil) {
        self.maxSurge = maxSurge
        self.maxUnavailable = maxUnavailable
    }

    mutating func applyDefaults() {
        maxSurge = maxSurge ?? .count(1)
        maxUnavailable = maxUnavailable ?? .count(0)
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        if maxSurge?.isNegative == true {
            errors.append(.invalid(path.child("maxSurge").description, "must be greater than or equal to 0"))
        }
        if maxUnavailable?.isNegative == true {
            errors.append(.invalid(path.child("maxUnavailable").description, "must be greater than or equal to 0"))
        }
        if maxSurge?.isZero == true, maxUnavailable?.isZero == true {
            errors.append(.invalid(path.child("maxUnavailable").description, "may not be 0 when maxSurge is 0"))
        }
        return errors
    }
}

public struct InferenceServiceStatus: Sendable, Hashable, Codable {
    public var observedGeneration: Int64?
    /// Replicas that exist (any phase but terminal).
    public var replicas: Int?
    public var readyReplicas: Int?
    /// The count the controller is working towards (spec.replicas or the autoscaler's decision).
    public var desiredReplicas: Int?
    public var updatedReplicas: Int?
    /// The router URL that serves this model.
    public var endpoint: String?
    public var conditions: [Condition]?
    public var autoscaler: AutoscalerStatus?

    public init(observedGeneration: Int64? = nil, replicas: Int? = nil, readyReplicas: Int? = nil, desiredReplicas: Int? = nil, updatedReplicas: Int? = nil, endpoint: String? = nil, conditions: [Condition]? = nil, autoscaler: AutoscalerStatus? = nil) {
        self.observedGeneration = observedGeneration
        self.replicas = replicas
        self.readyReplicas = readyReplicas
        self.desiredReplicas = desiredReplicas
        self.updatedReplicas = updatedReplicas
        self.endpoint = endpoint
        self.conditions = conditions
        self.autoscaler = autoscaler
    }
}
