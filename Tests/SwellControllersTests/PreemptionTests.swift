import SwellAPI
import Testing
@testable import SwellControllers

@Suite("Preemption: victim selection")
struct PreemptionTests {
    /// A bound replica: `name:priority:cpu` on `node`, created at `age` (smaller = older).
    static func bound(_ name: String, priority: Int32, cpu: String, node: String = "n1", age: Int64 = 0,
                      deleting: Bool = false) -> Replica {
        var replica = NodeFitTests.replica(name, cpu: cpu, node: node)
        replica.spec.priority = priority
        replica.metadata.creationTimestamp = Timestamp(secondsSince1970: 1_000 + age)
        if deleting { replica.metadata.deletionTimestamp = Timestamp(secondsSince1970: 5_000) }
        return replica
    }

    static func preemptor(priority: Int32, cpu: String, memory: String? = nil, policy: PriorityClass.PreemptionPolicy? = nil) -> Replica {
        var replica = NodeFitTests.replica("p", cpu: cpu, memory: memory)
        replica.spec.priority = priority
        replica.spec.preemptionPolicy = policy
        return replica
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var nodes: [Node]
        var bound: [Replica]
        var preemptor: Replica
        var reserved: [String: NodeFit.Capacity] = [:]
        var expected: Preemption.Candidate?
        var testDescription: String { name }
    }

    static let small = NodeFitTests.node("n1", cpu: "2", memory: "8Gi")

    static let cases: [Case] = [
        Case(name: "evicts one lower-priority replica, the newest of equals", nodes: [small],
             bound: [bound("old", priority: 100, cpu: "1", age: 1), bound("new", priority: 100, cpu: "1", age: 2)],
             preemptor: preemptor(priority: 1000, cpu: "1"),
             expected: .init(node: "n1", victims: ["default/new"])),
        Case(name: "never a replica of equal priority", nodes: [small],
             bound: [bound("peer", priority: 1000, cpu: "1"), bound("low", priority: 100, cpu: "1")],
             preemptor: preemptor(priority: 1000, cpu: "1"),
             expected: .init(node: "n1", victims: ["default/low"])),
        Case(name: "equal priority only: no preemption", nodes: [small],
             bound: [bound("a", priority: 1000, cpu: "1"), bound("b", priority: 1000, cpu: "1")],
             preemptor: preemptor(priority: 1000, cpu: "1"), expected: nil),
        Case(name: "preemptionPolicy Never: no preemption", nodes: [small],
             bound: [bound("low", priority: 100, cpu: "2")],
             preemptor: preemptor(priority: 1000, cpu: "1", policy: .never), expected: nil),
        Case(name: "evicting every lower replica would not make room: no preemption", nodes: [small],
             bound: [bound("high", priority: 2000, cpu: "1500m"), bound("low", priority: 100, cpu: "500m")],
             preemptor: preemptor(priority: 1000, cpu: "1"), expected: nil),
        Case(name: "the fewest victims, not simply the lowest: one big replica instead of two small",
             nodes: [NodeFitTests.node("n1", cpu: "4", memory: "8Gi")],
             bound: [bound("a", priority: 10, cpu: "1"), bound("b", priority: 20, cpu: "2"), bound("c", priority: 30, cpu: "1")],
             preemptor: preemptor(priority: 1000, cpu: "2"),
             expected: .init(node: "n1", victims: ["default/b"])),
        Case(name: "several victims when one is not enough, lowest first", nodes: [small],
             bound: [bound("a", priority: 20, cpu: "1"), bound("b", priority: 10, cpu: "1")],
             preemptor: preemptor(priority: 1000, cpu: "2"),
             expected: .init(node: "n1", victims: ["default/b", "default/a"])),
        Case(name: "the node whose highest victim has the lowest priority",
             nodes: [small, NodeFitTests.node("n2", cpu: "2", memory: "8Gi")],
             bound: [bound("mid", priority: 500, cpu: "2", node: "n1"), bound("low", priority: 100, cpu: "2", node: "n2")],
             preemptor: preemptor(priority: 1000, cpu: "1"),
             expected: .init(node: "n2", victims: ["default/low"])),
        Case(name: "then the fewest victims (lowest priority sum)",
             nodes: [small, NodeFitTests.node("n2", cpu: "2", memory: "8Gi")],
             bound: [bound("x", priority: 100, cpu: "1", node: "n1"), bound("y", priority: 100, cpu: "1", node: "n1"),
                     bound("z", priority: 100, cpu: "2", node: "n2")],
             preemptor: preemptor(priority: 1000, cpu: "2"),
             expected: .init(node: "n2", victims: ["default/z"])),
        Case(name: "then the node whose victims started latest",
             nodes: [small, NodeFitTests.node("n2", cpu: "2", memory: "8Gi")],
             bound: [bound("older", priority: 100, cpu: "2", node: "n1", age: 1), bound("younger", priority: 100, cpu: "2", node: "n2", age: 9)],
             preemptor: preemptor(priority: 1000, cpu: "1"),
             expected: .init(node: "n2", victims: ["default/younger"])),
        Case(name: "replicas already leaving make the room: no new victims", nodes: [small],
             bound: [bound("leaving", priority: 100, cpu: "2", deleting: true)],
             preemptor: preemptor(priority: 1000, cpu: "1"),
             expected: .init(node: "n1", victims: [])),
        Case(name: "a nominated replica's reservation counts against the room", nodes: [small],
             bound: [bound("low", priority: 100, cpu: "1")],
             preemptor: preemptor(priority: 1000, cpu: "1"),
             reserved: ["n1": NodeFit.Capacity(cpuMillis: 1000, memoryBytes: 0)],
             expected: .init(node: "n1", victims: ["default/low"])),
        Case(name: "nodes that are not ready or cordoned are no candidates",
             nodes: [NodeFitTests.node("n1", cpu: "2", memory: "8Gi", ready: false),
                     NodeFitTests.node("n2", cpu: "2", memory: "8Gi", unschedulable: true)],
             bound: [bound("a", priority: 1, cpu: "2", node: "n1"), bound("b", priority: 1, cpu: "2", node: "n2")],
             preemptor: preemptor(priority: 1000, cpu: "1"), expected: nil),
        Case(name: "memory counts too", nodes: [NodeFitTests.node("n1", cpu: "8", memory: "2Gi")],
             bound: [{ var r = bound("fat", priority: 100, cpu: "1"); r.spec.resources?.requests?["memory"] = try! Quantity("2Gi"); return r }()],
             preemptor: preemptor(priority: 1000, cpu: "1", memory: "1Gi"),
             expected: .init(node: "n1", victims: ["default/fat"])),
    ]

