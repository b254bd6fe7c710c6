import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwellAPI

/// Sends completion requests to an OpenAI-compatible server and times them from the stream.
public struct CompletionClient: Sendable {
    /// What one request measured, before the run places it in time.
    public struct Measurement: Sendable, Equatable {
        public var outcome: RequestResult.Outcome
        public var ttft: Double?
        public var interTokenGaps: [Double] = []
        public var e2e: Double = 0
        public var promptTokens = 0
        public var completionTokens = 0
        public var cachedTokens = 0
    }

    public let http: HTTPClient
    public let baseURL: String
    public let api: RequestMix.API
    public let timeoutSeconds: Double

    public init(http: HTTPClient, baseURL: String, api: RequestMix.API, timeoutSeconds: Double) {
        self.http = http
        self.baseURL = TargetAddress.base(baseURL)
        self.api = api
        self.timeoutSeconds = timeoutSeconds
    }

    public var path: String { api == .chat ? "/v1/chat/completions" : "/v1/completions" }

    /// Sends one request and reads its answer to the end. Never throws: every failure is an outcome.
    /// `onFirstToken` is told the TTFT as soon as it is known, for live progress.
    public func send(_ spec: RequestSpec, onFirstToken: (Double) -> Void = { _ in }) async -> Measurement {
        let start = ContinuousClock.now
        var measurement = Measurement(outcome: .failed("no response"))
        do {
            var request = HTTPClientRequest(url: baseURL + path)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            if let header = spec.priorityHeader { request.headers.add(name: "X-Swell-Priority", value: header) }
            request.body = .bytes(ByteBuffer(bytes: spec.body))
            let response = try await http.execute(request, deadline: .now() + .milliseconds(Int64(timeoutSeconds * 1000)))
            if response.status != .ok {
                let body = try await response.body.collect(upTo: 1 << 20)
                measurement.outcome = Self.refusal(response.status, headers: response.headers, body: String(buffer: body))
            } else if response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true {
                try await readStream(response, start: start, into: &measurement, onFirstToken: onFirstToken)
            } else {
                let body = try await response.body.collect(upTo: 64 << 20)
                readWhole(Data(body.readableBytesView), into: &measurement)
            }
        } catch is CancellationError {
            measurement.outcome = .cancelled
        } catch {
            measurement.outcome = Task.isCancelled ? .cancelled : .failed(Self.describe(error))
        }
        measurement.e2e = (ContinuousClock.now - start).inSeconds
        return measurement
    }

    private func readStream(_ response: HTTPClientResponse, start: ContinuousClock.Instant, into measurement: inout Measurement,
                            onFirstToken: (Double) -> Void) async throws {
        var events = ServerSentEvents()
        var lastChunk: ContinuousClock.Instant?
        var done = false
        var failure: String?
        func handle(_ data: String) {
            if data == "[DONE]" {
                done = true
                return
            }
            guard let json = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else {
                failure = failure ?? "a stream event is not JSON: \(data.prefix(200))"
                return
            }
            if let error = json["error"] as? [String: Any] {
                failure = failure ?? "error in stream: \(error["message"] as? String ?? "\(error)")"
                return
            }
            if let usage = json["usage"] as? [String: Any] { Self.readUsage(usage, into: &measurement) }
            if let choice = (json["choices"] as? [[String: Any]])?.first, Self.hasText(choice) {
                let now = ContinuousClock.now
                if let lastChunk {
                    measurement.interTokenGaps.append((now - lastChunk).inSeconds)
                } else {
                    let ttft = (now - start).inSeconds
                    measurement.ttft = ttft
                    onFirstToken(ttft)
                }
                lastChunk = now
            }
        }
        for try await buffer in response.body {
            for data in events.feed(buffer.readableBytesView) { handle(data) }
        }
        if let last = events.finish() { handle(last) }
        if let failure {
            measurement.outcome = .failed(failure)
        } else if !done {
            measurement.outcome = .failed("the stream ended before data: [DONE]")
        } else {
            measurement.outcome = .ok
        }
    }

    private func readWhole(_ data: Data, into measurement: inout Measurement) {
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            measurement.outcome = .failed("the response is not JSON: \(String(decoding: data.prefix(200), as: UTF8.self))")
            return
        }
        if let usage = json["usage"] as? [String: Any] { Self.readUsage(usage, into: &measurement) }
        measurement.outcome = .ok
    }

    static func hasText(_ choice: [String: Any]) -> Bool {
        if let content = (choice["delta"] as? [String: Any])?["content"] as? String { return !content.isEmpty }
        if let text = choice["text"] as? String { return !text.isEmpty }
        return false
    }

    static func readUsage(_ usage: [String: Any], into measurement: inout Measurement) {
        measurement.promptTokens = usage["prompt_tokens"] as? Int ?? 0
        measurement.completionTokens = usage["completion_tokens"] as? Int ?? 0
        measurement.cachedTokens = (usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
    }

    /// 429 is shedding; everything else is a failure described by the server's own message.
    static func refusal(_ status: HTTPResponseStatus, headers: HTTPHeaders, body: String) -> RequestResult.Outcome {
        if status == .tooManyRequests {
            return .shed(retryAfter: headers.first(name: "retry-after").flatMap { Int($0) })
        }
        var message = body.trimmingCharacters(in: .whitespacesAndNewlines)
        if let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
           let error = json["error"] as? [String: Any], let text = error["message"] as? String {
            message = text
        }
        return .failed("HTTP \(status.code): \(message.prefix(300))")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            if error == .deadlineExceeded { return "timed out" }
            if error == .connectTimeout { return "connect timed out" }
        }
        return "\(error)"
    }
}
