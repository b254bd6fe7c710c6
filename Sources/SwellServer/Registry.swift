import Foundation
import SwellAPI
import SwellStore

/// The write semantics of one kind, as the Kubernetes registry implements them: server-owned
/// metadata, defaulting, validation, generation, the status subresource and finalizers.
///
/// Everything here is independent of HTTP so the rules can be tested and reused by in-process
/// callers.
struct Registry<R: Resource>: Sendable {
    let store: any ResourceStore
    var clock: @Sendable () -> Timestamp = { .now() }

    // MARK: Reads

    func get(namespace: String?, name: String) async throws -> R {
        try await store.get(R.self, namespace: namespace, name: name)
    }

    func list(namespace: String?, selector: LabelSelector) async throws -> ResourceList<R> {
        let (items, revision) = try await store.list(R.self, namespace: namespace, selector: selector)
        return ResourceList(items: items, resourceVersion: String(revision))
    }

    // MARK: Writes

    func create(_ body: JSONValue, namespace: String?) async throws -> R {
        var object = try decode(body, namespace: namespace)
        if object.metadata.name.isEmpty, let prefix = object.metadata.generateName {
            object.metadata.name = prefix + Self.randomSuffix()
        }
        object.applyDefaults()
        object.metadata.uid = UUID().uuidString.lowercased()
        object.metadata.creationTimestamp = clock()
        object.metadata.generation = 1
        object.metadata.resourceVersion = nil
        object.metadata.deletionTimestamp = nil
        object.metadata.deletionGracePeriodSeconds = nil
        try object.checkValid()
        return try await store.create(object)
    }

    /// PUT: replaces the desired state; the stored status and server-owned metadata stay.
    func update(_ body: JSONValue, namespace: String?, name: String) async throws -> R {
        let desired = try decode(body, namespace: namespace)
        try checkName(desired, name: name)
        guard let resourceVersion = desired.metadata.resourceVersion, !resourceVersion.isEmpty else {
            throw Status.invalid(ValidationError(kind: R.kind, name: name, errors: [
                .invalid("metadata.resourceVersion", "must be specified for an update"),
            ]))
        }
        let current = try await get(namespace: namespace, name: name)
        return try await replace(current, with: desired, statusOnly: false)
    }

    /// PUT on `/status`: only the status of the body is taken.
    func updateStatus(_ body: JSONValue, namespace: String?, name: String) async throws -> R {
        let desired = try decode(body, namespace: namespace)
        try checkName(desired, name: name)
        let current = try await get(namespace: namespace, name: name)
        return try await replace(current, with: desired, statusOnly: true)
    }

    /// PATCH (RFC 7386 merge patch), retried on conflicts unless the patch pins a resourceVersion.
    func patch(_ patch: JSONValue, namespace: String?, name: String, statusOnly: Bool) async throws -> R {
        guard case .object = patch else {
            throw Status.badRequest("a merge patch must be a JSON object")
        }
        let pinned = patch["metadata"]?["resourceVersion"]?.stringValue
        return try await retryingConflicts(pinned == nil) {
            let current = try await get(namespace: namespace, name: name)
            var merged = try JSONValue(encoding: current).merging(patch: patch)
            if pinned == nil, case .object(var fields) = merged, case .object(var metadata)? = fields["metadata"] {
                metadata["resourceVersion"] = current.metadata.resourceVersion.map(JSONValue.string) ?? .null
                fields["metadata"] = .object(metadata)
                merged = .object(fields)
            }
            let desired = try decode(merged, namespace: namespace)
            try checkName(desired, name: name)
            return try await replace(current, with: desired, statusOnly: statusOnly)
        }
    }

    /// DELETE: objects with finalizers are only marked; the last finalizer's removal deletes them.
    /// Retried on conflicts unless the caller pins a resourceVersion: a controller writing the
    /// object's status between the read and the write is no reason to refuse the delete.
    func delete(namespace: String?, name: String, expectedResourceVersion: String? = nil) async throws -> R {
        try await retryingConflicts(expectedResourceVersion == nil) {
            var current = try await get(namespace: namespace, name: name)
            if let expectedResourceVersion, expectedResourceVersion != current.metadata.resourceVersion {
                throw Status.conflict(kind: R.kind, name: name, message: "the resourceVersion in the precondition (\(expectedResourceVersion)) does not match the object (\(current.metadata.resourceVersion ?? ""))")
            }
            if !(current.metadata.finalizers ?? []).isEmpty {
                if current.metadata.deletionTimestamp != nil { return current }
                current.metadata.deletionTimestamp = clock()
                current.metadata.deletionGracePeriodSeconds = 0
                return try await store.update(current)
            }
            return try await store.delete(R.self, namespace: namespace, name: name,
                                          expectedResourceVersion: current.metadata.resourceVersion)
        }
    }

