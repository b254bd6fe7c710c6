import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// One HTTP answer as tests look at it.
struct HTTPAnswer: Sendable {
    var status: Int
    var headers: [String: String]
    var body: String

    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    }

    /// The text of the first choice of a chat completion.
    var content: String? {
        ((json?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    var cachedTokens: Int {
        ((json?["usage"] as? [String: Any])?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
    }
}

/// Chat requests and Prometheus scrapes against routers and engines.
enum OpenAICalls {
    static func chatBody(model: String, system: String? = nil, turns: [String] = ["Say hello."], maxTokens: Int = 8,
                         stream: Bool = false, priority: String? = nil, ignoreEOS: Bool = false) -> String {
        var messages: [[String: String]] = []
        if let system { messages.append(["role": "system", "content": system]) }
        for (index, turn) in turns.enumerated() {
            messages.append(["role": index % 2 == 0 ? "user" : "assistant", "content": turn])
        }
        var body: [String: Any] = ["model": model, "messages": messages, "max_tokens": maxTokens, "temperature": 0]
        if stream { body["stream"] = true; body["stream_options"] = ["include_usage": true] }
        if let priority { body["priority"] = priority }
        if ignoreEOS { body["ignore_eos"] = true }
        let data = try! JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func post(_ url: String, _ body: String, headers: [String: String] = [:]) async throws -> HTTPAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(180))
        let bytes = try await response.body.collect(upTo: 8 << 20)
        return HTTPAnswer(status: Int(response.status.code),
                          headers: Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a }),
                          body: String(buffer: bytes))
    }

    static func get(_ url: String) async throws -> HTTPAnswer {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 8 << 20)
        return HTTPAnswer(status: Int(response.status.code), headers: [:], body: String(buffer: bytes))
    }

    /// Sum of every sample of `name` whose labels include `labels`, from a Prometheus text page.
    static func metric(_ page: String, _ name: String, _ labels: [String: String] = [:]) -> Double {
        var total = 0.0
        for line in page.split(separator: "\n") where line.hasPrefix(name) && !line.hasPrefix("#") {
            let rest = line.dropFirst(name.count)
            guard rest.first == "{" || rest.first == " " else { continue }
            let labelText = rest.first == "{" ? String(rest.dropFirst().prefix { $0 != "}" }) : ""
            guard labels.allSatisfy({ labelText.contains("\($0.key)=\"\($0.value)\"") }),
                  let value = Double(line.split(separator: " ").last ?? "") else { continue }
            total += value
        }
        return total
    }

    /// The events of an OpenAI SSE stream, parsed strictly: every event is one `data: ` line
    /// followed by a blank line, the last one is `[DONE]`, nothing else appears.
    static func strictSSE(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [[String: Any]] {
        var events: [[String: Any]] = []
        var sawDone = false
        let blocks = text.components(separatedBy: "\n\n")
        #expect(blocks.last == "", "the stream must end with a blank line", sourceLocation: sourceLocation)
        for block in blocks.dropLast() {
            #expect(!sawDone, "nothing may follow data: [DONE]", sourceLocation: sourceLocation)
            #expect(block.hasPrefix("data: ") && !block.contains("\n"), "not a single data line: \(block)", sourceLocation: sourceLocation)
            let payload = String(block.dropFirst("data: ".count))
            if payload == "[DONE]" {
                sawDone = true
                continue
            }
            guard let event = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any] else {
                Issue.record("not JSON: \(payload)", sourceLocation: sourceLocation)
                continue
            }
            events.append(event)
        }
        #expect(sawDone, "the stream must end with data: [DONE]", sourceLocation: sourceLocation)
        return events
    }

    /// The generated text of a chat stream's events.
    static func streamedContent(_ events: [[String: Any]]) -> String {
        events.compactMap { event in
            ((event["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
        }.joined()
    }
}
