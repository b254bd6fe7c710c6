import AsyncHTTPClient
import Foundation
import NIOCore
import SwellAPI
import SwellClient
import Testing

/// The router inside `swell server`, in front of real `swell engine serve` replicas on SmolLM2.
@Suite("Router with real replicas", .serialized)
struct RouterEndToEndTests {
    typealias Lifecycle = ReplicaLifecycleTests

    static func manifest(_ name: String, replicas: Int, routing: String = "{}") -> String {
        """
        apiVersion: swell.dev/v1
        kind: InferenceService
        metadata: {name: \(name)}
        spec:
          model: {path: \(Lifecycle.modelPath), contextLength: 2048}
          engine: {threads: 1, kvCacheTokens: 4096}
          resources: {requests: {cpu: "1", memory: 256Mi}}
          replicas: \(replicas)
          routing: \(routing)
        """
    }

    static func apply(_ server: ServerProcess, _ name: String, replicas: Int, routing: String = "{}") async throws {
        let result = try await server.swellctl("apply", "-f", server.write("\(name).yaml", manifest(name, replicas: replicas, routing: routing)))
        try #require(result.succeeded, "\(result)")
        if replicas > 0 {
            try await Lifecycle.waitUntil("\(replicas) Ready replicas of \(name)") { try await Lifecycle.readyCount(server, name) == replicas }
            // The router learns of them through its own informer.
            try await Lifecycle.waitUntil("the router sees \(replicas) routable replicas") {
                try await routerMetric(server, "swell_router_routable_replicas", ["service": name]) == Double(replicas)
            }
        }
    }

    static func routerMetric(_ server: ServerProcess, _ name: String, _ labels: [String: String] = [:]) async throws -> Double {
        OpenAICalls.metric(try await OpenAICalls.get(server.routerURL + "/metrics").body, name, labels)
    }

    static func chat(_ server: ServerProcess, _ body: String, headers: [String: String] = [:]) async throws -> HTTPAnswer {
        try await OpenAICalls.post(server.routerURL + "/v1/chat/completions", body, headers: headers)
    }

    static func requireModel() throws {
        try #require(FileManager.default.fileExists(atPath: Lifecycle.modelPath), "run hack/setup.sh to install the model")
    }

