/// How the router spreads a service's requests over its replicas, and how long and how many it
/// holds when every replica is busy (or none is Ready yet).
public struct RoutingSpec: Sendable, Hashable, Codable {
    public enum Policy: String, Sendable, Codable, CaseIterable {
        case prefixAffinity = "prefix-affinity"
        case roundRobin = "round-robin"
        case leastOutstanding = "least-outstanding"
    }

    public var policy: Policy?
    /// Requests the router has in flight on one replica before it queues the next ones.
    public var maxConcurrencyPerReplica: Int?
    /// prefix-affinity: a replica takes at most `ceil(loadFactor × (in flight + 1) / replicas)`
    /// requests before its affinity traffic spills to the next replica in its ranking (which
    /// also gives way to a replica starting fewer answers). Raise it to trade balance for more
    /// cache hits; 1 keeps replicas within about one request of each other.
    public var loadFactor: Double?
    /// prefix-affinity: how many bytes of a completion prompt form its affinity key (chat
    /// requests are keyed by their system prompt and first user message, cut to this length).
    public var affinityPrefixBytes: Int?
    public var queue: RouterQueueSpec?

    public static let defaultMaxConcurrencyPerReplica = 8
    public static let defaultLoadFactor = 1.25
    public static let defaultAffinityPrefixBytes = 4096

    public init(policy: Policy? = nil, maxConcurrencyPerReplica: Int? = nil, loadFactor: Double? = nil,
                affinityPrefixBytes: Int? = nil, queue: RouterQueueSpec? = nil) {
        self.policy = policy
        self.maxConcurrencyPerReplica = maxConcurrencyPerReplica
        self.loadFactor = loadFactor
        self.affinityPrefixBytes = affinityPrefixBytes
        self.queue = queue
    }

    mutating func applyDefaults() {
        policy = policy ?? .prefixAffinity
        maxConcurrencyPerReplica = maxConcurrencyPerReplica ?? Self.defaultMaxConcurrencyPerReplica
        loadFactor = loadFactor ?? Self.defaultLoadFactor
        affinityPrefixBytes = affinityPrefixBytes ?? Self.defaultAffinityPrefixBytes
        var queue = self.queue ?? RouterQueueSpec()
        queue.applyDefaults()
        self.queue = queue
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        if let value = maxConcurrencyPerReplica, !(1...4096).contains(value) {
            errors.append(.invalid(path.child("maxConcurrencyPerReplica").description, "must be between 1 and 4096"))
        }
        if let value = loadFactor, !(value >= 1 && value <= 100) {
            errors.append(.invalid(path.child("loadFactor").description, "must be between 1 and 100"))
        }
        if let value = affinityPrefixBytes, !(16...(1 << 20)).contains(value) {
            errors.append(.invalid(path.child("affinityPrefixBytes").description, "must be between 16 and 1048576"))
        }
        errors += queue?.validate(path.child("queue")) ?? []
        return errors
    }
}

/// The router's per-class queue of one service.
public struct RouterQueueSpec: Sendable, Hashable, Codable {
    /// Longest a request may wait for a replica (including a scale from zero) before it gets 503.
    public var timeoutSeconds: Int?
    /// Requests each class may have waiting; over it, the request gets 429 with Retry-After.
    public var limits: [RequestPriority: Int]?

    public static let defaultTimeoutSeconds = 60
    public static let defaultLimits: [RequestPriority: Int] = [.critical: 256, .standard: 128, .batch: 64]

    public init(timeoutSeconds: Int? = nil, limits: [RequestPriority: Int]? = nil) {
        self.timeoutSeconds = timeoutSeconds
        self.limits = limits
    }

    private enum CodingKeys: String, CodingKey {
        case timeoutSeconds, limits
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        timeoutSeconds = try container.decodeIfPresent(Int.self, forKey: .timeoutSeconds)
        if let named = try container.decodeIfPresent([String: Int].self, forKey: .limits) {
            var limits: [RequestPriority: Int] = [:]
            for (name, value) in named {
                guard let priority = RequestPriority(parsing: name), priority.description == name else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .limits, in: container,
                        debugDescription: FieldError.notSupported("", name, supported: RequestPriority.allCases.reversed().map(\.description)).message)
                }
                limits[priority] = value
            }
            self.limits = limits
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(timeoutSeconds, forKey: .timeoutSeconds)
        if let limits {
            try container.encode(Dictionary(uniqueKeysWithValues: limits.map { ($0.key.description, $0.value) }), forKey: .limits)
        }
    }

    mutating func applyDefaults() {
        timeoutSeconds = timeoutSeconds ?? Self.defaultTimeoutSeconds
        limits = Self.defaultLimits.merging(limits ?? [:]) { _, given in given }
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        if let timeoutSeconds, !(1...3600).contains(timeoutSeconds) {
            errors.append(.invalid(path.child("timeoutSeconds").description, "must be between 1 and 3600"))
        }
        for (priority, limit) in (limits ?? [:]).sorted(by: { $0.key > $1.key }) where limit < 0 {
            errors.append(.invalid(path.child("limits").child(priority.description).description, "must be greater than or equal to 0"))
        }
        return errors
    }

    public func limit(for priority: RequestPriority) -> Int {
        limits?[priority] ?? Self.defaultLimits[priority] ?? 0
    }
}
