/// Scaling bounds, metrics and behaviour, modelled on the HorizontalPodAutoscaler v2.
public struct AutoscalingSpec: Sendable, Hashable, Codable {
    public var minReplicas: Int?
    public var maxReplicas: Int
    public var metrics: [MetricSpec]?
    public var behavior: ScalingBehavior?
    /// Relative distance from the target inside which no scaling happens (HPA's default 0.1).
    public var tolerance: Double?
    public var scaleToZero: ScaleToZeroSpec?

    public static let defaultTolerance = 0.1

    public init(minReplicas: Int? = nil, maxReplicas: Int, metrics: [MetricSpec]? = nil, behavior: ScalingBehavior? = nil, tolerance: Double? = nil, scaleToZero: ScaleToZeroSpec? = nil) {
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.metrics = metrics
        self.behavior = behavior
        self.tolerance = tolerance
        self.scaleToZero = scaleToZero
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        minReplicas = try container.decodeIfPresent(Int.self, forKey: .minReplicas)
        maxReplicas = try container.decodeIfPresent(Int.self, forKey: .maxReplicas) ?? 0
        metrics = try container.decodeIfPresent([MetricSpec].self, forKey: .metrics)
        behavior = try container.decodeIfPresent(ScalingBehavior.self, forKey: .behavior)
        tolerance = try container.decodeIfPresent(Double.self, forKey: .tolerance)
        scaleToZero = try container.decodeIfPresent(ScaleToZeroSpec.self, forKey: .scaleToZero)
    }

    /// The server's defaults; public so the autoscaler can evaluate a spec built in code the
    /// same way it evaluates a stored one.
    public mutating func applyDefaults() {
        minReplicas = minReplicas ?? 1
        if metrics?.isEmpty ?? true {
            metrics = [MetricSpec(type: .cpu, targetAverageUtilization: 80)]
        }
        var behavior = self.behavior ?? ScalingBehavior()
        behavior.applyDefaults()
        self.behavior = behavior
        tolerance = tolerance ?? Self.defaultTolerance
        var scaleToZero = self.scaleToZero ?? ScaleToZeroSpec()
        scaleToZero.applyDefaults()
        self.scaleToZero = scaleToZero
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        let scaleToZeroEnabled = scaleToZero?.enabled == true
        let minimum = minReplicas ?? 1
        if minimum < 0 || (minimum == 0 && !scaleToZeroEnabled) {
            errors.append(.invalid(path.child("minReplicas").description,
                                   minimum < 0 ? "must be greater than or equal to 0" : "must be greater than or equal to 1 unless scaleToZero.enabled is true"))
        }
        if maxReplicas < 1 {
            errors.append(maxReplicas == 0 ? .required(path.child("maxReplicas").description)
                                           : .invalid(path.child("maxReplicas").description, "must be greater than or equal to 1"))
        } else if maxReplicas < minimum {
            errors.append(.invalid(path.child("maxReplicas").description, "must be >= minReplicas (\(minimum))"))
        }
        for (index, metric) in (metrics ?? []).enumerated() {
            errors += metric.validate(path.child("metrics").index(index))
        }
        errors += behavior?.validate(path.child("behavior")) ?? []
        if let tolerance, !(0...1).contains(tolerance) {
            errors.append(.invalid(path.child("tolerance").description, "must be between 0 and 1"))
        }
        if let idle = scaleToZero?.idleSeconds, idle < 1 {
            errors.append(.invalid(path.child("scaleToZero").child("idleSeconds").description, "must be greater than 0"))
        }
        return errors
    }
}

/// One signal the autoscaler follows; each type takes exactly one target field.
public struct MetricSpec: Sendable, Hashable, Codable {
    public enum MetricType: String, Sendable, Codable, CaseIterable {
        case cpu = "CPU"
        case queueLength = "QueueLength"
        case kvCacheUsage = "KVCacheUsage"
    }

    public var type: MetricType
    /// CPU: percent of the CPU request.
    public var targetAverageUtilization: Int?
    /// QueueLength: waiting requests per replica.
    public var targetPerReplica: Double?
    /// KVCacheUsage: average used fraction, in (0, 1].
    public var targetAverage: Double?

