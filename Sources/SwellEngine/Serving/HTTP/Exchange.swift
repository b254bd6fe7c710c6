import Foundation
import Hummingbird
import NIOCore
import SwellAPI
import SwellHTTP

/// One completion request's trip through the engine: reads its events and answers as a whole
/// JSON response or as server-sent events, recording the request-level metrics on the way.
struct Exchange: Sendable {
    let server: EngineServer
    let chat: Bool
    let parameters: GenerationParameters
    let arrival: ContinuousClock.Instant
    let promptText: String
    let id: String
    let created = Int(Date().timeIntervalSince1970)

    init(server: EngineServer, chat: Bool, parameters: GenerationParameters, arrival: ContinuousClock.Instant,
         promptText: String) {
        self.server = server
        self.chat = chat
        self.parameters = parameters
        self.arrival = arrival
        self.promptText = promptText
        id = (chat ? "chatcmpl-" : "cmpl-") + EngineServer.randomID()
    }

    private var modelName: String { server.configuration.modelName }
    private var tokenizer: Tokenizer { server.engine.model.tokenizer }

    // MARK: Timing

    /// TTFT, inter-token and end-to-end latency of one request, measured here (not in the engine)
    /// so they include queueing and HTTP handling.
    final class Timing: @unchecked Sendable {
        let arrival: ContinuousClock.Instant
        let metrics: EngineMetrics
        private var lastToken: ContinuousClock.Instant?

        init(arrival: ContinuousClock.Instant, metrics: EngineMetrics) {
            self.arrival = arrival
            self.metrics = metrics
        }

        func tokens(_ count: Int) {
            guard count > 0 else { return }
            let now = ContinuousClock.now
            if let lastToken {
                let gap = (now - lastToken).inSeconds / Double(count)
                for _ in 0..<count { metrics.interTokenLatency.record(gap) }
            } else {
                metrics.timeToFirstToken.record((now - arrival).inSeconds)
                if count > 1 { for _ in 1..<count { metrics.interTokenLatency.record(0.0) } }
            }
            lastToken = now
        }

        func finished(_ completion: ServingCompletion) {
            metrics.endToEndLatency.record((ContinuousClock.now - arrival).inSeconds)
            metrics.queueTime.record(completion.queueSeconds)
            metrics.finished(completion.finishReason)
        }
    }

    // MARK: Whole responses

    func whole(_ stream: AsyncStream<ServingEvent>) async throws -> Response {
        let timing = Timing(arrival: arrival, metrics: server.metrics)
        var text = ""
        var logprobs: [TokenLogprob] = []
        var completion: ServingCompletion?
        for await event in stream {
            switch event {
            case .output(let output):
                timing.tokens(output.tokens.count)
                text += output.text
                logprobs += output.logprobs ?? []
            case .finished(let done):
                timing.finished(done)
                completion = done
            case .rejected(let error):
                throw OpenAIError.from(error)
            }
        }
        guard let completion else {
            throw OpenAIError(status: .serviceUnavailable, message: "the request was cancelled", type: "server_error")
        }
        try Self.checkFailure(completion)
        let usage = Usage(completion)
        let reason = completion.finishReason.rawValue
        if chat {
            let choice = Choice(payloadKey: "message", payload: ChatMessageBody(role: "assistant", content: text),
                                logprobs: chatLogprobs(logprobs), finishReason: reason)
            return JSONResponse.encoded(CompletionEnvelope(id: id, object: "chat.completion", created: created,
                                                           model: modelName, choices: [choice], usage: usage))
        }
        let choice = Choice(payloadKey: "text", payload: text,
                            logprobs: completionLogprobs(logprobs, offset: 0), finishReason: reason)
        return JSONResponse.encoded(CompletionEnvelope(id: id, object: "text_completion", created: created,
                                                       model: modelName, choices: [choice], usage: usage))
    }

    // MARK: Server-sent events

    /// Holds the event iterator across the response body's writer closure.
    private final class Events: @unchecked Sendable {
        var iterator: AsyncStream<ServingEvent>.AsyncIterator
        init(_ stream: AsyncStream<ServingEvent>) { iterator = stream.makeAsyncIterator() }
        func next() async -> ServingEvent? { await iterator.next() }
    }

