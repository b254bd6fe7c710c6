import SwellAPI
import SwellClient
import Testing
@testable import SwellControllers

@Suite("Priority classes and preemption against a live API server", .serialized)
struct PreemptionControllerTests {
    static func service(_ plane: ControlPlaneHarness, _ name: String) async throws -> InferenceService {
        try await plane.client.get(InferenceService.self, namespace: "default", name: name)
    }

    static func events(_ plane: ControlPlaneHarness) async throws -> [Event] {
        try await plane.client.list(Event.self, namespace: "default").items
    }

    @Test("replicas carry their class's priority and policy; no class means the global default")
    func priorityResolved() async throws {
        try await withControlPlane { plane in
            try await plane.registerNode()
            _ = try await plane.client.create(PriorityClass(metadata: ObjectMeta(name: "standard"), value: 100, globalDefault: true))
            _ = try await plane.client.create(PriorityClass(metadata: ObjectMeta(name: "critical"), value: 1000, preemptionPolicy: .never))
            _ = try await plane.client.create(chatService("crit", priorityClass: "critical"))
            try await eventually("the critical replica") { try await plane.replicas(of: "crit").count == 1 }
            let critical = try #require(try await plane.replicas(of: "crit").first)
            #expect(critical.spec.priority == 1000)
            #expect(critical.spec.priorityClassName == "critical")
            #expect(critical.spec.preemptionPolicy == .never)

            // Both classes are in the controller's cache now (informers apply events in order).
            _ = try await plane.client.create(chatService("plain"))
            try await eventually("the plain replica") { try await plane.replicas(of: "plain").count == 1 }
            let plain = try #require(try await plane.replicas(of: "plain").first)
            #expect(plain.spec.priority == 100)
            #expect(plain.spec.priorityClassName == "standard")
            #expect(plain.spec.preemptionPolicy == .preemptLowerPriority)
        }
    }

    @Test("an unknown class creates nothing and says so; creating the class unblocks the service")
    func unknownClass() async throws {
        try await withControlPlane { plane in
            try await plane.registerNode()
            _ = try await plane.client.create(chatService("chat", priorityClass: "gold"))
            try await eventually("ReplicaFailure FailedCreate naming the class") {
                let condition = try await Self.service(plane, "chat").status?.conditions?[type: "ReplicaFailure"]
                return condition?.status == .true && condition?.reason == "FailedCreate"
                    && condition?.message?.contains("no PriorityClass with name \"gold\"") == true
            }
            #expect(try await plane.replicas(of: "chat").isEmpty)
            #expect(try await Self.events(plane).contains { $0.reason == "FailedCreate" && $0.type == .warning
                && $0.involvedObject.name == "chat" })