    public init(type: MetricType, targetAverageUtilization: Int? = nil, targetPerReplica: Double? = nil, targetAverage: Double? = nil) {
        self.type = type
        self.targetAverageUtilization = targetAverageUtilization
        self.targetPerReplica = targetPerReplica
        self.targetAverage = targetAverage
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let typeName = try container.decodeIfPresent(String.self, forKey: .type) ?? ""
        guard let type = MetricType(rawValue: typeName) else {
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container,
                debugDescription: typeName.isEmpty ? "Required value"
                    : FieldError.notSupported("", typeName, supported: MetricType.allCases.map(\.rawValue)).message)
        }
        self.type = type
        targetAverageUtilization = try container.decodeIfPresent(Int.self, forKey: .targetAverageUtilization)
        targetPerReplica = try container.decodeIfPresent(Double.self, forKey: .targetPerReplica)
        targetAverage = try container.decodeIfPresent(Double.self, forKey: .targetAverage)
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        let utilization = path.child("targetAverageUtilization").description
        let perReplica = path.child("targetPerReplica").description
        let average = path.child("targetAverage").description
        func forbid(_ present: Bool, _ field: String) {
            if present { errors.append(.forbidden(field, "must not be set when type is \(type.rawValue)")) }
        }
        switch type {
        case .cpu:
            if let value = targetAverageUtilization {
                if value < 1 { errors.append(.invalid(utilization, "must be greater than 0")) }
            } else {
                errors.append(.required(utilization))
            }
            forbid(targetPerReplica != nil, perReplica)
            forbid(targetAverage != nil, average)
        case .queueLength:
            if let value = targetPerReplica {
                if !(value > 0) { errors.append(.invalid(perReplica, "must be greater than 0")) }
            } else {
                errors.append(.required(perReplica))
            }
            forbid(targetAverageUtilization != nil, utilization)
            forbid(targetAverage != nil, average)
        case .kvCacheUsage:
            if let value = targetAverage {
                if !(value > 0 && value <= 1) { errors.append(.invalid(average, "must be greater than 0 and at most 1")) }
            } else {
                errors.append(.required(average))
            }
            forbid(targetAverageUtilization != nil, utilization)
            forbid(targetPerReplica != nil, perReplica)
        }
        return errors
    }
}

public struct ScalingBehavior: Sendable, Hashable, Codable {
    public var scaleUp: ScalingRules?
    public var scaleDown: ScalingRules?

    public init(scaleUp: ScalingRules? = nil, scaleDown: ScalingRules? = nil) {
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
    }

    /// HPA v2 defaults: scale up at once by 100% or 4 pods per 15 s; scale down after 300 s by up to 100% per 15 s.
    mutating func applyDefaults() {
        var up = scaleUp ?? ScalingRules()
        up.stabilizationWindowSeconds = up.stabilizationWindowSeconds ?? 0
        up.selectPolicy = up.selectPolicy ?? .max
        up.policies = up.policies ?? [
            ScalingPolicy(type: .percent, value: 100, periodSeconds: 15),
            ScalingPolicy(type: .pods, value: 4, periodSeconds: 15),
        ]
        scaleUp = up
        var down = scaleDown ?? ScalingRules()
        down.stabilizationWindowSeconds = down.stabilizationWindowSeconds ?? 300
        down.selectPolicy = down.selectPolicy ?? .max
        down.policies = down.policies ?? [ScalingPolicy(type: .percent, value: 100, periodSeconds: 15)]
        scaleDown = down
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        (scaleUp?.validate(path.child("scaleUp")) ?? []) + (scaleDown?.validate(path.child("scaleDown")) ?? [])
    }
}

public struct ScalingRules: Sendable, Hashable, Codable {
    public enum SelectPolicy: String, Sendable, Codable, CaseIterable {
        case max = "Max"
        case min = "Min"
        case disabled = "Disabled"
    }

    public var stabilizationWindowSeconds: Int?
    public var selectPolicy: SelectPolicy?
    public var policies: [ScalingPolicy]?
    /// Tolerance for this direction only, overriding `AutoscalingSpec.tolerance`, as HPA's
    /// `behavior.scaleUp.tolerance`: e.g. 0.05 up and 0.2 down scales up eagerly and down lazily.
    public var tolerance: Double?

