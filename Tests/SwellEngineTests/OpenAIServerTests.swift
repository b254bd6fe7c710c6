import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Logging
import Testing
@testable import SwellEngine

/// A ServingEngine behind a real EngineServer on an ephemeral loopback port.
final class LiveEngineServer: Sendable {
    let engine: ServingEngine
    let baseURL: String
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    init(configuration: ServingConfiguration = ServingEngineTests.configuration(), maxBodySize: Int = 4096,
         maxPromptTokens: Int? = nil, maxTokensLimit: Int = 64, model: LlamaModel? = nil) async throws {
        var logger = Logger(label: "test.engine")
        logger.logLevel = .critical
        let model = try model ?? ServingEngineTests.model.get()
        engine = ServingEngine(model: model, configuration: configuration)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = EngineServer(engine: engine, configuration: .init(
            host: "127.0.0.1", port: 0, modelName: "tiny", maxBodySize: maxBodySize, maxPromptTokens: maxPromptTokens,
            maxTokensLimit: maxTokensLimit, defaultMaxTokens: 8, modelLoadSeconds: 0.5,
            onServerRunning: { port in continuation.yield(port) }), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [engine, server], logger: logger))
        self.group = group
        task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        baseURL = "http://127.0.0.1:\(port)"
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    struct Reply {
        var status: Int
        var headers: [(String, String)]
        var body: String
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    func send(_ path: String, method: HTTPMethod = .POST, body: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                     body: String(buffer: bytes))
    }

    func metrics() async throws -> String { try await send("/metrics", method: .GET).body }
}

/// Parses a server-sent event stream strictly: every event is one `data: ` line followed by a
/// blank line; the last is `[DONE]`; all others are JSON objects.
func parseSSE(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
    #expect(text.hasSuffix("data: [DONE]\n\n"), "the stream ends with [DONE]", sourceLocation: sourceLocation)
    var events: [[String: Any]] = []
    let blocks = text.components(separatedBy: "\n\n")
    #expect(blocks.last == "", sourceLocation: sourceLocation)
    for block in blocks.dropLast() {
        #expect(!block.contains("\n"), "one line per event: \(block)", sourceLocation: sourceLocation)
        let payload = try #require(block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil,
                                   "every event is a data line: \(block)", sourceLocation: sourceLocation)
        if payload == "[DONE]" { break }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any],
                                  sourceLocation: sourceLocation)
        events.append(object)
    }
    #expect(blocks.dropLast().last == "data: [DONE]", "nothing after [DONE]", sourceLocation: sourceLocation)
    return events
}

