import Foundation
import SwellAPI
import SwellClient
import Testing

/// The autoscaler end to end: `swell server` (API, controllers, autoscaler, router, agent) with
/// real SmolLM2 engines, driven by real concurrent chats through the router.
@Suite("Autoscaling with real replicas", .serialized)
struct AutoscalingEndToEndTests {
    typealias Lifecycle = ReplicaLifecycleTests
    typealias Router = RouterEndToEndTests

    static func service(_ name: String, priorityClass: String? = nil, cpu: String = "500m", autoscaling: String) -> String {
        """
        apiVersion: swell.dev/v1
        kind: InferenceService
        metadata: {name: \(name)}
        spec:
          model: {path: \(Lifecycle.modelPath), contextLength: 1024}
          engine: {threads: 1, kvCacheTokens: 2048}
          resources: {requests: {cpu: "\(cpu)", memory: 256Mi}}
          \(priorityClass.map { "priorityClassName: \($0)" } ?? "")
          routing: {maxConcurrencyPerReplica: 2}
          autoscaling:
        \(autoscaling.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        """
    }

    static let queueTarget2 = """
        minReplicas: 1
        maxReplicas: 3
        metrics: [{type: QueueLength, targetPerReplica: 2}]
        behavior:
          scaleDown: {stabilizationWindowSeconds: 5, policies: [{type: Pods, value: 1, periodSeconds: 2}]}
        """

    static func apply(_ server: ServerProcess, _ file: String, _ yaml: String) async throws {
        let result = try await server.swellctl("apply", "-f", server.write(file, yaml))
        try #require(result.succeeded, "\(result)")
    }

    static func service(_ server: ServerProcess, _ name: String) async throws -> InferenceService {
        try await server.client.get(InferenceService.self, namespace: "default", name: name)
    }

