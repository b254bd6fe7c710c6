import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SwellAPI
import SwellEngine

/// `swell engine serve` — one replica: the model behind an OpenAI-compatible HTTP API.
struct EngineServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over an OpenAI-compatible HTTP API (one replica).",
        discussion: """
            Prints the model load time, then "swell engine listening on http://HOST:PORT" once it \
            accepts connections. Endpoints: /v1/models, /v1/completions, /v1/chat/completions, \
            /health, /ready, POST|GET /drain, /metrics. SIGTERM or SIGINT drain: no new requests \
            are admitted, in-flight ones finish (up to --drain-timeout), then the process exits 0.
            """
    )

    @OptionGroup var modelOptions: EngineModelOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = 8000

    @Option(help: "Compute threads (default: all CPUs).")
    var threads: Int?

    @Option(name: .customLong("kv-cache-tokens"), help: "KV cache capacity in tokens (default 16384).")
    var kvCacheTokens: Int?

    @Option(name: .customLong("kv-cache-memory"),
            help: "KV cache capacity as memory, e.g. 512Mi or 2Gi: as many whole blocks as fit (instead of --kv-cache-tokens).")
    var kvCacheMemory: String?

    @Option(name: .customLong("block-size"), help: "Tokens per KV cache block.")
    var blockSize = 16

    @Option(name: .customLong("kv-cache-type"), help: "KV cache element type: f16 or f32.")
    var kvCacheType = KVCacheStorage.f16

    @Option(name: .customLong("max-batch-tokens"), help: "Token budget of one step (decodes plus prefill chunks).")
    var maxBatchTokens = 512

    @Option(name: .customLong("prefill-pack-tokens"),
            help: "A step packs several requests' prompts only while they fit in this many tokens together; longer ones go one after another (set it to --max-batch-tokens to pack as many as fit).")
    var prefillPackTokens = 64

    @Option(name: .customLong("max-running"), help: "Requests computed at once.")
    var maxRunning = 64

    @Option(name: .customLong("queue-limit-critical"), help: "Waiting critical requests before new ones get 429.")
    var queueLimitCritical = 256

    @Option(name: .customLong("queue-limit-standard"), help: "Waiting standard requests before new ones get 429.")
    var queueLimitStandard = 128

    @Option(name: .customLong("queue-limit-batch"), help: "Waiting batch requests before new ones get 429.")
    var queueLimitBatch = 64

    @Option(name: .customLong("aging-seconds"), help: "Waiting time after which a request counts as one class higher.")
    var agingSeconds = 10.0

    @Option(name: .customLong("max-body-size"), help: "Largest request body, in bytes (larger: 413).")
    var maxBodySize = 1 << 20

    @Option(name: .customLong("max-prompt-tokens"), help: "Longest prompt accepted (default: the model's context).")
    var maxPromptTokens: Int?

    @Option(name: .customLong("max-tokens-limit"), help: "Largest max_tokens a request may ask for (default: the context).")
    var maxTokensLimit: Int?

    @Option(name: .customLong("default-max-tokens"), help: "max_tokens when a request sets none.")
    var defaultMaxTokens = 256

    @Option(name: .customLong("served-model-name"), help: "Model id in the API (default: the file name without .gguf).")
    var servedModelName: String?

    @Option(name: .customLong("drain-timeout"), help: "Seconds SIGTERM waits for in-flight requests before aborting them.")
    var drainTimeout = 30.0

    @Flag(name: .customLong("no-prefix-caching"), help: "Do not reuse cached prompt prefixes across requests.")
    var noPrefixCaching = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard blockSize >= 1, blockSize <= 256 else { throw ValidationError("--block-size must be between 1 and 256") }
        if let kvCacheTokens, kvCacheTokens < blockSize { throw ValidationError("--kv-cache-tokens must hold at least one block") }
        if kvCacheTokens != nil, kvCacheMemory != nil {
            throw ValidationError("--kv-cache-tokens and --kv-cache-memory size the same cache: give one of them")
        }
        if let kvCacheMemory { _ = try Self.bytes(kvCacheMemory) }
        guard maxBatchTokens >= 1, prefillPackTokens >= 1, maxRunning >= 1 else {
            throw ValidationError("--max-batch-tokens, --prefill-pack-tokens and --max-running must be positive")
        }
        guard maxBodySize >= 1024 else { throw ValidationError("--max-body-size must be at least 1024 bytes") }
        guard drainTimeout >= 0 else { throw ValidationError("--drain-timeout must not be negative") }
    }

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "swell.engine")
        logger.logLevel = level

        let start = ContinuousClock.now
        let model: LlamaModel
        do {
            model = try modelOptions.load()
        } catch {
            // The agent reports this line as the replica's failure message.
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let loadSeconds = (ContinuousClock.now - start).inSeconds
        let name = servedModelName ?? Self.modelName(fromPath: modelOptions.model)
        let cacheTokens = try self.cacheTokens(config: model.config)
        let cacheBytes = cacheTokens * KVCacheSizing.bytesPerToken(config: model.config, storage: kvCacheType)
        print("swell engine: loaded \(name) in \(String(format: "%.3f", loadSeconds)) s "
              + "(\(model.config.layerCount) layers, context \(model.config.contextLength), "
              + "KV cache \(cacheTokens) tokens \(kvCacheType.rawValue), \(String(format: "%.1f", Double(cacheBytes) / 1_048_576)) MiB)")
        fflush(nil)

        let engine = ServingEngine(model: model, configuration: ServingConfiguration(
            threads: threads ?? WorkerPool.availableCPUs, pinThreads: !modelOptions.noPin, kvCacheTokens: cacheTokens,
            blockSize: blockSize, kvCacheStorage: kvCacheType, maxBatchTokens: maxBatchTokens,
            prefillPackTokens: prefillPackTokens,
            maxRunningRequests: maxRunning,
            queueLimits: [.critical: queueLimitCritical, .standard: queueLimitStandard, .batch: queueLimitBatch],
            agingSeconds: agingSeconds, prefixCaching: !noPrefixCaching))
        let host = self.host
        let server = EngineServer(engine: engine, configuration: .init(
            host: host, port: port, modelName: name, maxBodySize: maxBodySize, maxPromptTokens: maxPromptTokens,
            maxTokensLimit: maxTokensLimit ?? model.config.contextLength, defaultMaxTokens: defaultMaxTokens,
            modelLoadSeconds: loadSeconds,
            onServerRunning: { port in
                let shown = host.contains(":") ? "[\(host)]" : host
                FileHandle.standardOutput.write(Data("swell engine listening on http://\(shown):\(port)\n".utf8))
            }), logger: logger)
        // The engine is listed first so it stops last: in-flight requests finish before it goes.
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: engine), .init(service: server)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Past the drain timeout, what is left is cancelled (aborted) and the process exits.
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int(drainTimeout * 1000))
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
        logger.info("swell engine stopped")
    }

    /// The cache size in tokens, from --kv-cache-memory when given; a budget that holds no whole
    /// block is an error naming the flag and the block's size.
    private func cacheTokens(config: LlamaConfig) throws -> Int {
        guard let kvCacheMemory else { return kvCacheTokens ?? 16_384 }
        let bytes = try Self.bytes(kvCacheMemory)
        let tokens = KVCacheSizing.tokens(fitting: bytes, config: config, storage: kvCacheType, blockSize: blockSize)
        guard tokens > 0 else {
            let blockBytes = KVCacheSizing.bytesPerToken(config: config, storage: kvCacheType) * blockSize
            FileHandle.standardError.write(Data(
                "error: --kv-cache-memory \(kvCacheMemory) holds no KV cache block: one block of \(blockSize) tokens takes \(blockBytes) bytes (\(kvCacheType.rawValue))\n".utf8))
            throw ExitCode.validationFailure
        }
        return tokens
    }

    private static func bytes(_ text: String) throws -> Int {
        guard let quantity = try? Quantity(text), quantity.value > 0, quantity.value <= Decimal(Int64.max / 4) else {
            throw ValidationError("--kv-cache-memory: \"\(text)\" is not a positive quantity of bytes such as 512Mi or 2Gi")
        }
        return Int(quantity.integerValue)
    }

    static func modelName(fromPath path: String) -> String {
        let file = URL(fileURLWithPath: path).lastPathComponent
        return file.hasSuffix(".gguf") ? String(file.dropLast(5)) : file
    }
}
