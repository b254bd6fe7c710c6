import SwellAPI
import Testing
@testable import SwellControllers

@Suite("Node fit")
struct NodeFitTests {
    static func node(_ name: String, cpu: String, memory: String, ready: Bool = true, unschedulable: Bool = false) -> Node {
        var node = Node(metadata: ObjectMeta(name: name))
        node.spec = NodeSpec(unschedulable: unschedulable)
        node.status = NodeStatus(capacity: ["cpu": try! Quantity(cpu), "memory": try! Quantity(memory)],
                                 allocatable: ["cpu": try! Quantity(cpu), "memory": try! Quantity(memory)],
                                 conditions: [Condition(type: "Ready", status: ready ? .true : .false)])
        return node
    }

    static func replica(_ name: String, cpu: String?, memory: String? = nil, node: String? = nil) -> Replica {
        var requests: [String: Quantity] = [:]
        if let cpu { requests["cpu"] = try! Quantity(cpu) }
        if let memory { requests["memory"] = try! Quantity(memory) }
        return Replica(metadata: ObjectMeta(name: name, namespace: "default"),
                       spec: ReplicaSpec(serviceName: "chat", nodeName: node, model: ModelSpec(path: "/m.gguf"),
                                         resources: ResourceRequirements(requests: requests)))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var nodes: [Node]
        var bound: [Replica]
        var replica: Replica
        var expected: NodeFit.Decision
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "fits the only node", nodes: [node("n1", cpu: "2", memory: "4Gi")], bound: [],
             replica: replica("r", cpu: "1", memory: "1Gi"), expected: .bind(node: "n1")),
        Case(name: "no requests always fit", nodes: [node("n1", cpu: "1", memory: "1Gi")],
             bound: [replica("a", cpu: "1", node: "n1")], replica: replica("r", cpu: nil), expected: .bind(node: "n1")),
        Case(name: "bound replicas take their share", nodes: [node("n1", cpu: "2", memory: "4Gi")],
             bound: [replica("a", cpu: "1500m", node: "n1")], replica: replica("r", cpu: "1"),
             expected: .unschedulable(message: "0/1 nodes are available: 1 insufficient cpu (requested 1, most free 500m)")),
        Case(name: "spreads to the least allocated node",
             nodes: [node("n1", cpu: "4", memory: "8Gi"), node("n2", cpu: "4", memory: "8Gi")],
             bound: [replica("a", cpu: "2", node: "n1")], replica: replica("r", cpu: "1"), expected: .bind(node: "n2")),
        Case(name: "skips nodes that are not ready or cordoned",
             nodes: [node("n1", cpu: "4", memory: "8Gi", ready: false), node("n2", cpu: "4", memory: "8Gi", unschedulable: true)],
             bound: [], replica: replica("r", cpu: "1"),
             expected: .unschedulable(message: "0/2 nodes are available: 1 not ready, 1 unschedulable")),
        Case(name: "memory counts too", nodes: [node("n1", cpu: "4", memory: "1Gi")], bound: [],
             replica: replica("r", cpu: "1", memory: "2Gi"),
             expected: .unschedulable(message: "0/1 nodes are available: 1 insufficient memory (requested 2048Mi)")),
        Case(name: "no nodes at all", nodes: [], bound: [], replica: replica("r", cpu: "1"),
             expected: .unschedulable(message: "0/0 nodes are available: no nodes registered")),
    ]

    @Test(arguments: cases)
    func decide(_ item: Case) {
        #expect(NodeFit.decide(item.replica, nodes: item.nodes, used: NodeFit.used(by: item.bound)) == item.expected)
    }

    @Test("finished replicas give their share back")
    func finishedReplicasFreeCapacity() {
        var done = Self.replica("a", cpu: "2", node: "n1")
        done.status = ReplicaStatus(phase: .failed)
        #expect(NodeFit.used(by: [done])["n1"] == nil)
    }
}