    func streamed(_ stream: AsyncStream<ServingEvent>) async throws -> Response {
        let events = Events(stream)
        // Wait for the first event before committing to 200: a request shed from the queue
        // still gets its 429.
        let first = await events.next()
        if case .rejected(let error) = first { throw OpenAIError.from(error) }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let exchange = self
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let timing = Timing(arrival: exchange.arrival, metrics: exchange.server.metrics)
            var offset = exchange.promptText.utf8.count
            if exchange.chat {
                try await writer.write(exchange.chunk(ChatMessageBody(role: "assistant", content: ""), logprobs: nil))
            }
            var event = first
            while let current = event {
                switch current {
                case .output(let output):
                    timing.tokens(output.tokens.count)
                    if !output.text.isEmpty || output.logprobs != nil {
                        try await writer.write(exchange.contentChunk(output, offset: offset))
                        offset += output.text.utf8.count
                    }
                case .finished(let completion):
                    timing.finished(completion)
                    if let failure = Self.failure(completion) {
                        try await writer.write(Self.sse(failure.body))
                    } else {
                        try await writer.write(exchange.finalChunk(completion))
                        if exchange.parameters.includeUsage { try await writer.write(exchange.usageChunk(completion)) }
                    }
                case .rejected(let error):
                    try await writer.write(Self.sse(OpenAIError.from(error).body))
                }
                event = await events.next()
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        })
    }

    private func contentChunk(_ output: ServingOutput, offset: Int) -> ByteBuffer {
        if chat {
            return chunk(ChatMessageBody(content: output.text), logprobs: chatLogprobs(output.logprobs ?? []))
        }
        return completionChunk(output.text, logprobs: completionLogprobs(output.logprobs ?? [], offset: offset), finish: nil)
    }

    private func finalChunk(_ completion: ServingCompletion) -> ByteBuffer {
        if chat {
            let choice = Choice<ChatMessageBody, ChatLogprobs>(payloadKey: "delta", payload: ChatMessageBody(), logprobs: nil,
                                                               finishReason: completion.finishReason.rawValue)
            return envelope([choice])
        }
        return completionChunk("", logprobs: nil, finish: completion.finishReason.rawValue)
    }

    private func usageChunk(_ completion: ServingCompletion) -> ByteBuffer {
        let choices: [Choice<String, CompletionLogprobs>] = []
        var envelope = CompletionEnvelope(id: id, object: chat ? "chat.completion.chunk" : "text_completion", created: created,
                                          model: modelName, choices: choices, usage: Usage(completion))
        envelope.writeNullUsage = true
        return Self.sse((try? JSONEncoder().encode(envelope)) ?? Data())
    }

    private func chunk(_ delta: ChatMessageBody, logprobs: ChatLogprobs?) -> ByteBuffer {
        envelope([Choice(payloadKey: "delta", payload: delta, logprobs: logprobs, finishReason: nil)])
    }

    private func completionChunk(_ text: String, logprobs: CompletionLogprobs?, finish: String?) -> ByteBuffer {
        envelope([Choice(payloadKey: "text", payload: text, logprobs: logprobs, finishReason: finish)])
    }

    private func envelope<C: Encodable & Sendable>(_ choices: [C]) -> ByteBuffer {
        var envelope = CompletionEnvelope(id: id, object: chat ? "chat.completion.chunk" : "text_completion", created: created,
                                          model: modelName, choices: choices, usage: nil)
        envelope.writeNullUsage = parameters.includeUsage
        return Self.sse((try? JSONEncoder().encode(envelope)) ?? Data())
    }

    private static func sse(_ json: Data) -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }

    // MARK: Helpers

    private func chatLogprobs(_ entries: [TokenLogprob]) -> ChatLogprobs? {
        guard let top = parameters.topLogprobs else { return nil }
        return ChatLogprobs(entries, tokenizer: tokenizer, top: top)
    }

    private func completionLogprobs(_ entries: [TokenLogprob], offset: Int) -> CompletionLogprobs? {
        guard let top = parameters.topLogprobs else { return nil }
        return CompletionLogprobs(entries, tokenizer: tokenizer, top: top, startOffset: offset)
    }

    private static func failure(_ completion: ServingCompletion) -> OpenAIError? {
        switch completion.finishReason {
        case .stop, .length: nil
        case .abort: OpenAIError(status: .serviceUnavailable, message: "the engine stopped before the request finished",
                                 type: "server_error", code: "aborted")
        case .error: OpenAIError(status: .internalServerError, message: "the engine failed while running the request",
                                 type: "server_error", code: "engine_error")
        }
    }

    private static func checkFailure(_ completion: ServingCompletion) throws {
        if let failure = failure(completion) { throw failure }
    }
}
