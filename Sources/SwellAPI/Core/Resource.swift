/// A kind of object the API serves and the store keeps.
///
/// Conforming types are plain values: defaulting and validation are pure functions, so the
/// API server, the CLI and tests all apply exactly the same rules.
public protocol Resource: Codable, Sendable, Hashable {
    /// `InferenceService`
    static var kind: String { get }
    /// `inferenceservices`, the path segment in the REST API.
    static var plural: String { get }
    /// Extra names `swellctl` accepts (`isvc`).
    static var shortNames: [String] { get }
    static var isNamespaced: Bool { get }
    /// Which DNS rule names of this kind follow.
    static var nameRule: Validators.NameRule { get }

    var apiVersion: String { get set }
    var kind: String { get set }
    var metadata: ObjectMeta { get set }

    /// Fills every unset field that has a default; idempotent.
    mutating func applyDefaults()

    /// Every problem with the object, each with its field path. Empty when valid.
    func validate() -> [FieldError]

    /// Replaces this object's status with `other`'s; a no-op for kinds without status.
    ///
    /// The API server uses it to give `PUT /status` and `PUT` their separate meanings.
    mutating func copyStatus(from other: Self)
}

extension Resource {
    public static var singular: String { kind.lowercased() }

    public static var shortNames: [String] { [] }

    public mutating func copyStatus(from other: Self) {}

    /// `inferenceservice/chat`, the form kubectl prints.
    public var reference: String { "\(Self.singular)/\(metadata.name)" }

    /// True when the desired state differs; generation increments only then.
    public func specDiffers(from other: Self) -> Bool {
        var left = self
        left.metadata = other.metadata
        left.copyStatus(from: other)
        return left != other
    }

    /// Validates metadata (name, namespace, labels, annotations) and then the kind's own fields.
    public func validateAll() -> [FieldError] {
        var errors = [FieldError]()
        if apiVersion != swellAPIVersion {
            errors.append(.notSupported("apiVersion", apiVersion, supported: [swellAPIVersion]))
        }
        if kind != Self.kind {
            errors.append(.notSupported("kind", kind, supported: [Self.kind]))
        }
        errors += Validators.objectMeta(metadata, namespaced: Self.isNamespaced, nameRule: Self.nameRule, path: FieldPath("metadata"))
        errors += validate()
        return errors
    }

    /// Throws a `ValidationError` with every problem, or returns normally when valid.
    public func checkValid() throws(ValidationError) {
        let errors = validateAll()
        if !errors.isEmpty {
            throw ValidationError(kind: Self.kind, name: metadata.name, errors: errors)
        }
    }

    public static var nameRule: Validators.NameRule { .subdomain }
}

/// All kinds the API serves, in the order `swellctl get all` lists them.
public enum ResourceKinds {
    public static let all: [any Resource.Type] = [
        InferenceService.self,
        Replica.self,
        PriorityClass.self,
        Node.self,
        Event.self,
    ]

    /// Looks a kind up by kind name, plural, singular or short name, case-insensitively.
    public static func named(_ name: String) -> (any Resource.Type)? {
        let wanted = name.lowercased()
        return all.first { type in
            type.kind.lowercased() == wanted || type.plural == wanted || type.singular == wanted
                || type.shortNames.contains(wanted)
        }
    }
}
