import Foundation
import SwellAPI
import SwellStore

/// `GET /sd/replicas`: every replica with an engine port, in Prometheus' HTTP service-discovery
/// format (`[{"targets": ["host:port"], "labels": {...}}]`), so a real Prometheus scrapes each
/// engine's `/metrics` with `http_sd_configs` and no other setup.
enum ReplicaDiscovery {
    struct TargetGroup: Encodable, Equatable {
        var targets: [String]
        var labels: [String: String]
    }

    /// Replicas whose engine listens (Starting, Ready or Draining with a port) on their node's
    /// host — the host of the node agent's address, loopback when it has none.
    static func targetGroups(replicas: [Replica], nodes: [Node]) -> [TargetGroup] {
        let hosts = Dictionary(nodes.map { node in
            (node.metadata.name, node.status?.address.flatMap { URL(string: $0)?.host } ?? "127.0.0.1")
        }, uniquingKeysWith: { first, _ in first })
        return replicas.compactMap { replica -> TargetGroup? in
            guard let status = replica.status, let port = status.port,
                  [.starting, .ready, .draining].contains(status.phase) else { return nil }
            let node = replica.spec.nodeName ?? ""
            let host = hosts[node] ?? "127.0.0.1"
            return TargetGroup(targets: ["\(host.contains(":") ? "[\(host)]" : host):\(port)"], labels: [
                "namespace": replica.metadata.namespace ?? "default",
                "service": replica.spec.serviceName,
                "replica": replica.metadata.name,
                "node": node,
            ])
        }.sorted { $0.labels["replica"] ?? "" < $1.labels["replica"] ?? "" }
    }
}