func withEngineServer(configuration: ServingConfiguration = ServingEngineTests.configuration(), maxBodySize: Int = 4096,
                      _ body: (LiveEngineServer) async throws -> Void) async throws {
    let server = try await LiveEngineServer(configuration: configuration, maxBodySize: maxBodySize)
    do {
        try await body(server)
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}

@Suite("OpenAI-compatible server")
struct OpenAIServerTests {
    static let chat = #"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}],"#

    @Test("a streamed chat is well-formed SSE whose content equals the non-streamed answer")
    func chatStream() async throws {
        try await withEngineServer { server in
            let whole = try await server.send("/v1/chat/completions", body: Self.chat + #""max_tokens":10,"temperature":0}"#)
            #expect(whole.status == 200)
            let json = try #require(whole.json)
            #expect(json["object"] as? String == "chat.completion")
            let choice = try #require((json["choices"] as? [[String: Any]])?.first)
            let message = try #require(choice["message"] as? [String: Any])
            let content = try #require(message["content"] as? String)
            #expect(choice["finish_reason"] as? String == "length")
            let usage = try #require(json["usage"] as? [String: Any])
            #expect(usage["completion_tokens"] as? Int == 10)

            let streamed = try await server.send("/v1/chat/completions", body: Self.chat
                + #""max_tokens":10,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}"#)
            #expect(streamed.status == 200)
            #expect(streamed.header("content-type") == "text/event-stream")
            let events = try parseSSE(streamed.body)
            #expect(events.count >= 3)
            let ids = Set(events.compactMap { $0["id"] as? String })
            #expect(ids.count == 1, "one id for the whole stream")
            #expect(events.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
            let first = try #require((events.first?["choices"] as? [[String: Any]])?.first)
            #expect((first["delta"] as? [String: Any])?["role"] as? String == "assistant")
            // Content chunks, then one chunk with the finish reason, then the usage chunk with no choices.
            let usageChunk = try #require(events.last)
            #expect((usageChunk["choices"] as? [Any])?.isEmpty == true)
            let streamedUsage = try #require(usageChunk["usage"] as? [String: Any])
            #expect(streamedUsage["completion_tokens"] as? Int == 10)
            #expect((streamedUsage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0 > 0,
                    "the same prompt a second time comes from the prefix cache")
            let contentEvents = events.dropLast()
            var text = ""
            for (index, event) in contentEvents.enumerated() {
                let choice = try #require((event["choices"] as? [[String: Any]])?.first)
                #expect(event.keys.contains("usage") && event["usage"] is NSNull, "usage is null until the usage chunk")
                let finish = choice["finish_reason"]
                if index == contentEvents.count - 1 {
                    #expect(finish as? String == "length")
                } else {
                    #expect(finish is NSNull)
                }
                text += ((choice["delta"] as? [String: Any])?["content"] as? String) ?? ""
            }
            #expect(text == content)
        }
    }

    @Test("a streamed completion carries text chunks and ends with the finish reason")
    func completionStream() async throws {
        try await withEngineServer { server in
            let reply = try await server.send("/v1/completions", body: #"{"prompt":"once upon a time","max_tokens":6,"temperature":0,"stream":true}"#)
            let events = try parseSSE(reply.body)
            #expect(events.allSatisfy { $0["object"] as? String == "text_completion" && !$0.keys.contains("usage") })
            let last = try #require((events.last?["choices"] as? [[String: Any]])?.first)
            #expect(last["finish_reason"] as? String == "length")
        }
    }

    struct BadRequest: Sendable, CustomTestStringConvertible {
        var name: String
        var path = "/v1/chat/completions"
        var body: String
        var headers: [(String, String)] = []
        var status: Int
        var param: String?
        var testDescription: String { name }
    }

    static let badRequests: [BadRequest] = [
        BadRequest(name: "malformed JSON", body: #"{"messages": ["#, status: 400),
        BadRequest(name: "messages missing", body: #"{"max_tokens": 3}"#, status: 400, param: "messages"),
        BadRequest(name: "n = 2", body: chat + #""n":2}"#, status: 400, param: "n"),
        BadRequest(name: "unknown priority", body: chat + #""priority":"urgent"}"#, status: 400, param: "priority"),
        BadRequest(name: "bad priority header", body: chat + #""max_tokens":2}"#, headers: [("X-Swell-Priority", "9")],
                   status: 400, param: "X-Swell-Priority"),
        BadRequest(name: "temperature out of range", body: chat + #""temperature":7}"#, status: 400, param: "temperature"),
        BadRequest(name: "max_tokens over the limit", body: chat + #""max_tokens":100000}"#, status: 400, param: "max_tokens"),
        BadRequest(name: "wrong type", body: chat + #""max_tokens":"many"}"#, status: 400, param: "max_tokens"),
        BadRequest(name: "token ids outside the vocabulary", path: "/v1/completions", body: #"{"prompt":[1,2,999999]}"#,
                   status: 400, param: "prompt"),
        BadRequest(name: "prompt longer than the context", path: "/v1/completions",
                   body: #"{"prompt":""# + String(repeating: "hello world ", count: 200) + #""}"#, status: 400, param: "prompt"),
        BadRequest(name: "body over the size limit", path: "/v1/completions",
                   body: #"{"prompt":""# + String(repeating: "x", count: 5000) + #""}"#, status: 413),
    ]

    @Test("bad requests get 4xx with OpenAI's error shape naming the field", arguments: badRequests)
    func badRequest(_ item: BadRequest) async throws {
        try await withEngineServer { server in
            let reply = try await server.send(item.path, body: item.body, headers: item.headers)
            #expect(reply.status == item.status, "\(reply.body)")
            let error = try #require(reply.json?["error"] as? [String: Any], "\(reply.body)")
            #expect(error["message"] is String)
            #expect(error["type"] is String)
            #expect(error.keys.contains("param") && error.keys.contains("code"))
            if let param = item.param { #expect(error["param"] as? String == param) }
            // The server is still fine afterwards.
            #expect(try await server.send("/health", method: .GET).status == 200)
        }
    }

    @Test("over its queue limit batch gets 429 with Retry-After while critical is served")
    func shedding() async throws {
        var configuration = ServingEngineTests.configuration()
        configuration.queueLimits = [.critical: 8, .standard: 8, .batch: 0]
        try await withEngineServer(configuration: configuration) { server in
            let shed = try await server.send("/v1/chat/completions", body: Self.chat + #""max_tokens":2,"priority":"batch"}"#)
            #expect(shed.status == 429)
            #expect(Int(shed.header("retry-after") ?? "") ?? 0 >= 1)
            #expect((shed.json?["error"] as? [String: Any])?["type"] as? String == "rate_limit_error")
            let viaHeader = try await server.send("/v1/chat/completions", body: Self.chat + #""max_tokens":2}"#,
                                                  headers: [("X-Swell-Priority", "batch")])
            #expect(viaHeader.status == 429)
            let critical = try await server.send("/v1/chat/completions", body: Self.chat + #""max_tokens":2,"priority":0}"#)
            #expect(critical.status == 200)
            #expect(try await server.metrics().contains(#"swell_engine_rejected_total{reason="queue_full"} 2"#))
        }
    }

    @Test("drain: /ready turns 503, new requests get 503, GET /drain reports drained")
    func drain() async throws {
        try await withEngineServer { server in
            #expect(try await server.send("/ready", method: .GET).status == 200)
            let drain = try await server.send("/drain")
            #expect(drain.status == 202)
            #expect(drain.json?["draining"] as? Bool == true)
            #expect(try await server.send("/ready", method: .GET).status == 503)
            let refused = try await server.send("/v1/completions", body: #"{"prompt":"hi","max_tokens":2}"#)
            #expect(refused.status == 503)
            let status = try await server.send("/drain", method: .GET)
            #expect(status.status == 200)
            #expect(status.json?["drained"] as? Bool == true)
            #expect(try await server.metrics().contains("swell_engine_draining 1"))
        }
    }

    @Test("a client that goes away mid-stream frees the request's blocks")
    func disconnectFreesBlocks() async throws {
        let server = try await LiveEngineServer(maxTokensLimit: 400, model: try ServingEngineTests.slowModel.get())
        do {
            var request = HTTPClientRequest(url: server.baseURL + "/v1/completions")
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: #"{"prompt":"a long story","max_tokens":400,"stream":true,"ignore_eos":true}"#))
            let reader = Task {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                for try await _ in response.body {}
            }
            try await waitFor("tokens are streaming") { server.engine.statistics().generatedTokens > 0 }
            reader.cancel() // closes the connection
            _ = await reader.result
            try await waitFor("the engine aborts the request and frees its blocks") {
                let statistics = server.engine.statistics()
                return statistics.running == 0 && statistics.kvCacheUsageRatio == 0 && statistics.finished[.abort] == 1
            }
            #expect(server.engine.statistics().generatedTokens < 400)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("a client that goes away during a non-streaming request cancels it and frees its blocks")
    func disconnectWithoutStreamingFreesBlocks() async throws {
        let server = try await LiveEngineServer(maxTokensLimit: 400, model: try ServingEngineTests.slowModel.get())
        do {
            var request = HTTPClientRequest(url: server.baseURL + "/v1/completions")
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: #"{"prompt":"a long story","max_tokens":400,"ignore_eos":true}"#))
            let reader = Task { _ = try await HTTPClient.shared.execute(request, timeout: .seconds(60)) }
            try await waitFor("tokens are being generated") { server.engine.statistics().generatedTokens > 0 }
            reader.cancel() // closes the connection before any byte of the response
            _ = await reader.result
            try await waitFor("the engine aborts the request and frees its blocks") {
                let statistics = server.engine.statistics()
                return statistics.running == 0 && statistics.kvCacheUsageRatio == 0 && statistics.finished[.abort] == 1
            }
            #expect(server.engine.statistics().generatedTokens < 400)
            // The server keeps serving on new connections.
            let reply = try await server.send("/v1/completions", body: #"{"prompt":"hi","max_tokens":2,"ignore_eos":true}"#)
            #expect(reply.status == 200)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("a streaming request whose client hangs up while it waits in the queue leaves the queue")
    func disconnectWhileWaiting() async throws {
        let server = try await LiveEngineServer(configuration: ServingEngineTests.configuration(maxRunning: 1),
                                                maxTokensLimit: 400, model: try ServingEngineTests.slowModel.get())
        do {
            func request(stream: Bool) -> HTTPClientRequest {
                var request = HTTPClientRequest(url: server.baseURL + "/v1/completions")
                request.method = .POST
                request.body = .bytes(ByteBuffer(string: #"{"prompt":"a long story","max_tokens":400,"ignore_eos":true,"stream":\#(stream)}"#))
                return request
            }
            let running = Task {
                let response = try await HTTPClient.shared.execute(request(stream: false), timeout: .seconds(60))
                return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
            }
            try await waitFor("the first request runs") { server.engine.statistics().running == 1 }
            let waiting = Task { _ = try await HTTPClient.shared.execute(request(stream: true), timeout: .seconds(60)) }
            try await waitFor("the second waits") { server.engine.statistics().waiting.values.reduce(0, +) == 1 }
            waiting.cancel() // its client closes the connection before any event
            _ = await waiting.result
            try await waitFor("the engine drops it from the queue") { server.engine.statistics().waiting.values.reduce(0, +) == 0 }
            // The running request goes on to its end, undisturbed (it may already be there).
            let (status, body) = try await running.value
            #expect(status == 200, "\(body)")
            #expect(body.contains(#""completion_tokens":400"#), "\(body)")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("metrics move as expected after known requests and pass promtool")
    func metrics() async throws {
        try await withEngineServer { server in
            for _ in 0..<3 {
                let reply = try await server.send("/v1/completions", body: #"{"prompt":"the same prompt every time","max_tokens":5,"ignore_eos":true}"#)
                #expect(reply.status == 200)
            }
            let text = try await server.metrics()
            func value(_ series: String) -> Double? {
                text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
                    .flatMap { Double($0.dropFirst(series.count + 1)) }
            }
            #expect(value(#"swell_engine_requests_total{finish_reason="length"}"#) == 3)
            #expect(value("swell_engine_generation_tokens_total") == 15)
            #expect(value("swell_engine_time_to_first_token_seconds_count") == 3)
            #expect(value("swell_engine_e2e_request_latency_seconds_count") == 3)
            #expect(value("swell_engine_request_queue_time_seconds_count") == 3)
            #expect(value("swell_engine_inter_token_latency_seconds_count") == 12)
            #expect(value("swell_engine_model_load_seconds") == 0.5)
            let prompt = try #require(value("swell_engine_prompt_tokens_total"))
            #expect(prompt.truncatingRemainder(dividingBy: 3) == 0 && prompt > 0)
            #expect(value("swell_engine_prefix_cache_queries_total") == prompt)
            #expect(value("swell_engine_prefix_cache_hits_total") ?? 0 > 0, "the second and third requests hit the cache")
            #expect(value("swell_engine_requests_running") == 0)
            #expect(value(#"swell_engine_requests_waiting{priority="batch"}"#) == 0)
            #expect(value("swell_engine_cpu_seconds_total") ?? 0 > 0)
            try Self.promtoolCheck(text)
        }
    }

    /// `promtool check metrics` (Debian's prometheus package, installed by hack/setup.sh).
    static func promtoolCheck(_ exposition: String) throws {
        let promtool = "/usr/bin/promtool"
        try #require(FileManager.default.isExecutableFile(atPath: promtool),
                     "promtool is missing: run hack/setup.sh (it installs Debian's prometheus package)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(exposition.utf8))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool: \(report)")
    }
}
