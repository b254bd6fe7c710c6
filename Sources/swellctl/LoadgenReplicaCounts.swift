import SwellAPI
import SwellClient
import SwellLoad

/// Replica counts for `swellctl loadgen`, read from the service's status on the API server.
/// Desired falls back to spec.replicas for a service without an autoscaler.
struct LoadgenReplicaCounts: ReplicaCountSource {
    let client: APIClient
    let namespace: String

    func replicaCounts(service: String) async -> (ready: Int?, desired: Int?)? {
        guard let object = try? await client.get(InferenceService.self, namespace: namespace, name: service) else { return nil }
        let status = object.status
        return (status?.readyReplicas ?? 0, status?.desiredReplicas ?? object.spec.replicas)
    }
}