    @Test(arguments: cases)
    func candidate(_ item: Case) {
        let candidate = Preemption.candidate(for: item.preemptor, nodes: item.nodes, replicas: item.bound, reserved: item.reserved)
        #expect(candidate == item.expected)
    }

    @Test("nominated replicas reserve their node against lower or equal priority, not higher")
    func nominatedReservations() {
        var nominated = Self.preemptor(priority: 1000, cpu: "1")
        nominated.metadata.name = "nominated"
        nominated.status = ReplicaStatus(phase: .pending, nominatedNodeName: "n1")
        let lower = Self.preemptor(priority: 100, cpu: "1")
        let equal = Self.preemptor(priority: 1000, cpu: "1")
        let higher = Self.preemptor(priority: 5000, cpu: "1")
        #expect(NodeFit.nominated(for: lower, in: [nominated])["n1"] == NodeFit.Capacity(cpuMillis: 1000, memoryBytes: 0))
        #expect(NodeFit.nominated(for: equal, in: [nominated])["n1"] == NodeFit.Capacity(cpuMillis: 1000, memoryBytes: 0))
        #expect(NodeFit.nominated(for: higher, in: [nominated])["n1"] == nil)
        #expect(NodeFit.nominated(for: nominated, in: [nominated]).isEmpty, "a replica never reserves against itself")
    }
}

@Suite("Priority resolution")
struct PriorityResolutionTests {
    static func priorityClass(_ name: String, _ value: Int32, globalDefault: Bool = false,
                              policy: PriorityClass.PreemptionPolicy? = nil) -> PriorityClass {
        PriorityClass(metadata: ObjectMeta(name: name), value: value, globalDefault: globalDefault, preemptionPolicy: policy)
    }

    static let classes = [priorityClass("critical", 1000), priorityClass("batch", 10, policy: .never)]

    @Test("a named class gives its value and policy")
    func named() {
        #expect(PriorityResolution.resolve("critical", classes: Self.classes)
            == .resolved(ResolvedPriority(className: "critical", value: 1000, preemptionPolicy: .preemptLowerPriority)))
        #expect(PriorityResolution.resolve("batch", classes: Self.classes)
            == .resolved(ResolvedPriority(className: "batch", value: 10, preemptionPolicy: .never)))
    }

    @Test("an unknown class is a problem that names it")
    func unknown() {
        let resolution = PriorityResolution.resolve("gold", classes: Self.classes)
        #expect(resolution == .unknownClass("gold"))
        #expect(resolution.problem?.contains("no PriorityClass with name \"gold\" was found") == true)
    }

    @Test("no name: the global default, the highest of several, else zero")
    func defaults() {
        #expect(PriorityResolution.resolve(nil, classes: Self.classes) == .resolved(.zero))
        let withDefaults = Self.classes + [Self.priorityClass("standard", 100, globalDefault: true), Self.priorityClass("low", 5, globalDefault: true)]
        #expect(PriorityResolution.resolve(nil, classes: withDefaults)
            == .resolved(ResolvedPriority(className: "standard", value: 100, preemptionPolicy: .preemptLowerPriority)))
    }
}
