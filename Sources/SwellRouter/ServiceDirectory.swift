import SwellAPI

/// Which InferenceService a request's `model` names, and which of its replicas may take requests.
enum ServiceDirectory {
    /// `name` (the default namespace) or `namespace/name` → the service's cache key.
    static func key(forModel model: String) -> String {
        model.contains("/") ? model : "default/\(model)"
    }

    /// The model id a service is listed under: its name in the default namespace, else
    /// `namespace/name`.
    static func modelID(of service: InferenceService) -> String {
        let namespace = service.metadata.namespace ?? "default"
        return namespace == "default" ? service.metadata.name : "\(namespace)/\(service.metadata.name)"
    }

    /// The cache key of the service a replica belongs to.
    static func serviceKey(of replica: Replica) -> String {
        "\(replica.metadata.namespace ?? "default")/\(replica.spec.serviceName)"
    }

    /// Replica name → engine URL of every replica of `service` that is Ready and not being
    /// deleted. A replica being deleted is draining (the agent drains it before stopping it),
    /// so it gets nothing new.
    static func routableEndpoints(of service: InferenceService, among replicas: [Replica]) -> [String: String] {
        var endpoints: [String: String] = [:]
        for replica in replicas where replica.metadata.namespace == service.metadata.namespace
            && replica.spec.serviceName == service.metadata.name && !replica.metadata.isBeingDeleted {
            if let uid = service.metadata.uid, let owner = replica.metadata.controllerReference, owner.uid != uid { continue }
            guard replica.status?.phase == .ready, let endpoint = replica.status?.endpoint else { continue }
            endpoints[replica.metadata.name] = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        }
        return endpoints
    }
}
