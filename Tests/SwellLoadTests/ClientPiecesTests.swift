import Foundation
import Testing
@testable import SwellLoad

@Suite("Streams, targets and requests")
struct ClientPiecesTests {
    @Test("server-sent events split the same however the bytes are chunked")
    func events() {
        let stream = "data: {\"a\":1}\n\n: comment\ndata: {\"b\":2}\r\n\r\nevent: x\ndata: one\ndata: two\n\ndata: [DONE]\n\n"
        let bytes = Array(stream.utf8)
        let expected = ["{\"a\":1}", "{\"b\":2}", "one\ntwo", "[DONE]"]
        for chunk in [1, 2, 3, 7, bytes.count] {
            var events = ServerSentEvents()
            var found: [String] = []
            for start in stride(from: 0, to: bytes.count, by: chunk) {
                found += events.feed(bytes[start..<min(bytes.count, start + chunk)])
            }
            #expect(found == expected, "chunks of \(chunk)")
            #expect(events.finish() == nil)
        }
        var unterminated = ServerSentEvents()
        #expect(unterminated.feed(Array("data: last".utf8)).isEmpty)
        #expect(unterminated.finish() == "last")
    }

    @Test("loopback targets", arguments: [
        ("http://127.0.0.1:8080", true), ("http://127.1.2.3", true), ("http://localhost:8000/", true), ("https://LOCALHOST", true),
        ("http://[::1]:8000", true), ("http://api.localhost", true), ("http://10.0.0.5:8080", false), ("http://192.168.1.1", false),
        ("http://example.com", false), ("http://128.0.0.1", false), ("http://127.0.0.1.example.com", false), ("http://[::2]", false),
        ("http://0.0.0.0:8080", false), ("not a url", false),
    ])
    func loopback(url: String, expected: Bool) {
        #expect(TargetAddress.isLoopback(url) == expected)
    }

    @Test("target URLs must be http(s) with a host", arguments: [
        ("http://127.0.0.1:8080", true), ("https://h", true), ("ftp://h", false), ("127.0.0.1:8080", false), ("http://", false),
        ("http://h/?x=1", false),
    ])
    func targets(url: String, valid: Bool) {
        #expect((TargetAddress.problem(url) == nil) == valid)
    }

    @Test("the class mix follows its shares, and the same seed gives the same requests")
    func mix() {
        let mix = RequestMix(priorities: [.critical: 0.1, .standard: 0.6, .batch: 0.3])
        var factory = RequestFactory(mix: mix, model: "chat", seed: 5, runTag: "t")
        let requests = (0..<3000).map { _ in factory.next() }
        for (priority, share) in [(Priority.critical, 0.1), (.standard, 0.6), (.batch, 0.3)] {
            let count = Double(requests.filter { $0.priority == priority }.count)
            let sigma = (3000 * share * (1 - share)).squareRoot()
            #expect(abs(count - 3000 * share) < 4 * sigma, "\(priority): \(count)")
        }
        var again = RequestFactory(mix: mix, model: "chat", seed: 5, runTag: "t")
        #expect((0..<100).map { _ in again.next() } == Array(requests.prefix(100)))
    }

    @Test("a chat body: model, streamed usage, ignore_eos, priority, shared system prompt then a unique user prompt")
    func chatBody() throws {
        let mix = RequestMix(priorities: [.batch: 1], promptTokens: .fixed(20), outputTokens: .uniform(min: 5, max: 9),
                             systemPrompts: SystemPrompts(count: 2, tokens: 50, popularity: [3, 1]))
        var factory = RequestFactory(mix: mix, model: "chat", seed: 1, runTag: "run")
        let requests = (0..<400).map { _ in factory.next() }
        let first = try #require(try JSONSerialization.jsonObject(with: requests[0].body) as? [String: Any])
        #expect(first["model"] as? String == "chat")
        #expect(first["stream"] as? Bool == true)
        #expect((first["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        #expect(first["ignore_eos"] as? Bool == true)
        #expect(first["priority"] as? String == "batch")
        #expect((5...9).contains(first["max_tokens"] as? Int ?? 0))
        let messages = try #require(first["messages"] as? [[String: String]])
        #expect(messages.map { $0["role"] } == ["system", "user"])
        #expect(messages[0]["content"]?.split(separator: " ").count == 48)
        #expect(messages[1]["content"]?.hasPrefix("run-0 ") == true)
        let popular = Double(requests.filter { $0.systemPrompt == 0 }.count) / 400
        #expect(abs(popular - 0.75) < 0.1)
        func system(_ spec: RequestSpec) throws -> String? {
            ((try JSONSerialization.jsonObject(with: spec.body) as? [String: Any])?["messages"] as? [[String: String]])?.first?["content"]
        }
        let same = requests.filter { $0.systemPrompt == requests[0].systemPrompt }
        #expect(try Set(same.map(system)).count == 1)
        #expect(try Set(requests.map(system)).count == 2)
    }

    @Test("a completion body with the class in a header, without streaming")
    func completionBody() throws {
        var factory = RequestFactory(mix: RequestMix(api: .completion, stream: false, priorities: [.critical: 1], priorityPlacement: .header),
                                     model: "m", seed: 1, runTag: "x")
        let spec = factory.next(replaying: TraceRow(offset: 0, promptTokens: 30, outputTokens: 7, priority: .standard))
        let body = try #require(try JSONSerialization.jsonObject(with: spec.body) as? [String: Any])
        #expect(body["prompt"] is String)
        #expect(body["max_tokens"] as? Int == 7)
        #expect(body["stream"] as? Bool == false)
        #expect(body["stream_options"] == nil)
        #expect(body["priority"] == nil)
        #expect(spec.priorityHeader == "standard")
    }

    @Test("length distributions stay in range and centre where asked")
    func lengths() {
        var random = SeededRandom(seed: 3)
        let normal = (0..<5000).map { _ in LengthDistribution.normal(mean: 100, stddev: 20, min: 50, max: 130).sample(&random) }
        #expect(normal.allSatisfy { (50...130).contains($0) })
        #expect(abs(Double(normal.reduce(0, +)) / 5000 - 99.4) < 1.5)
        let lognormal = (0..<20000).map { _ in LengthDistribution.lognormal(mean: 80, stddev: 40, min: 1, max: 1_000_000).sample(&random) }
        #expect(abs(Double(lognormal.reduce(0, +)) / 20000 - 80) < 2)
        let uniform = (0..<5000).map { _ in LengthDistribution.uniform(min: 3, max: 6).sample(&random) }
        #expect(Set(uniform) == [3, 4, 5, 6])
    }
}
