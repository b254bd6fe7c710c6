/// Which model file a replica serves.
public struct ModelSpec: Sendable, Hashable, Codable {
    /// Path of a GGUF file on the node.
    public var path: String
    /// Context window in tokens; nil means the model's own.
    public var contextLength: Int?

    public init(path: String, contextLength: Int? = nil) {
        self.path = path
        self.contextLength = contextLength
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decodeIfPresent(String.self, forKey: .path) ?? ""
        contextLength = try container.decodeIfPresent(Int.self, forKey: .contextLength)
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        if self.path.isEmpty { errors.append(.required(path.child("path").description)) }
        if let contextLength, contextLength < 1 {
            errors.append(.invalid(path.child("contextLength").description, "must be greater than 0"))
        }
        return errors
    }
}

/// Settings passed to `swell engine serve` for each replica.
public struct EngineSpec: Sendable, Hashable, Codable {
    public var threads: Int?
    public var kvCacheTokens: Int?
    public var blockSize: Int?
    public var maxBatchTokens: Int?

    public static let defaultThreads = 1
    public static let defaultKVCacheTokens = 16384
    public static let defaultBlockSize = 16
    public static let defaultMaxBatchTokens = 512

    public init(threads: Int? = nil, kvCacheTokens: Int? = nil, blockSize: Int? = nil, maxBatchTokens: Int? = nil) {
        self.threads = threads
        self.kvCacheTokens = kvCacheTokens
        self.blockSize = blockSize
        self.maxBatchTokens = maxBatchTokens
    }

    mutating func applyDefaults() {
        threads = threads ?? Self.defaultThreads
        kvCacheTokens = kvCacheTokens ?? Self.defaultKVCacheTokens
        blockSize = blockSize ?? Self.defaultBlockSize
        maxBatchTokens = maxBatchTokens ?? Self.defaultMaxBatchTokens
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        if let threads, !(1...256).contains(threads) {
            errors.append(.invalid(path.child("threads").description, "must be between 1 and 256"))
        }
        if let blockSize, !(1...256).contains(blockSize) || blockSize & (blockSize - 1) != 0 {
            errors.append(.invalid(path.child("blockSize").description, "must be a power of two between 1 and 256"))
        }
        if let kvCacheTokens {
            let blockSize = blockSize ?? Self.defaultBlockSize
            if kvCacheTokens < blockSize {
                errors.append(.invalid(path.child("kvCacheTokens").description, "must be >= blockSize (\(blockSize))"))
            }
        }
        if let maxBatchTokens, maxBatchTokens < 1 {
            errors.append(.invalid(path.child("maxBatchTokens").description, "must be greater than 0"))
        }
        return errors
    }
}

/// CPU and memory a replica asks for (`requests`) and may not exceed (`limits`).
public struct ResourceRequirements: Sendable, Hashable, Codable {
    public var requests: [String: Quantity]?
    public var limits: [String: Quantity]?

    public static let supportedResources = ["cpu", "memory"]

    public init(requests: [String: Quantity]? = nil, limits: [String: Quantity]? = nil) {
        self.requests = requests
        self.limits = limits
    }

    public var cpuRequest: Quantity? { requests?["cpu"] ?? limits?["cpu"] }
    public var memoryRequest: Quantity? { requests?["memory"] ?? limits?["memory"] }

    /// The Kubernetes QoS class these requirements give a replica. As in Kubernetes only
    /// positive quantities count (a zero is as good as none), and a limit without a request
    /// implies an equal request (as defaulting makes it).
    public var qosClass: QoSClass {
        func positive(_ values: [String: Quantity]?) -> [String: Quantity] {
            (values ?? [:]).filter { Self.supportedResources.contains($0.key) && $0.value.value > 0 }
        }
        let limits = positive(self.limits)
        var requests = positive(self.requests)
        for (name, limit) in limits where self.requests?[name] == nil {
            requests[name] = limit
        }
        if requests.isEmpty && limits.isEmpty { return .bestEffort }
        let guaranteed = Self.supportedResources.allSatisfy { name in
            guard let limit = limits[name], let request = requests[name] else { return false }
            return request.value == limit.value
        }
        return guaranteed ? .guaranteed : .burstable
    }

    mutating func applyDefaults() {
        // As in Kubernetes, a limit without a request implies an equal request.
        guard let limits else { return }
        var requests = self.requests ?? [:]
        for (name, limit) in limits where requests[name] == nil {
            requests[name] = limit
        }
        self.requests = requests
    }

    func validate(_ path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        for (section, values) in [("requests", requests), ("limits", limits)] {
            for (name, quantity) in (values ?? [:]).sorted(by: { $0.key < $1.key }) {
                let field = path.child(section).key(name).description
                if !Self.supportedResources.contains(name) {
                    errors.append(.notSupported(field, name, supported: Self.supportedResources))
                } else if quantity.value < 0 {
                    errors.append(.invalid(field, "Invalid value: \"\(quantity)\": must be greater than or equal to 0"))
                }
            }
        }
        for name in Self.supportedResources {
            if let request = requests?[name], let limit = limits?[name], request > limit {
                errors.append(.invalid(path.child("requests").key(name).description,
                                       "Invalid value: \"\(request)\": must be less than or equal to \(name) limit of \(limit)"))
            }
        }
        return errors
    }
}

/// Quality-of-service class, derived from resources exactly as Kubernetes derives it.
public enum QoSClass: String, Sendable, Codable, CaseIterable {
    case guaranteed = "Guaranteed"
    case burstable = "Burstable"
    case bestEffort = "BestEffort"
}

/// An absolute count or a percentage (`1`, `"25%"`), as in `intstr.IntOrString`.
public enum IntOrPercent: Sendable, Hashable, Codable, CustomStringConvertible {
    case count(Int)
    case percent(Int)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let count = try? container.decode(Int.self) {
            self = .count(count)
            return
        }
        let text = try container.decode(String.self)
        if text.hasSuffix("%"), let percent = Int(text.dropLast()) {
            self = .percent(percent)
        } else if let count = Int(text) {
            self = .count(count)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be an integer or a percentage like \"25%\" (got \"\(text)\")")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .count(let count): try container.encode(count)
        case .percent(let percent): try container.encode("\(percent)%")
        }
    }

    public var description: String {
        switch self {
        case .count(let count): "\(count)"
        case .percent(let percent): "\(percent)%"
        }
    }

    /// Resolves against a total, rounding up (surge) or down (unavailable) as Deployments do.
    public func resolve(total: Int, roundUp: Bool) -> Int {
        switch self {
        case .count(let count): return count
        case .percent(let percent):
            let scaled = total * percent
            return roundUp ? (scaled + 99) / 100 : scaled / 100
        }
    }

    var isNegative: Bool {
        switch self {
        case .count(let count): count < 0
        case .percent(let percent): percent < 0
        }
    }

    var isZero: Bool {
        switch self {
        case .count(let count): count == 0
        case .percent(let percent): percent == 0
        }
    }
}
