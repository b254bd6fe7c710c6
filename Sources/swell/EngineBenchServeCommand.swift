import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// `swell engine bench-serve` — drives any OpenAI-compatible server with the shared-system-prompt
/// chat workload and reports throughput, TTFT and the prefix-cache hit rate.
struct EngineBenchServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-serve",
        abstract: "Benchmark an OpenAI-compatible server with concurrent chats sharing a system prompt.",
        discussion: """
            First measures time to first token of a cold request and of one whose system prompt is \
            already cached (median of --probes pairs, each with a fresh system prompt). Then runs \
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
            let system = Self.text(words: systemTokens, seed: "probe-\(run)-\(probe)")
            cold.append(try await chat(client, base, system: system, question: Self.text(words: questionTokens, seed: "q\(probe)a")).ttft)
            warm.append(try await chat(client, base, system: system, question: Self.text(words: questionTokens, seed: "q\(probe)b")).ttft)
        }

        let before = await prefixCounters(client, base)
        let system = Self.text(words: systemTokens, seed: "shared-\(run)")
        let start = ContinuousClock.now
        let samples = try await withThrowingTaskGroup(of: [Sample].self) { group in
            for index in 0..<clients {
                group.addTask {
                    var samples: [Sample] = []
                    for request in 0..<requests {
                        let question = Self.text(words: questionTokens, seed: "client\(index)-\(request)")
                        samples.append(try await chat(client, base, system: system, question: question))
                    }
                    return samples
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let wall = Self.seconds(ContinuousClock.now - start)
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
            "prefix_hit_rate": hitRate,
            "cold_ttft_seconds": Self.percentile(cold.sorted(), 0.5),
            "cached_ttft_seconds": Self.percentile(warm.sorted(), 0.5),
            "requests": Double(samples.count),
            "wall_seconds": wall,
        ]
        print(String(format: "%@: %d chats (%d clients), %.1f s: throughput %.1f tok/s, TTFT p50 %.0f ms p99 %.0f ms, "
                     + "prefix hit rate %.0f%%; TTFT cold %.0f ms vs cached prefix %.0f ms (%.0f%%)",
                     name, samples.count, clients, wall, result["throughput_tokens_per_second"]!,
                     result["ttft_p50_seconds"]! * 1000, result["ttft_p99_seconds"]! * 1000, hitRate * 100,
                     result["cold_ttft_seconds"]! * 1000, result["cached_ttft_seconds"]! * 1000,
                     100 * result["cached_ttft_seconds"]! / max(result["cold_ttft_seconds"]!, 1e-9)))
        if let jsonOut {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .prettyPrinted])
            try data.write(to: URL(fileURLWithPath: jsonOut))
        }
    }

    /// One streamed chat: time to the first content token, and usage when the server sends it.
    private func chat(_ client: HTTPClient, _ base: String, system: String, question: String) async throws -> Sample {
        struct Body: Encodable {
            struct Message: Encodable { var role: String; var content: String }
            struct StreamOptions: Encodable { var include_usage = true }
            var messages: [Message]
            var max_tokens: Int
            var temperature = 0.0
            var stream = true
            var stream_options = StreamOptions()
            var ignore_eos = true
        }
        var request = HTTPClientRequest(url: base + "/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        let body = Body(messages: [.init(role: "system", content: system), .init(role: "user", content: question)],
                        max_tokens: maxTokens)
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let start = ContinuousClock.now
        let response = try await client.execute(request, timeout: .seconds(600))
        guard response.status == .ok else {
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            throw ValidationError("\(base) answered \(response.status.code): \(text)")
        }
        var ttft: Double?
        var pending = ""
        var sample = Sample(ttft: 0, seconds: 0, completionTokens: 0, promptTokens: 0, cachedTokens: 0)
        var chunks = 0
        for try await buffer in response.body {
            pending += String(buffer: buffer)
            while let end = pending.range(of: "\n\n") {
                let line = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                guard line.hasPrefix("data: "), line != "data: [DONE]",
                      let json = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
                else { continue }
                if let choice = (json["choices"] as? [[String: Any]])?.first,
                   let content = (choice["delta"] as? [String: Any])?["content"] as? String, !content.isEmpty {
                    chunks += 1
                    if ttft == nil { ttft = Self.seconds(ContinuousClock.now - start) }
                }
                if let usage = json["usage"] as? [String: Any] {
                    sample.completionTokens = usage["completion_tokens"] as? Int ?? 0
                    sample.promptTokens = usage["prompt_tokens"] as? Int ?? 0
                    sample.cachedTokens = (usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
                }
            }
        }
        sample.ttft = ttft ?? Self.seconds(ContinuousClock.now - start)
        sample.seconds = Self.seconds(ContinuousClock.now - start)
        if sample.completionTokens == 0 { sample.completionTokens = chunks }
        return sample
    }

    /// Our engine's prefix-cache counters, when the server exposes them.
    private func prefixCounters(_ client: HTTPClient, _ base: String) async -> (queries: Double, hits: Double)? {
        // The body is read even when the status is not 200: llama-server answers 501 with
        // `Connection: close`, and an unread body leaves the pooled connection unusable.
        guard let response = try? await client.execute(HTTPClientRequest(url: base + "/metrics"), timeout: .seconds(30)),
              let body = try? await response.body.collect(upTo: 8 << 20), response.status == .ok else { return nil }
        var queries: Double?, hits: Double?
        for line in String(buffer: body).split(separator: "\n") {
            if line.hasPrefix("swell_engine_prefix_cache_queries_total ") { queries = Double(line.split(separator: " ")[1]) }
            if line.hasPrefix("swell_engine_prefix_cache_hits_total ") { hits = Double(line.split(separator: " ")[1]) }
        }
        guard let queries, let hits else { return nil }
        return (queries, hits)
    }

    /// Deterministic filler text of about `words` tokens (common short words are one token each).
    static func text(words: Int, seed: String) -> String {
        let vocabulary = ["the", "river", "stone", "light", "green", "quiet", "house", "north", "paper", "clock",
                          "bread", "window", "garden", "winter", "music", "road", "cloud", "silver", "market", "forest"]
        var state = UInt64(truncatingIfNeeded: seed.utf8.reduce(1469598103934665603) { ($0 ^ UInt64($1)) &* 1099511628211 })
        var out: [String] = [seed]
        for _ in 0..<max(0, words - 3) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            out.append(vocabulary[Int((state >> 33) % UInt64(vocabulary.count))])
        }
        return out.joined(separator: " ")
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