    /// A read-modify-write, run again (up to 5 times in all) when the store reports that the
    /// object changed between the read and the write, unless `retrying` is false: then the
    /// caller's pinned resourceVersion decides, and the conflict is the answer.
    private func retryingConflicts<T>(_ retrying: Bool, _ body: () async throws -> T) async throws -> T {
        var attempts = 0
        while true {
            attempts += 1
            do {
                return try await body()
            } catch StoreError.conflict where retrying && attempts < 5 {
                continue
            }
        }
    }

    // MARK: Rules

    /// Merges `desired` into `current` according to what the endpoint may change, then writes it.
    private func replace(_ current: R, with desired: R, statusOnly: Bool) async throws -> R {
        var next: R
        if statusOnly {
            next = current
            next.copyStatus(from: desired)
        } else {
            next = desired
            next.copyStatus(from: current)
            next.applyDefaults()
            next.metadata.uid = current.metadata.uid
            next.metadata.creationTimestamp = current.metadata.creationTimestamp
            next.metadata.deletionTimestamp = current.metadata.deletionTimestamp
            next.metadata.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds
            next.metadata.generateName = current.metadata.generateName
            let generation = current.metadata.generation ?? 1
            next.metadata.generation = next.specDiffers(from: current) ? generation + 1 : generation
            if let uid = desired.metadata.uid, !uid.isEmpty, uid != current.metadata.uid {
                throw Status.conflict(kind: R.kind, name: current.metadata.name, message: "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current.metadata.uid ?? "")")
            }
            try next.checkValid()
        }
        next.metadata.resourceVersion = desired.metadata.resourceVersion
        if let expected = desired.metadata.resourceVersion, !expected.isEmpty, expected != current.metadata.resourceVersion {
            throw StoreError.conflict(kind: R.kind, namespace: current.metadata.namespace, name: current.metadata.name, expected: expected, current: current.metadata.resourceVersion ?? "")
        }

        var unchanged = next
        unchanged.metadata.resourceVersion = current.metadata.resourceVersion
        if unchanged == current {
            return current  // a no-op write is not a write: no new resourceVersion, no watch event
        }
        if next.metadata.deletionTimestamp != nil, (next.metadata.finalizers ?? []).isEmpty {
            return try await store.delete(R.self, namespace: current.metadata.namespace, name: current.metadata.name,
                                          expectedResourceVersion: current.metadata.resourceVersion)
        }
        return try await store.update(next)
    }

    /// Strict decoding with the URL's namespace; the body may omit apiVersion and kind.
    func decode(_ body: JSONValue, namespace: String?) throws -> R {
        guard case .object(var fields) = body else {
            throw Status.badRequest("the request body must be a JSON object, not \(body.typeName)")
        }
        if let kind = fields["kind"]?.stringValue, kind != R.kind {
            throw Status.badRequest("the kind \"\(kind)\" in the body does not match the URL, which addresses \(R.kind)")
        }
        if fields["kind"] == nil { fields["kind"] = .string(R.kind) }
        if fields["apiVersion"] == nil { fields["apiVersion"] = .string(swellAPIVersion) }
        if fields["metadata"] == nil { fields["metadata"] = .object([:]) }
        var object: R
        do {
            object = try ResourceCodec.decode(R.self, from: .object(fields))
        } catch {
            throw StatusMapping.decodingFailure(error)
        }
        if R.isNamespaced {
            if let bodyNamespace = object.metadata.namespace, !bodyNamespace.isEmpty, bodyNamespace != namespace {
                throw Status.badRequest("the namespace of the provided object (\(bodyNamespace)) does not match the namespace sent on the request (\(namespace ?? ""))")
            }
            object.metadata.namespace = namespace
        }
        return object
    }

    private func checkName(_ object: R, name: String) throws {
        if object.metadata.name != name {
            throw Status.badRequest("the name of the object (\(object.metadata.name)) does not match the name on the URL (\(name))")
        }
    }

    private static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }
}