    /// `count` chats at once through the router, each long enough to keep a replica busy.
    static func burst(_ server: ServerProcess, model: String, count: Int, maxTokens: Int = 24) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<count {
                group.addTask {
                    try await Router.chat(server, OpenAICalls.chatBody(model: model, turns: ["Story \(index), please."],
                                                                       maxTokens: maxTokens, ignoreEOS: true)).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test("a burst of chats scales QueueLength target 2 to at least 2 replicas; idle, it returns to 1 after the window")
    func burstScalesUpAndBack() async throws {
        try Router.requireModel()
        try await Lifecycle.withServer { server in
            try await Self.apply(server, "burst.yaml", Self.service("burst", autoscaling: Self.queueTarget2))
            try await Lifecycle.waitUntil("the first replica is Ready") { try await Lifecycle.readyCount(server, "burst") == 1 }

            var peak = 1
            let load = Task { try await Self.burst(server, model: "burst", count: 12) }
            try await Lifecycle.waitUntil("the autoscaler adds replicas while the burst runs") {
                peak = max(peak, try await Self.service(server, "burst").status?.autoscaler?.desiredReplicas ?? 1)
                return peak >= 2
            }
            let codes = try await load.value
            #expect(codes.allSatisfy { $0 == 200 }, "\(codes)")

            let scaled = try await Self.service(server, "burst")
            let decisions = scaled.status?.autoscaler?.recentDecisions ?? []
            let up = try #require(decisions.first { $0.toReplicas > $0.fromReplicas }, "a scale-up decision is recorded")
            #expect(up.message.hasPrefix("1 → \(up.toReplicas): QueueLength"), "\(up.message)")
            let events = try await server.client.list(Event.self, namespace: "default").items
            #expect(events.contains { $0.involvedObject.name == "burst" && $0.reason == "SuccessfulRescale" && $0.source == "autoscaler" })

            // describe explains it in plain words.
            let describe = try await server.swellctl("describe", "isvc", "burst")
            #expect(describe.stdout.contains("Scaling Decisions:"), "\(describe.stdout)")
            #expect(describe.stdout.contains(up.message))

            // The load has stopped: after the 5 s scale-down window, back to one replica.
            try await Lifecycle.waitUntil("back to one replica") {
                let desired = try await Self.service(server, "burst").status?.autoscaler?.desiredReplicas
                let existing = try await Lifecycle.replicas(server, "burst").count
                return desired == 1 && existing == 1
            }
            let metrics = try await OpenAICalls.get(server.url + "/metrics").body
            #expect(OpenAICalls.metric(metrics, "swell_autoscaler_decisions_total", ["service": "burst", "direction": "up"]) >= 1)
            #expect(OpenAICalls.metric(metrics, "swell_autoscaler_decisions_total", ["service": "burst", "direction": "down"]) >= 1)
            #expect(OpenAICalls.metric(metrics, "swell_autoscaler_desired_replicas", ["service": "burst"]) == 1)
        }
    }

    @Test("scale to zero after the idle time; a request wakes it, is held by the router and answered")
    func scaleToZeroAndWake() async throws {
        try Router.requireModel()
        try await Lifecycle.withServer { server in
            try await Self.apply(server, "idle.yaml", Self.service("idle", autoscaling: """
                minReplicas: 1
                maxReplicas: 1
                metrics: [{type: QueueLength, targetPerReplica: 2}]
                scaleToZero: {enabled: true, idleSeconds: 3}
                """))
            try await Lifecycle.waitUntil("one replica to begin with") { try await Lifecycle.readyCount(server, "idle") == 1 }
            #expect(try await Router.chat(server, OpenAICalls.chatBody(model: "idle", maxTokens: 2)).status == 200)
            try await Lifecycle.waitUntil("idle for 3 s: scaled to zero") {
                let desired = try await Self.service(server, "idle").status?.autoscaler?.desiredReplicas
                let existing = try await Lifecycle.replicas(server, "idle").count
                return desired == 0 && existing == 0
            }
            let answer = try await Router.chat(server, OpenAICalls.chatBody(model: "idle", maxTokens: 4))
            #expect(answer.status == 200, "\(answer.body)")
            let decisions = try await Self.service(server, "idle").status?.autoscaler?.recentDecisions ?? []
            #expect(decisions.contains { $0.reason == "ScaleToZero" && $0.fromReplicas == 1 && $0.toReplicas == 0 }, "\(decisions)")
            #expect(decisions.contains { $0.reason == "WakeUp" && $0.fromReplicas == 0 && $0.toReplicas == 1 }, "\(decisions)")
        }
    }

    @Test("critical and batch compete for 2 cores: critical keeps its replicas, batch is preempted and returns")
    func priorityPreemption() async throws {
        try Router.requireModel()
        let server = try await ServerProcess(agentArguments: ["--node-name", "it-node", "--node-cpu", "2", "--drain-grace-period", "2"])
        do {
            try await Self.apply(server, "classes.yaml", """
                apiVersion: swell.dev/v1
                kind: PriorityClass
                metadata: {name: critical}
                value: 1000000
                ---
                apiVersion: swell.dev/v1
                kind: PriorityClass
                metadata: {name: batch}
                value: 1000
                preemptionPolicy: Never
                """)
            // Batch fills both cores.
            try await Self.apply(server, "batch.yaml", Self.service("offline", priorityClass: "batch", cpu: "1", autoscaling: """
                minReplicas: 2
                maxReplicas: 2
                metrics: [{type: QueueLength, targetPerReplica: 100}]
                """))
            try await Lifecycle.waitUntil("batch runs two replicas") { try await Lifecycle.readyCount(server, "offline") == 2 }

            // Critical arrives: its first replica preempts one batch replica.
            try await Self.apply(server, "critical.yaml", Self.service("frontline", priorityClass: "critical", cpu: "1", autoscaling: """
                minReplicas: 1
                maxReplicas: 2
                metrics: [{type: QueueLength, targetPerReplica: 1}]
                behavior:
                  scaleDown: {stabilizationWindowSeconds: 3, policies: [{type: Pods, value: 1, periodSeconds: 1}]}
                """))
            try await Lifecycle.waitUntil("critical is Ready on the node") { try await Lifecycle.readyCount(server, "frontline") == 1 }
            #expect(try await Lifecycle.readyCount(server, "offline") == 1)

            // A burst of critical traffic scales critical to 2, which takes the other batch core.
            let load = Task { try await Self.burst(server, model: "frontline", count: 10) }
            try await Lifecycle.waitUntil("critical at two replicas, batch at none") {
                let critical = try await Lifecycle.readyCount(server, "frontline")
                let batch = try await Lifecycle.readyCount(server, "offline")
                return critical == 2 && batch == 0
            }
            let preempted = try await Self.service(server, "offline")
            #expect(preempted.status?.conditions?[type: "Preempted"]?.status == .true, "\(String(describing: preempted.status?.conditions))")
            let events = try await server.client.list(Event.self, namespace: "default").items
            #expect(events.contains { $0.reason == "Preempted" && $0.involvedObject.kind == "Replica" })
            #expect(try await load.value.allSatisfy { $0 == 200 })

            // The load ends; critical goes back to one replica and a batch replica returns.
            try await Lifecycle.waitUntil("batch is back on the freed core") {
                let critical = try await Lifecycle.readyCount(server, "frontline")
                let batch = try await Lifecycle.readyCount(server, "offline")
                return critical == 1 && batch == 1
            }
            #expect(try await Lifecycle.readyCount(server, "frontline") == 1, "critical kept its replica throughout")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