    public init(stabilizationWindowSeconds: Int? = nil, selectPolicy: SelectPolicy? = nil, policies: [ScalingPolicy]? = nil, tolerance: Double? = nil) {
        self.stabilizationWindowSeconds = stabilizationWindowSeconds
        self.selectPolicy = selectPolicy
        self.policies = policies
        self.tolerance = tolerance
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        if let window = stabilizationWindowSeconds, !(0...3600).contains(window) {
            errors.append(.invalid(path.child("stabilizationWindowSeconds").description, "must be between 0 and 3600"))
        }
        for (index, policy) in (policies ?? []).enumerated() {
            errors += policy.validate(path.child("policies").index(index))
        }
        if let tolerance, !(0...1).contains(tolerance) {
            errors.append(.invalid(path.child("tolerance").description, "must be between 0 and 1"))
        }
        return errors
    }
}

public struct ScalingPolicy: Sendable, Hashable, Codable {
    public enum PolicyType: String, Sendable, Codable, CaseIterable {
        case pods = "Pods"
        case percent = "Percent"
    }

    public var type: PolicyType
    public var value: Int
    public var periodSeconds: Int

    public init(type: PolicyType, value: Int, periodSeconds: Int) {
        self.type = type
        self.value = value
        self.periodSeconds = periodSeconds
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        if value < 1 { errors.append(.invalid(path.child("value").description, "must be greater than 0")) }
        if !(1...1800).contains(periodSeconds) {
            errors.append(.invalid(path.child("periodSeconds").description, "must be between 1 and 1800"))
        }
        return errors
    }
}

public struct ScaleToZeroSpec: Sendable, Hashable, Codable {
    public var enabled: Bool?
    /// Seconds without requests before the last replica is removed.
    public var idleSeconds: Int?

    public init(enabled: Bool? = nil, idleSeconds: Int? = nil) {
        self.enabled = enabled
        self.idleSeconds = idleSeconds
    }

    mutating func applyDefaults() {
        enabled = enabled ?? false
        idleSeconds = idleSeconds ?? 300
    }
}

/// What the autoscaler saw and decided, for `swellctl describe`.
public struct AutoscalerStatus: Sendable, Hashable, Codable {
    /// The count the autoscaler decided; the InferenceService controller works towards it.
    public var desiredReplicas: Int?
    public var lastScaleTime: Timestamp?
    public var currentMetrics: [MetricValue]?
    public var lastDecision: ScalingDecision?
    /// The most recent decisions, newest last, bounded by the autoscaler.
    public var recentDecisions: [ScalingDecision]?
    /// True while a burst (the short-window queue over twice its target) holds the service.
    public var burst: Bool?

    public init(desiredReplicas: Int? = nil, lastScaleTime: Timestamp? = nil, currentMetrics: [MetricValue]? = nil,
                lastDecision: ScalingDecision? = nil, recentDecisions: [ScalingDecision]? = nil, burst: Bool? = nil) {
        self.desiredReplicas = desiredReplicas
        self.lastScaleTime = lastScaleTime
        self.currentMetrics = currentMetrics
        self.lastDecision = lastDecision
        self.recentDecisions = recentDecisions
        self.burst = burst
    }
}

public struct MetricValue: Sendable, Hashable, Codable {
    public var type: MetricSpec.MetricType
    public var current: Double?
    public var target: Double?
    public var proposedReplicas: Int?

    public init(type: MetricSpec.MetricType, current: Double? = nil, target: Double? = nil, proposedReplicas: Int? = nil) {
        self.type = type
        self.current = current
        self.target = target
        self.proposedReplicas = proposedReplicas
    }
}

public struct ScalingDecision: Sendable, Hashable, Codable {
    public var time: Timestamp
    public var fromReplicas: Int
    public var toReplicas: Int
    /// The rule that limited or produced the result (`ScaleUpPolicy`, `MaxReplicas`, `Tolerance`…).
    public var reason: String
    public var message: String

    public init(time: Timestamp, fromReplicas: Int, toReplicas: Int, reason: String, message: String) {
        self.time = time
        self.fromReplicas = fromReplicas
        self.toReplicas = toReplicas
        self.reason = reason
        self.message = message
    }
}
