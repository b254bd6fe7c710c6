import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SwellAPI
import SwellHTTP

/// The HTTP face of one replica: OpenAI-compatible completions over a `ServingEngine`, plus
/// `/health`, `/ready`, `/drain` and `/metrics` — the whole contract the control plane relies on.
public final class EngineServer: Service {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port; `onServerRunning` reports the one chosen.
        public var port: Int
        /// The id in `/v1/models` and responses.
        public var modelName: String
        public var maxBodySize: Int
        /// Longest prompt accepted, in tokens (default: the model's context).
        public var maxPromptTokens: Int?
        /// Largest max_tokens one request may ask for.
        public var maxTokensLimit: Int
        /// max_tokens when a request gives none.
        public var defaultMaxTokens: Int
        public var modelLoadSeconds: Double
        public var onServerRunning: @Sendable (Int) async -> Void

        public init(host: String = "127.0.0.1", port: Int = 8000, modelName: String, maxBodySize: Int = 1 << 20,
                    maxPromptTokens: Int? = nil, maxTokensLimit: Int = 4096, defaultMaxTokens: Int = 256,
                    modelLoadSeconds: Double = 0, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
            self.host = host
            self.port = port
            self.modelName = modelName
            self.maxBodySize = maxBodySize
            self.maxPromptTokens = maxPromptTokens
            self.maxTokensLimit = maxTokensLimit
            self.defaultMaxTokens = defaultMaxTokens
            self.modelLoadSeconds = modelLoadSeconds
            self.onServerRunning = onServerRunning
        }
    }

    public let engine: ServingEngine
    public let configuration: Configuration
    let metrics: EngineMetrics
    private let logger: Logger
    private let created = Int(Date().timeIntervalSince1970)

    public init(engine: ServingEngine, configuration: Configuration, logger: Logger = Logger(label: "swell.engine.http")) {
        self.engine = engine
        self.configuration = configuration
        self.logger = logger
        metrics = EngineMetrics(modelLoadSeconds: configuration.modelLoadSeconds)
    }

    public func run() async throws {
        let application = makeApplication()
        let engine = self.engine
        try await withGracefulShutdownHandler {
            try await application.run()
        } onGracefulShutdown: {
            // Stop admitting at once (and say so on /ready); in-flight requests finish.
            engine.beginDrain()
        }
    }

    func makeApplication() -> some ApplicationProtocol {
        let router = Router(context: ConnectionRequestContext.self)
        let engine = self.engine
        let metrics = self.metrics

        router.get("/health") { _, _ in Self.json(["status": "ok"]) }
        router.get("/ready") { _, _ in
            let statistics = engine.statistics()
            return statistics.draining ? Self.json(["status": "draining"], status: .serviceUnavailable)
                : Self.json(["status": "ready"])
        }
        router.post("/drain") { _, _ in
            engine.beginDrain()
            return Self.drainStatus(engine.statistics(), status: .accepted)
        }
        router.get("/drain") { _, _ in Self.drainStatus(engine.statistics(), status: .ok) }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition(engine.statistics()))))
        }
        router.get("/v1/models") { [configuration, created] _, _ in
            JSONResponse.encoded(ModelList(data: [.init(id: configuration.modelName, created: created,
                                                max_model_len: engine.model.config.contextLength)]))
        }
        router.post("/v1/completions") { [self] request, context in await self.handle(request, context, chat: false) }
        router.post("/v1/chat/completions") { [self] request, context in await self.handle(request, context, chat: true) }

        let onServerRunning = configuration.onServerRunning
        let logger = self.logger
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "swell-engine"),
            onServerRunning: { channel in
                await onServerRunning(channel.localAddress?.port ?? 0)
            },
            logger: logger)
    }

    // MARK: Completions

    private func handle(_ request: Request, _ context: ConnectionRequestContext, chat: Bool) async -> Response {
        let arrival = ContinuousClock.now
        do {
            let prepared = try await prepare(request, chat: chat)
            let stream: AsyncStream<ServingEvent>
            do {
                stream = try engine.submit(prepared.request)
            } catch {
                throw OpenAIError.from(error)
            }
            metrics.promptTokens.increment(by: Int64(prepared.request.promptTokens.count))
            let exchange = Exchange(server: self, chat: chat, parameters: prepared.parameters, arrival: arrival,
                                    promptText: prepared.promptText)
            if prepared.parameters.stream { return try await exchange.streamed(stream) }
            return try await cancellingOnDisconnect(context.channel) { try await exchange.whole(stream) }
        } catch let error as OpenAIError {
            if let reason = error.rejectionReason { metrics.rejected(reason) }
            return error.response
        } catch {
            return OpenAIError(status: .internalServerError, message: "\(error)", type: "server_error").response
        }
    }

    private struct Prepared {
        var request: ServingRequest
        var parameters: GenerationParameters
        var promptText: String
    }

    private func prepare(_ request: Request, chat: Bool) async throws -> Prepared {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxBodySize)
        } catch is NIOTooManyBytesError {
            throw OpenAIError(status: .contentTooLarge,
                              message: "the request body is larger than the limit of \(configuration.maxBodySize) bytes",
                              code: "body_too_large", rejectionReason: "invalid")
        }
        let data = Data(body.readableBytesView)
        let fields = try OpenAIRequestDecoder.decode(SamplingFields.self, from: data)
        let tokenizer = engine.model.tokenizer
        var promptTokens: [Int32]
        var promptText = ""
        var topLogprobs: Int?
        if chat {
            let chatBody = try OpenAIRequestDecoder.decode(ChatBody.self, from: data)
            guard !chatBody.messages.isEmpty else { throw OpenAIError.invalid("messages must not be empty", param: "messages") }
            for (index, message) in chatBody.messages.enumerated()
            where !["system", "user", "assistant", "developer", "tool"].contains(message.role) {
                throw OpenAIError.invalid("unknown role '\(message.role)'", param: "messages[\(index)].role")
            }
            guard let template = ChatTemplate(tokenizer: tokenizer) else {
                throw OpenAIError.invalid("this model has no chat template; use /v1/completions", param: "messages")
            }
            let rendered = template.render(chatBody.messages.map {
                ChatMessage(role: $0.role == "developer" ? "system" : $0.role, content: $0.content?.text ?? "")
            })
            promptTokens = tokenizer.encode(rendered)
            if chatBody.logprobs == true { topLogprobs = chatBody.top_logprobs ?? 0 }
            if chatBody.top_logprobs != nil, chatBody.logprobs != true {
                throw OpenAIError.invalid("top_logprobs requires logprobs to be true", param: "top_logprobs")
            }
        } else {
            let completion = try OpenAIRequestDecoder.decode(CompletionBody.self, from: data)
            switch completion.prompt {
            case .text(let text):
                promptText = text
                promptTokens = tokenizer.encode(text)
            case .tokens(let tokens):
                if let bad = tokens.first(where: { $0 < 0 || Int($0) >= engine.model.config.vocabularySize }) {
                    throw OpenAIError.invalid("token id \(bad) is outside the vocabulary (0..<\(engine.model.config.vocabularySize))",
                                              param: "prompt")
                }
                promptTokens = tokens
            }
            topLogprobs = completion.logprobs
        }
        var parameters = try OpenAIRequestDecoder.parameters(
            fields, topLogprobs: topLogprobs, defaultMaxTokens: configuration.defaultMaxTokens,
            maxTokensLimit: configuration.maxTokensLimit)
        if parameters.priority == nil, let header = request.headers[HTTPField.Name(RequestPriority.headerName)!] {
            guard let priority = RequestPriority(parsing: header) else {
                throw OpenAIError.invalid("\(RequestPriority.headerName) \(RequestPriority.expectation)",
                                          param: RequestPriority.headerName)
            }
            parameters.priority = priority
        }
        let promptLimit = configuration.maxPromptTokens ?? engine.model.config.contextLength
        if promptTokens.count > promptLimit {
            throw OpenAIError(status: .badRequest,
                              message: "the prompt has \(promptTokens.count) tokens; this server accepts at most \(promptLimit)",
                              param: chat ? "messages" : "prompt", code: "context_length_exceeded", rejectionReason: "invalid")
        }
        let serving = ServingRequest(
            id: (chat ? "chatcmpl-" : "cmpl-") + Self.randomID(), promptTokens: promptTokens,
            maxTokens: parameters.maxTokens, sampling: parameters.sampling, stopSequences: parameters.stop,
            stopAtEndOfGeneration: parameters.stopAtEndOfGeneration, topLogprobs: parameters.topLogprobs,
            priority: parameters.priority ?? .standard)
        return Prepared(request: serving, parameters: parameters, promptText: promptText)
    }

    // MARK: Responses

    static func randomID() -> String {
        String((0..<24).map { _ in "0123456789abcdef".randomElement()! })
    }

    static func json(_ object: [String: String], status: HTTPResponse.Status = .ok) -> Response {
        JSONResponse.encoded(object, status: status)
    }

    static func drainStatus(_ statistics: ServingStatistics, status: HTTPResponse.Status) -> Response {
        struct DrainStatus: Encodable {
            var draining: Bool
            var drained: Bool
            var running: Int
            var waiting: Int
        }
        return JSONResponse.encoded(DrainStatus(draining: statistics.draining, drained: statistics.drained, running: statistics.running,
                                   waiting: statistics.waiting.values.reduce(0, +)), status: status)
    }
}
