import SwellAPI
import Testing
@testable import SwellServer

@Suite("Replica discovery for Prometheus")
struct ReplicaDiscoveryTests {
    static func replica(_ name: String, phase: ReplicaStatus.Phase?, port: Int?, node: String? = "n1") -> Replica {
        Replica(metadata: ObjectMeta(name: name, namespace: "team"),
                spec: ReplicaSpec(serviceName: "chat", nodeName: node, model: ModelSpec(path: "/m.gguf")),
                status: ReplicaStatus(phase: phase, port: port))
    }

    @Test("engines that listen are targets on their node's host, labelled; the rest are left out")
    func targets() {
        let nodes = [
            Node(metadata: ObjectMeta(name: "n1"), status: NodeStatus(address: "http://10.0.0.7:9100")),
            Node(metadata: ObjectMeta(name: "n2")),
        ]
        let groups = ReplicaDiscovery.targetGroups(replicas: [
            Self.replica("b-ready", phase: .ready, port: 4001),
            Self.replica("a-starting", phase: .starting, port: 4002, node: "n2"),
            Self.replica("c-draining", phase: .draining, port: 4003),
            Self.replica("d-pending", phase: .pending, port: nil, node: nil),
            Self.replica("e-failed", phase: .failed, port: 4005),
            Self.replica("f-noport", phase: .ready, port: nil),
        ], nodes: nodes)
        #expect(groups == [
            .init(targets: ["127.0.0.1:4002"], labels: ["namespace": "team", "service": "chat", "replica": "a-starting", "node": "n2"]),
            .init(targets: ["10.0.0.7:4001"], labels: ["namespace": "team", "service": "chat", "replica": "b-ready", "node": "n1"]),
            .init(targets: ["10.0.0.7:4003"], labels: ["namespace": "team", "service": "chat", "replica": "c-draining", "node": "n1"]),
        ])
    }
}