            _ = try await plane.client.create(PriorityClass(metadata: ObjectMeta(name: "gold"), value: 500))
            try await eventually("the replica, with the class's priority") {
                try await plane.replicas(of: "chat").first?.spec.priority == 500
            }
            try await eventually("the failure clears") {
                try await Self.service(plane, "chat").status?.conditions?[type: "ReplicaFailure"] == nil
            }
        }
    }

    @Test("a critical replica preempts a batch one: nominated, victim drained and deleted, batch waits, and returns when capacity does")
    func preemptionStory() async throws {
        try await withControlPlane { plane in
            try await plane.registerNode("small", cpu: "2", memory: "8Gi")
            _ = try await plane.client.create(PriorityClass(metadata: ObjectMeta(name: "batch"), value: 100))
            _ = try await plane.client.create(PriorityClass(metadata: ObjectMeta(name: "critical"), value: 1000))
            _ = try await plane.client.create(chatService("batch", replicas: 2, cpu: "1", priorityClass: "batch"))
            try await eventually("both batch replicas bound") {
                let replicas = try await plane.replicas(of: "batch")
                return replicas.count == 2 && replicas.allSatisfy { $0.spec.nodeName == "small" }
            }
            let original = try await plane.replicas(of: "batch")
            for replica in original {
                try await plane.addAgentFinalizer(replica.metadata.name)
                try await plane.setPhase(replica.metadata.name, .ready)
            }

            _ = try await plane.client.create(chatService("critical", replicas: 1, cpu: "1", priorityClass: "critical"))
            try await eventually("one batch replica marked and being deleted") {
                try await plane.replicas(of: "batch").contains { $0.metadata.isBeingDeleted }
            }
            let victims = try await plane.replicas(of: "batch").filter(\.metadata.isBeingDeleted)
            #expect(victims.count == 1, "one replica makes room for one")
            let victim = try #require(victims.first)
            let mark = victim.status?.conditions?[type: ServiceStatusCalculator.disruptionTarget]
            #expect(mark?.status == .true && mark?.reason == ServiceStatusCalculator.preemptionReason)
            #expect(mark?.message?.contains("priority 1000, class critical") == true)

            // Nominated, but not bound while the victim still holds its share.
            let preemptor = try #require(try await plane.replicas(of: "critical").first)
            #expect(preemptor.status?.nominatedNodeName == "small")
            #expect(preemptor.status?.reason == "Preempting")
            #expect(preemptor.spec.nodeName == nil)

            try await eventually("the batch service shows it was preempted") {
                let conditions = try await Self.service(plane, "batch").status?.conditions
                return conditions?[type: "Preempted"]?.status == .true
                    && conditions?[type: "Preempted"]?.message?.contains(victim.metadata.name) == true
            }
            try await eventually("a replacement batch replica waits unscheduled") {
                try await plane.replicas(of: "batch").contains { !$0.metadata.isBeingDeleted && $0.spec.nodeName == nil }
            }
            try await eventually("Events on the victim, its service and the preemptor") {
                let events = try await Self.events(plane)
                return events.contains { $0.reason == "Preempted" && $0.involvedObject.name == victim.metadata.name
                    && $0.message.contains("critical") }
                    && events.contains { $0.reason == "Preempted" && $0.involvedObject.kind == InferenceService.kind
                        && $0.involvedObject.name == "batch" && $0.type == .warning }
                    && events.contains { $0.reason == "Preempting" && $0.involvedObject.name == preemptor.metadata.name }
            }
            #expect(try await plane.replicas(of: "critical").first?.spec.nodeName == nil,
                    "still not bound: the victim has not released its requests")

            // The agent finishes draining the victim: the preemptor binds, the replacement may not.
            try await plane.finishDeletions()
            try await eventually("the critical replica is bound") {
                try await plane.replicas(of: "critical").first?.spec.nodeName == "small"
            }
            try await eventually("the replacement is Unschedulable, saying preemption cannot help it") {
                try await plane.replicas(of: "batch").contains { replica in
                    replica.spec.nodeName == nil && replica.status?.reason == "Unschedulable"
                        && replica.status?.message?.contains("preemption: no node has lower-priority replicas") == true
                }
            }
            #expect(try await Self.service(plane, "batch").status?.conditions?[type: "Preempted"]?.status == .true)
            #expect(try await Self.service(plane, "batch").status?.conditions?[type: "Available"]?.reason == "Preempted")
            #expect(try await plane.replicas(of: "critical").first?.status?.nominatedNodeName == nil)

            // Capacity returns: the batch service comes back.
            _ = try await plane.client.delete(InferenceService.self, namespace: "default", name: "critical")
            try await eventually("the replacement is bound again") {
                try await plane.finishDeletions()
                let live = try await plane.replicas(of: "batch").filter { !$0.metadata.isBeingDeleted }
                return live.count == 2 && live.allSatisfy { $0.spec.nodeName == "small" }
            }
            try await eventually("Preempted turns False") {
                try await Self.service(plane, "batch").status?.conditions?[type: "Preempted"]?.status == .false
            }
        }
    }

    @Test("preemptionPolicy Never and equal priority preempt nobody")
    func noPreemption() async throws {
        try await withControlPlane { plane in
            try await plane.registerNode("small", cpu: "1", memory: "8Gi")
            _ = try await plane.client.create(PriorityClass(metadata: ObjectMeta(name: "batch"), value: 100))
            _ = try await plane.client.create(PriorityClass(metadata: ObjectMeta(name: "polite"), value: 1000, preemptionPolicy: .never))
            _ = try await plane.client.create(chatService("batch", replicas: 1, cpu: "1", priorityClass: "batch"))
            try await eventually("the batch replica bound") { try await plane.replicas(of: "batch").first?.spec.nodeName == "small" }

            _ = try await plane.client.create(chatService("polite", replicas: 1, cpu: "1", priorityClass: "polite"))
            try await eventually("the polite replica is Unschedulable with the reason") {
                let replica = try await plane.replicas(of: "polite").first
                return replica?.status?.reason == "Unschedulable"
                    && replica?.status?.message?.contains("preemption: not allowed (preemptionPolicy Never)") == true
            }
            _ = try await plane.client.create(chatService("peer", replicas: 1, cpu: "1", priorityClass: "batch"))
            try await eventually("the equal-priority replica is Unschedulable too") {
                try await plane.replicas(of: "peer").first?.status?.reason == "Unschedulable"
            }
            let batch = try await plane.replicas(of: "batch")
            #expect(batch.count == 1 && batch.allSatisfy { !$0.metadata.isBeingDeleted && $0.spec.nodeName == "small" })
            #expect(try await plane.replicas(of: "polite").first?.status?.nominatedNodeName == nil)
        }
    }
}
