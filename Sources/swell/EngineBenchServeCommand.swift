import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import SwellAPI
import SwellClient
import SwellLoad

/// `swell engine bench-serve` — drives any OpenAI-compatible server with the shared-system-prompt
/// chat workload and reports throughput, TTFT and the prefix-cache hit rate.
struct EngineBenchServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-serve",
        abstract: "Benchmark an OpenAI-compatible server with concurrent chats sharing a system prompt.",
        discussion: """
            First measures time to first token of a cold request and of one whose system prompt is \
            already cached (median of --probes pairs, each with a fresh system prompt; the cached share \
            is the median of the pairs' own ratios, each pair measured back to back, which a machine \
            whose speed drifts disturbs least). Then runs \
            --clients concurrent clients, each sending --requests chats that share one system prompt \
            of about --system-tokens tokens and differ in a question of about --question-tokens tokens, \
            streaming --max-tokens tokens each. Works against `swell engine serve` and llama-server.
            """
    )

    @Option(help: "Base URL of the server, e.g. http://127.0.0.1:8000.")
    var url: String

    @Option(help: "Label for the report.")
    var name = "server"

    @Option(help: "Concurrent clients.")
    var clients = 8

    @Option(help: "Chats per client.")
    var requests = 4

    @Option(name: .customLong("system-tokens"), help: "Approximate tokens of the shared system prompt.")
    var systemTokens = 400

    @Option(name: .customLong("question-tokens"), help: "Approximate tokens of each question.")
    var questionTokens = 50

    @Option(name: .customLong("max-tokens"), help: "Tokens generated per chat.")
    var maxTokens = 64

    @Option(help: "Cold/cached TTFT pairs to measure.")
    var probes = 3

    @Option(help: "The model field of each request (a router needs the service name).")
    var model: String?

    @Flag(help: "Each client's chats form one conversation: every request repeats the earlier turns (with a fixed stand-in for the earlier answers).")
    var conversation = false

    @Option(name: .customLong("json-out"), help: "Also write the results as JSON to this file.")
    var jsonOut: String?

    struct Sample: Sendable {
        var ttft: Double
        var seconds: Double
        var completionTokens: Int
        var promptTokens: Int
        var cachedTokens: Int
    }

    func run() async throws {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, clients + 1)
        // One connection per request: llama-server closes idle keep-alive connections on its own
        // schedule, and reusing one it is closing fails with "I/O on closed channel". A loopback
        // connect costs far less than the requests measured.
        configuration.maximumUsesPerConnection = 1
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await measure(client, base)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func measure(_ client: HTTPClient, _ base: String) async throws {
        let run = UInt64(Date().timeIntervalSince1970 * 1000)

        // Cold vs cached TTFT, one pair at a time on an otherwise idle server.
        var cold: [Double] = [], warm: [Double] = []
        for probe in 0..<probes {
            let system = PromptText.text(words: systemTokens, seed: "probe-\(run)-\(probe)")
            // One token each: only the time to it counts.
            cold.append(try await chat(client, base, system: system, question: PromptText.text(words: questionTokens, seed: "q\(probe)a"), tokens: 1).ttft)
            warm.append(try await chat(client, base, system: system, question: PromptText.text(words: questionTokens, seed: "q\(probe)b"), tokens: 1).ttft)
        }

        let before = await prefixCounters(client, base)
        let system = PromptText.text(words: systemTokens, seed: "shared-\(run)")
        let start = ContinuousClock.now
        let samples = try await withThrowingTaskGroup(of: [Sample].self) { group in
            for index in 0..<clients {
                group.addTask {
                    var samples: [Sample] = []
                    var history: [String] = []
                    for request in 0..<requests {
                        let question = PromptText.text(words: questionTokens, seed: "client\(index)-\(request)")
                        samples.append(try await chat(client, base, system: system, question: question, history: history))
                        if conversation {
                            history += [question, PromptText.text(words: 24, seed: "answer-\(index)-\(request)")]
                        }
                    }
                    return samples
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let wall = (ContinuousClock.now - start).inSeconds
        let after = await prefixCounters(client, base)

        let tokens = samples.reduce(0) { $0 + $1.completionTokens }
        let ttfts = samples.map(\.ttft).sorted()
        let prompt = samples.reduce(0) { $0 + $1.promptTokens }
        let cached = samples.reduce(0) { $0 + $1.cachedTokens }
        let hitRate: Double = if let before, let after, after.queries > before.queries {
            (after.hits - before.hits) / (after.queries - before.queries)
        } else {
            prompt > 0 ? Double(cached) / Double(prompt) : 0
        }
        let result: [String: Double] = [
            "throughput_tokens_per_second": Double(tokens) / wall,
            "ttft_p50_seconds": Self.percentile(ttfts, 0.5),
            "ttft_p99_seconds": Self.percentile(ttfts, 0.99),
            "ttft_mean_seconds": ttfts.reduce(0, +) / Double(max(1, ttfts.count)),
            "prefix_hit_rate": hitRate,
            "cold_ttft_seconds": Self.percentile(cold.sorted(), 0.5),
            "cached_ttft_seconds": Self.percentile(warm.sorted(), 0.5),
            "cached_ttft_share": Self.percentile(zip(warm, cold).map { $0 / max($1, 1e-9) }.sorted(), 0.5),
            "requests": Double(samples.count),
            "wall_seconds": wall,
        ]
        print(String(format: "%@: %d chats (%d clients), %.1f s: throughput %.1f tok/s, TTFT p50 %.0f ms p99 %.0f ms, "
                     + "prefix hit rate %.0f%%; TTFT cold %.0f ms vs cached prefix %.0f ms (%.1f%%, median of %d pairs)",
                     name, samples.count, clients, wall, result["throughput_tokens_per_second"]!,
                     result["ttft_p50_seconds"]! * 1000, result["ttft_p99_seconds"]! * 1000, hitRate * 100,
                     result["cold_ttft_seconds"]! * 1000, result["cached_ttft_seconds"]! * 1000,
                     100 * result["cached_ttft_share"]!, probes))
        if let jsonOut {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .prettyPrinted])
            try data.write(to: URL(fileURLWithPath: jsonOut))
        }
    }

    /// One streamed chat: time to the first content token, and usage when the server sends it.
    /// - Parameter history: earlier turns of the conversation, user and assistant alternating.
    private func chat(_ client: HTTPClient, _ base: String, system: String, question: String,
                      history: [String] = [], tokens: Int? = nil) async throws -> Sample {
        struct Body: Encodable {
            struct Message: Encodable { var role: String; var content: String }
            struct StreamOptions: Encodable { var include_usage = true }
            var model: String?
            var messages: [Message]
            var max_tokens: Int
            var temperature = 0.0
            var stream = true
            var stream_options = StreamOptions()
            var ignore_eos = true
        }
        let turns = history.enumerated().map { Body.Message(role: $0.offset % 2 == 0 ? "user" : "assistant", content: $0.element) }
        let body = Body(model: model, messages: [.init(role: "system", content: system)] + turns + [.init(role: "user", content: question)],
                        max_tokens: tokens ?? maxTokens)
        let spec = RequestSpec(index: 0, priority: .standard, promptWords: systemTokens + questionTokens, maxTokens: tokens ?? maxTokens,
                               body: try JSONEncoder().encode(body))
        let measured = await CompletionClient(http: client, baseURL: base, api: .chat, timeoutSeconds: 600).send(spec)
        guard measured.outcome == .ok else { throw ValidationError("\(base): \(measured.outcome)") }
        let chunks = measured.ttft == nil ? 0 : measured.interTokenGaps.count + 1
        return Sample(ttft: measured.ttft ?? measured.e2e, seconds: measured.e2e,
                      completionTokens: measured.completionTokens > 0 ? measured.completionTokens : chunks,
                      promptTokens: measured.promptTokens, cachedTokens: measured.cachedTokens)
    }

    /// Our engine's prefix-cache counters, when the server exposes them.
    private func prefixCounters(_ client: HTTPClient, _ base: String) async -> (queries: Double, hits: Double)? {
        // The body is read even when the status is not 200: llama-server answers 501 with
        // `Connection: close`, and an unread body leaves the pooled connection unusable.
        guard let response = try? await client.execute(HTTPClientRequest(url: base + "/metrics"), timeout: .seconds(30)),
              let body = try? await response.body.collect(upTo: 8 << 20), response.status == .ok,
              let exposition = try? PrometheusExposition(parsing: String(buffer: body)),
              let queries = exposition.sum("swell_engine_prefix_cache_queries_total"),
              let hits = exposition.sum("swell_engine_prefix_cache_hits_total")
        else { return nil }
        return (queries, hits)
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}
