import SwellAPI
import SwellClient
import Testing
@testable import SwellControllers

@Suite("InferenceService controller against a live API server", .serialized)
struct InferenceServiceControllerTests {
    @Test("apply creates owned, scheduled replicas; status and events follow them")
    func applyCreatesReplicas() async throws {
        try await withControlPlane { plane in
            try await plane.registerNode()
            let service = try await plane.client.create(chatService(replicas: 2))
            try await eventually("two scheduled replicas") {
                let replicas = try await plane.replicas(of: "chat")
                return replicas.count == 2 && replicas.allSatisfy { $0.spec.nodeName == "node-1" }
            }
            let replicas = try await plane.replicas(of: "chat")
            for replica in replicas {
                #expect(replica.metadata.controllerReference?.uid == service.metadata.uid)
                #expect(replica.metadata.name.hasPrefix("chat-"))
                #expect(replica.spec.model.path == "/models/chat.gguf")
                #expect(replica.spec.templateHash == ReplicaTemplate(service: service).hash)
            }
            try await eventually("not Available before any replica is ready") {
                let status = try await plane.client.get(InferenceService.self, namespace: "default", name: "chat").status
                return status?.replicas == 2 && status?.conditions?[type: "Available"]?.status == .false
            }
            for replica in replicas { try await plane.setPhase(replica.metadata.name, .ready) }
            try await eventually("Available with both replicas ready and an endpoint") {
                let status = try await plane.client.get(InferenceService.self, namespace: "default", name: "chat").status
                return status?.readyReplicas == 2 && status?.conditions?[type: "Available"]?.status == .true
                    && status?.conditions?[type: "Progressing"]?.reason == "NewReplicasAvailable"
                    && status?.endpoint != nil && status?.observedGeneration == service.metadata.generation
            }
            let events = try await plane.client.list(Event.self, namespace: "default").items
            #expect(events.filter { $0.reason == "SuccessfulCreate" && $0.involvedObject.name == "chat" }.count == 2)
            #expect(events.filter { $0.reason == "Scheduled" }.count == 2)
        }
    }

    @Test("scaling up and down converges on the new count, removing the least ready first")
    func scaling() async throws {
        try await withControlPlane { plane in
            try await plane.registerNode()
            _ = try await plane.client.create(chatService(replicas: 1))
            try await eventually("one replica") { try await plane.replicas(of: "chat").count == 1 }
            let first = try await plane.replicas(of: "chat")[0].metadata.name
            try await plane.setPhase(first, .ready)

            _ = try await plane.client.patch(InferenceService.self, namespace: "default", name: "chat",
                                             mergePatch: .object(["spec": .object(["replicas": .int(3)])]))
            try await eventually("three replicas") { try await plane.replicas(of: "chat").count == 3 }

            _ = try await plane.client.patch(InferenceService.self, namespace: "default", name: "chat",
                                             mergePatch: .object(["spec": .object(["replicas": .int(1)])]))
            try await eventually("two replicas being deleted") {
                try await plane.replicas(of: "chat").filter { !$0.metadata.isBeingDeleted }.count == 1
            }
            let survivor = try await plane.replicas(of: "chat").first { !$0.metadata.isBeingDeleted }
            #expect(survivor?.metadata.name == first, "the Ready replica stays; the not-ready ones go")
        }
    }

    @Test("deleting the service deletes its replicas")
    func deletionCollectsReplicas() async throws {
        try await withControlPlane { plane in
            try await plane.registerNode()
            _ = try await plane.client.create(chatService(replicas: 2))
            try await eventually("two replicas") { try await plane.replicas(of: "chat").count == 2 }
            _ = try await plane.client.delete(InferenceService.self, namespace: "default", name: "chat")
            try await eventually("no replicas left") {
                try await plane.finishDeletions()
                return try await plane.replicas(of: "chat").isEmpty
            }
        }
    }