    @Test("requests reach the service their model names; streams pass through byte-exact; models and SD targets are listed")
    func routesByModel() async throws {
        try Self.requireModel()
        try await Lifecycle.withServer { server in
            try await Self.apply(server, "alpha", replicas: 1)
            try await Self.apply(server, "beta", replicas: 1)
            let alpha = try #require(try await Lifecycle.replicas(server, "alpha").first)
            let beta = try #require(try await Lifecycle.replicas(server, "beta").first)

            let toAlpha = try await Self.chat(server, OpenAICalls.chatBody(model: "alpha"))
            #expect(toAlpha.status == 200, "\(toAlpha.body)")
            #expect(toAlpha.headers["x-swell-replica"] == alpha.metadata.name)
            let toBeta = try await Self.chat(server, OpenAICalls.chatBody(model: "default/beta"))
            #expect(toBeta.status == 200, "\(toBeta.body)")
            #expect(toBeta.headers["x-swell-replica"] == beta.metadata.name)

            let unknown = try await Self.chat(server, OpenAICalls.chatBody(model: "gamma"))
            #expect(unknown.status == 404)
            #expect((unknown.json?["error"] as? [String: Any])?["code"] as? String == "model_not_found")
            let noModel = try await OpenAICalls.post(server.routerURL + "/v1/chat/completions", #"{"messages":[]}"#)
            #expect(noModel.status == 400)
            #expect((noModel.json?["error"] as? [String: Any])?["param"] as? String == "model")

            let models = try #require(try await OpenAICalls.get(server.routerURL + "/v1/models").json)
            let ids = Set(((models["data"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String })
            #expect(ids == ["alpha", "beta"])

            // The same greedy stream through the router and straight from the replica.
            let streamBody = OpenAICalls.chatBody(model: "alpha", turns: ["Name three colours."], maxTokens: 16, stream: true)
            let routed = try await Self.chat(server, streamBody)
            let direct = try await OpenAICalls.post(try #require(alpha.status?.endpoint) + "/v1/chat/completions", streamBody)
            #expect(routed.status == 200 && routed.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            let routedEvents = OpenAICalls.strictSSE(routed.body)
            let directEvents = OpenAICalls.strictSSE(direct.body)
            #expect(!OpenAICalls.streamedContent(routedEvents).isEmpty)
            #expect(OpenAICalls.streamedContent(routedEvents) == OpenAICalls.streamedContent(directEvents))
            #expect(routedEvents.count == directEvents.count)
            #expect(routedEvents.last?["usage"] is [String: Any], "the usage chunk arrives through the router")

            // Prometheus HTTP service discovery on the API server lists both engines.
            let groups = try #require(try JSONSerialization.jsonObject(with: Data(try await OpenAICalls.get(server.url + "/sd/replicas").body.utf8)) as? [[String: Any]])
            let targets = Set(groups.compactMap { ($0["targets"] as? [String])?.first })
            #expect(targets == Set([alpha, beta].compactMap { $0.status?.port.map { "127.0.0.1:\($0)" } }))
            #expect(groups.contains { ($0["labels"] as? [String: String])?["service"] == "alpha" })

            let metrics = try await OpenAICalls.get(server.routerURL + "/metrics").body
            #expect(OpenAICalls.metric(metrics, "swell_router_requests_total", ["service": "alpha", "code": "200"]) == 2)
            #expect(OpenAICalls.metric(metrics, "swell_router_requests_total", ["service": "beta", "code": "200"]) == 1)
            #expect(OpenAICalls.metric(metrics, "swell_router_time_to_first_byte_seconds_count", ["service": "alpha"]) == 2)
        }
    }

    @Test("prefix-affinity: a conversation stays on its replica, different openings spread, a hot prefix spills under load")
    func prefixAffinity() async throws {
        try Self.requireModel()
        try await Lifecycle.withServer { server in
            try await Self.apply(server, "chat", replicas: 2)
            let system = "You are a terse assistant for a hardware shop. Answer in at most ten words."

            var served: Set<String> = []
            for index in 0..<6 {
                let question = "Question number \(index): which screwdriver fits a M\(index + 2) screw?"
                let first = try await Self.chat(server, OpenAICalls.chatBody(model: "chat", system: system, turns: [question]))
                #expect(first.status == 200, "\(first.body)")
                let replica = try #require(first.headers["x-swell-replica"])
                served.insert(replica)
                // The follow-up carries the history: same opening, same replica, history from its cache.
                let followUp = try await Self.chat(server, OpenAICalls.chatBody(
                    model: "chat", system: system, turns: [question, first.content ?? "", "And for wood?"]))
                #expect(followUp.headers["x-swell-replica"] == replica)
                #expect(followUp.cachedTokens > 32, "the follow-up reuses the conversation's cached blocks")
            }
            #expect(served.count == 2, "six different openings use both replicas")
            #expect(try await Self.routerMetric(server, "swell_router_routed_total", ["service": "chat", "reason": "affinity_hit"]) == 12)

            // Six at once with one opening: busy starting answers (and soon over the bound), the preferred replica spills.
            let hot = OpenAICalls.chatBody(model: "chat", system: system, turns: ["What is a hammer?"], maxTokens: 32, ignoreEOS: true)
            let answers = try await withThrowingTaskGroup(of: HTTPAnswer.self) { group in
                for _ in 0..<6 { group.addTask { try await Self.chat(server, hot) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.status == 200 })
            #expect(Set(answers.compactMap { $0.headers["x-swell-replica"] }).count == 2)
            #expect(try await Self.routerMetric(server, "swell_router_routed_total", ["service": "chat", "reason": "fallback"]) >= 1)
        }
    }

    @Test("a replica killed while it serves: the request is retried on the other, and nothing fails")
    func retryOnKilledReplica() async throws {
        try Self.requireModel()
        try await Lifecycle.withServer { server in
            try await Self.apply(server, "chat", replicas: 2)
            let replicas = try await Lifecycle.replicas(server, "chat")
            let long = OpenAICalls.chatBody(model: "chat", turns: ["Count slowly from one to one hundred."], maxTokens: 200, ignoreEOS: true)
            let inFlight = Task { try await Self.chat(server, long) }
            // Find the engine that is computing it, then kill it before it answers.
            var victim: Replica?
            try await Lifecycle.waitUntil("the request is running on an engine") {
                for replica in replicas {
                    guard let endpoint = replica.status?.endpoint else { continue }
                    let page = try await OpenAICalls.get(endpoint + "/metrics").body
                    if OpenAICalls.metric(page, "swell_engine_requests_running") == 1 { victim = replica; return true }
                }
                return false
            }
            let killed = try #require(victim)
            kill(Int32(try #require(killed.status?.pid)), SIGKILL)
            let answer = try await inFlight.value
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.headers["x-swell-replica"] != killed.metadata.name)
            #expect(try await Self.routerMetric(server, "swell_router_retries_total", ["service": "chat"]) >= 1)

            // Traffic right after the kill, before and while the agent restarts it: no 5xx.
            let codes = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<8 { group.addTask { try await Self.chat(server, OpenAICalls.chatBody(model: "chat", turns: ["Hi \(index)"], maxTokens: 4)).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(codes.allSatisfy { $0 == 200 }, "\(codes)")
        }
    }

    @Test("with one slot: waiting requests run critical, standard, batch; full classes get 429 with Retry-After; critical displaces batch")
    func priorityQueueAndShedding() async throws {
        try Self.requireModel()
        try await Lifecycle.withServer { server in
            try await Self.apply(server, "chat", replicas: 1,
                                 routing: "{maxConcurrencyPerReplica: 1, queue: {limits: {critical: 2, standard: 2, batch: 1}}}")
            let blocker = OpenAICalls.chatBody(model: "chat", turns: ["Tell a long story."], maxTokens: 160, ignoreEOS: true)
            let order = OrderLog()
            func send(_ priority: String, header: Bool = false) -> Task<HTTPAnswer, any Error> {
                Task {
                    let body = OpenAICalls.chatBody(model: "chat", turns: ["Say \(priority)."], maxTokens: 2, priority: header ? nil : priority)
                    let answer = try await Self.chat(server, body, headers: header ? ["X-Swell-Priority": priority] : [:])
                    if answer.status == 200 { await order.append(priority) }
                    return answer
                }
            }
            func waitQueued(_ total: Double) async throws {
                try await Lifecycle.waitUntil("\(total) requests waiting in the router") {
                    try await Self.routerMetric(server, "swell_router_queue_length", ["service": "chat"]) == total
                }
            }
            let running = Task { try await Self.chat(server, blocker) }
            try await Lifecycle.waitUntil("the blocker holds the only slot") {
                try await Self.routerMetric(server, "swell_router_in_flight", ["service": "chat"]) == 1
            }
            let batch = send("batch")
            try await waitQueued(1)
            let standard = send("standard", header: true)
            try await waitQueued(2)
            let critical = send("critical")
            try await waitQueued(3)

            // batch's queue (limit 1) is full: the next batch request is shed at once.
            let shed = try await Self.chat(server, OpenAICalls.chatBody(model: "chat", priority: "batch"))
            #expect(shed.status == 429)
            #expect(Int(shed.headers["retry-after"] ?? "") ?? 0 >= 1)
            #expect((shed.json?["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")

            // Two more critical: the first fits its limit of 2, the second displaces the waiting batch request.
            let critical2 = send("critical")
            try await waitQueued(4)
            let critical3 = send("critical")
            let displaced = try await batch.value
            #expect(displaced.status == 429, "the waiting batch request makes room for critical")

            #expect(try await running.value.status == 200)
            for task in [standard, critical, critical2, critical3] { #expect(try await task.value.status == 200) }
            #expect(await order.entries == ["critical", "critical", "critical", "standard"])
            #expect(try await Self.routerMetric(server, "swell_router_shed_total", ["service": "chat", "priority": "batch"]) == 2)
        }
    }

    @Test("zero replicas: requests are held until one is Ready, then all are answered")
    func scaleFromZeroBuffering() async throws {
        try Self.requireModel()
        try await Lifecycle.withServer { server in
            try await Self.apply(server, "chat", replicas: 0)
            let held = (0..<3).map { index in
                Task { try await Self.chat(server, OpenAICalls.chatBody(model: "chat", turns: ["Hello \(index)"], maxTokens: 4)) }
            }
            try await Lifecycle.waitUntil("three requests held in the router") {
                try await Self.routerMetric(server, "swell_router_queue_length", ["service": "chat"]) == 3
            }
            #expect(try await Lifecycle.readyCount(server, "chat") == 0)
            #expect(try await server.swellctl("scale", "isvc", "chat", "--replicas", "1").succeeded)
            for task in held { #expect(try await task.value.status == 200) }
            #expect(try await Self.routerMetric(server, "swell_router_requests_total", ["service": "chat", "code": "200"]) == 3)
        }
    }

    @Test("a client that hangs up mid-stream cancels the request on the replica")
    func disconnectCancelsUpstream() async throws {
        try Self.requireModel()
        try await Lifecycle.withServer { server in
            try await Self.apply(server, "chat", replicas: 1)
            let endpoint = try #require(try await Lifecycle.replicas(server, "chat").first?.status?.endpoint)
            var request = HTTPClientRequest(url: server.routerURL + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: OpenAICalls.chatBody(model: "chat", turns: ["Write an essay."], maxTokens: 1500,
                                                                          stream: true, ignoreEOS: true)))
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let reader = Task {
                let response = try await client.execute(request, timeout: .seconds(120))
                for try await _ in response.body { return true } // one chunk, then hang up
                return false
            }
            #expect(try await reader.value)
            try await client.shutdown() // closes the connection
            try await Lifecycle.waitUntil("the engine stops computing the request") {
                OpenAICalls.metric(try await OpenAICalls.get(endpoint + "/metrics").body, "swell_engine_requests_running") == 0
            }
            // Stopped, not finished: far fewer tokens than the 1500 it asked for, and no completion by length.
            let page = try await OpenAICalls.get(endpoint + "/metrics").body
            #expect(OpenAICalls.metric(page, "swell_engine_generation_tokens_total") < 1500)
            #expect(OpenAICalls.metric(page, "swell_engine_requests_total", ["finish_reason": "length"]) == 0)
            try await Lifecycle.waitUntil("the router counts it as a client hang-up (499)") {
                try await Self.routerMetric(server, "swell_router_requests_total", ["service": "chat", "code": "499"]) == 1
            }
        }
    }
    @Test("clients that hang up before any answer: a queued request leaves the queue, a running whole completion stops")
    func disconnectBeforeTheAnswer() async throws {
        try Self.requireModel()
        try await Lifecycle.withServer { server in
            try await Self.apply(server, "chat", replicas: 1, routing: "{maxConcurrencyPerReplica: 1}")
            let endpoint = try #require(try await Lifecycle.replicas(server, "chat").first?.status?.endpoint)
            func request(_ maxTokens: Int) -> HTTPClientRequest {
                var request = HTTPClientRequest(url: server.routerURL + "/v1/chat/completions")
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: OpenAICalls.chatBody(model: "chat", turns: ["Write an essay."],
                                                                              maxTokens: maxTokens, ignoreEOS: true)))
                return request
            }
            // A whole (non-streamed) completion running on the only slot, and one queued behind it.
            let running = Task { try await HTTPClient.shared.execute(request(1500), timeout: .seconds(300)) }
            try await Lifecycle.waitUntil("the first runs on the engine") {
                OpenAICalls.metric(try await OpenAICalls.get(endpoint + "/metrics").body, "swell_engine_requests_running") == 1
            }
            let queued = Task { try await HTTPClient.shared.execute(request(8), timeout: .seconds(300)) }
            try await Lifecycle.waitUntil("the second waits in the router") {
                try await Self.routerMetric(server, "swell_router_queue_length", ["service": "chat"]) == 1
            }

            queued.cancel()
            try await Lifecycle.waitUntil("the queued request left the queue") {
                try await Self.routerMetric(server, "swell_router_queue_length", ["service": "chat"]) == 0
            }
            running.cancel()
            try await Lifecycle.waitUntil("the engine stops the running one") {
                OpenAICalls.metric(try await OpenAICalls.get(endpoint + "/metrics").body, "swell_engine_requests_running") == 0
            }
            let page = try await OpenAICalls.get(endpoint + "/metrics").body
            #expect(OpenAICalls.metric(page, "swell_engine_generation_tokens_total") < 1500, "stopped, not finished")
            #expect(OpenAICalls.metric(page, "swell_engine_requests_total", ["finish_reason": "length"]) == 0)
            try await Lifecycle.waitUntil("the router counts both as client hang-ups (499)") {
                try await Self.routerMetric(server, "swell_router_requests_total", ["service": "chat", "code": "499"]) == 2
            }
            // The replica was not blamed: it still takes requests.
            #expect(try await Self.chat(server, OpenAICalls.chatBody(model: "chat", maxTokens: 2)).status == 200)
            #expect(try await Self.routerMetric(server, "swell_router_retries_total", ["service": "chat"]) == 0)
        }
    }
}


/// The order in which answers arrived.
actor OrderLog {
    private(set) var entries: [String] = []
    func append(_ entry: String) { entries.append(entry) }
}
