/// Metadata every stored object carries, as in Kubernetes' `metav1.ObjectMeta`.
public struct ObjectMeta: Sendable, Hashable, Codable {
    public var name: String
    /// A prefix for a server-generated name when `name` is empty.
    public var generateName: String?
    /// Nil for cluster-scoped kinds; defaulted to `default` for namespaced kinds.
    public var namespace: String?
    public var uid: String?
    /// Opaque to clients; the store's revision of the last write to this object.
    public var resourceVersion: String?
    /// Increments when the desired state (everything but metadata and status) changes.
    public var generation: Int64?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var creationTimestamp: Timestamp?
    public var deletionTimestamp: Timestamp?
    public var deletionGracePeriodSeconds: Int64?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?

    public init(
        name: String = "",
        namespace: String? = nil,
        labels: [String: String]? = nil,
        annotations: [String: String]? = nil,
        ownerReferences: [OwnerReference]? = nil,
        finalizers: [String]? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.ownerReferences = ownerReferences
        self.finalizers = finalizers
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        generateName = try container.decodeIfPresent(String.self, forKey: .generateName)
        namespace = try container.decodeIfPresent(String.self, forKey: .namespace)
        uid = try container.decodeIfPresent(String.self, forKey: .uid)
        resourceVersion = try container.decodeIfPresent(String.self, forKey: .resourceVersion)
        generation = try container.decodeIfPresent(Int64.self, forKey: .generation)
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels)
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
        creationTimestamp = try container.decodeIfPresent(Timestamp.self, forKey: .creationTimestamp)
        deletionTimestamp = try container.decodeIfPresent(Timestamp.self, forKey: .deletionTimestamp)
        deletionGracePeriodSeconds = try container.decodeIfPresent(Int64.self, forKey: .deletionGracePeriodSeconds)
        ownerReferences = try container.decodeIfPresent([OwnerReference].self, forKey: .ownerReferences)
        finalizers = try container.decodeIfPresent([String].self, forKey: .finalizers)
    }

    /// `namespace/name` for namespaced objects, `name` otherwise; the key work queues use.
    public var key: String {
        if let namespace, !namespace.isEmpty { return "\(namespace)/\(name)" }
        return name
    }

    /// The store revision encoded in `resourceVersion`, if it is one.
    public var revision: Int64? { resourceVersion.flatMap(Int64.init) }

    public var isBeingDeleted: Bool { deletionTimestamp != nil }

    /// The owner that manages this object (`controller: true`), if any.
    public var controllerReference: OwnerReference? {
        ownerReferences?.first { $0.controller == true }
    }
}

/// Points from a dependent to the object that owns it; deleting the owner garbage-collects it.
public struct OwnerReference: Sendable, Hashable, Codable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String = swellAPIVersion, kind: String, name: String, uid: String, controller: Bool? = true, blockOwnerDeletion: Bool? = true) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

/// The API group and version of every Swell kind.
public let swellAPIVersion = "swell.dev/v1"