    @Test("a spec change rolls replicas over without ever dropping below the desired ready count")
    func rollingUpdate() async throws {
        try await withControlPlane { plane in
            try await plane.registerNode()
            _ = try await plane.client.create(chatService(replicas: 2, threads: 1))
            try await eventually("two replicas") { try await plane.replicas(of: "chat").count == 2 }
            for replica in try await plane.replicas(of: "chat") { try await plane.setPhase(replica.metadata.name, .ready) }
            try await eventually("available") {
                try await plane.client.get(InferenceService.self, namespace: "default", name: "chat").status?.readyReplicas == 2
            }

            let updated = try await plane.client.patch(InferenceService.self, namespace: "default", name: "chat",
                                                       mergePatch: .object(["spec": .object(["engine": .object(["threads": .int(2)])])]))
            let newHash = ReplicaTemplate(service: updated).hash
            var lowestReady = Int.max
            try await eventually("all replicas on the new template and ready", timeout: .seconds(60)) {
                // Play the agent: new replicas become ready, deleted ones go away.
                let replicas = try await plane.replicas(of: "chat")
                let ready = replicas.filter { $0.status?.phase == .ready && !$0.metadata.isBeingDeleted }.count
                lowestReady = min(lowestReady, ready)
                for replica in replicas where replica.spec.templateHash == newHash && replica.status?.phase != .ready
                    && replica.spec.nodeName != nil {
                    try await plane.setPhase(replica.metadata.name, .ready)
                }
                try await plane.finishDeletions()
                let live = replicas.filter { !$0.metadata.isBeingDeleted }
                return live.count == 2 && live.allSatisfy { $0.spec.templateHash == newHash && $0.status?.phase == .ready }
            }
            #expect(lowestReady >= 2, "maxUnavailable 0: never fewer Ready replicas than desired")
        }
    }

    @Test("a failed replica shows as ReplicaFailure with its message")
    func replicaFailure() async throws {
        try await withControlPlane { plane in
            try await plane.registerNode()
            _ = try await plane.client.create(chatService(replicas: 1))
            try await eventually("one replica") { try await plane.replicas(of: "chat").count == 1 }
            let name = try await plane.replicas(of: "chat")[0].metadata.name
            try await plane.setPhase(name, .failed, reason: "EngineFailed", message: "error: /models/chat.gguf: no such file")
            try await eventually("ReplicaFailure condition") {
                let condition = try await plane.client.get(InferenceService.self, namespace: "default", name: "chat")
                    .status?.conditions?[type: "ReplicaFailure"]
                return condition?.status == .true && condition?.reason == "EngineFailed"
                    && condition?.message?.contains("no such file") == true
            }
            // No replacement storm: the failed replica is reported, not recreated.
            #expect(try await plane.replicas(of: "chat").count == 1)
        }
    }

    @Test("a replica that fits no node stays Pending as Unschedulable, then binds when room appears")
    func unschedulable() async throws {
        try await withControlPlane { plane in
            try await plane.registerNode("small", cpu: "1", memory: "4Gi")
            _ = try await plane.client.create(chatService(replicas: 1, cpu: "2"))
            try await eventually("Unschedulable with a reason") {
                let replica = try await plane.replicas(of: "chat").first
                return replica?.status?.reason == "Unschedulable" && replica?.spec.nodeName == nil
                    && replica?.status?.message?.contains("insufficient cpu") == true
            }
            // The event is recorded beside the status write, not before it: wait for it too.
            try await eventually("a FailedScheduling warning") {
                try await plane.client.list(Event.self, namespace: "default").items
                    .contains { $0.reason == "FailedScheduling" && $0.type == .warning }
            }
            try await eventually("the service reports it") {
                try await plane.client.get(InferenceService.self, namespace: "default", name: "chat")
                    .status?.conditions?[type: "ReplicaFailure"]?.reason == "Unschedulable"
            }
            try await plane.registerNode("big", cpu: "4", memory: "8Gi")
            try await eventually("bound to the new node") {
                try await plane.replicas(of: "chat").first?.spec.nodeName == "big"
            }
        }
    }
}
