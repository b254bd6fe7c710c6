import SwellAPI

/// One generation request as the serving engine sees it: tokens in, tokens and text out.
/// The HTTP layer turns OpenAI requests into these (chat template, tokenization, limits).
public struct ServingRequest: Sendable {
    /// Unique per engine; used in logs and in OpenAI response ids.
    public var id: String
    public var promptTokens: [Int32]
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Generation ends when one of these appears; the text before it is returned.
    public var stopSequences: [String]
    /// Stop at the tokenizer's end-of-generation tokens (false = OpenAI-style `ignore_eos`).
    public var stopAtEndOfGeneration: Bool
    /// When set, each output token carries its log-probability and this many top alternatives (0…20).
    public var topLogprobs: Int?
    public var priority: RequestPriority

    public init(id: String, promptTokens: [Int32], maxTokens: Int, sampling: SamplingParameters = .greedy,
                stopSequences: [String] = [], stopAtEndOfGeneration: Bool = true, topLogprobs: Int? = nil,
                priority: RequestPriority = .standard) {
        self.id = id
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopSequences = stopSequences
        self.stopAtEndOfGeneration = stopAtEndOfGeneration
        self.topLogprobs = topLogprobs
        self.priority = priority
    }
}

/// What a submitted request produces, in order: zero or more `.output`, then exactly one
/// `.finished` — or a lone `.rejected`.
public enum ServingEvent: Sendable {
    case output(ServingOutput)
    case finished(ServingCompletion)
    /// The request was queued, then shed to make room for a `critical` one (→ 429 with
    /// Retry-After); no other event follows.
    case rejected(AdmissionError)
}

/// Newly generated tokens and the text that became final with them. Text never splits a UTF-8
/// character and never contains (part of) a stop sequence; it may be empty while the
/// detokenizer or the stop filter holds bytes back.
public struct ServingOutput: Sendable {
    public var tokens: [Int32]
    public var text: String
    /// One entry per token when the request asked for logprobs.
    public var logprobs: [TokenLogprob]?

    public init(tokens: [Int32], text: String, logprobs: [TokenLogprob]? = nil) {
        self.tokens = tokens
        self.text = text
        self.logprobs = logprobs
    }
}

/// The log-probability of a chosen token under the model's distribution (before sampling
/// filters), with the most likely alternatives.
public struct TokenLogprob: Sendable, Equatable {
    public var token: Int32
    public var logprob: Float
    public var top: [(token: Int32, logprob: Float)]

    public init(token: Int32, logprob: Float, top: [(token: Int32, logprob: Float)]) {
        self.token = token
        self.logprob = logprob
        self.top = top
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.token == rhs.token && lhs.logprob == rhs.logprob
            && lhs.top.map(\.token) == rhs.top.map(\.token) && lhs.top.map(\.logprob) == rhs.top.map(\.logprob)
    }
}

/// How a request ended, with its accounting.
public struct ServingCompletion: Sendable {
    public var finishReason: ServingFinishReason
    public var promptTokens: Int
    /// Prompt tokens served from the prefix cache (OpenAI `prompt_tokens_details.cached_tokens`).
    public var cachedPromptTokens: Int
    public var completionTokens: Int
    /// From submission until the request was first scheduled.
    public var queueSeconds: Double
    /// How often the request was preempted and recomputed.
    public var preemptions: Int

    public init(finishReason: ServingFinishReason, promptTokens: Int, cachedPromptTokens: Int, completionTokens: Int,
                queueSeconds: Double, preemptions: Int) {
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.cachedPromptTokens = cachedPromptTokens
        self.completionTokens = completionTokens
        self.queueSeconds = queueSeconds
        self.preemptions = preemptions
    }
}

/// OpenAI's `finish_reason` values plus the ways a request can end early.
public enum ServingFinishReason: String, Sendable, CaseIterable {
    /// End-of-generation token or a stop sequence.
    case stop
    /// `max_tokens` reached or the context is full.
    case length
    /// The client went away or the stream was cancelled.
    case abort
    /// The engine failed while running the request.
    case error
}

/// Why the engine refuses a request before running it. The HTTP layer maps these to status
/// codes: `.queueFull` → 429 with `Retry-After`, `.draining` → 503, the others → 400.
public enum AdmissionError: Error, Sendable, Equatable, CustomStringConvertible {
    case emptyPrompt
    /// prompt + max_tokens exceeds the context window.
    case exceedsContext(promptTokens: Int, maxTokens: Int, contextLength: Int)
    /// prompt + max_tokens needs more KV cache than the whole cache holds.
    case exceedsCache(promptTokens: Int, maxTokens: Int, cacheTokens: Int)
    /// The waiting queue of this class is full; retry after the estimated drain time.
    case queueFull(priority: RequestPriority, retryAfterSeconds: Int)
    /// The engine is draining or shutting down.
    case draining

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt is empty"
        case .exceedsContext(let prompt, let maxTokens, let context):
            "this model's maximum context length is \(context) tokens; the request needs \(prompt + maxTokens) (\(prompt) in the prompt + \(maxTokens) max_tokens)"
        case .exceedsCache(let prompt, let maxTokens, let cache):
            "the KV cache holds \(cache) tokens; the request needs \(prompt + maxTokens) (\(prompt) in the prompt + \(maxTokens) max_tokens)"
        case .queueFull(let priority, let retryAfter):
            "the \(priority) queue is full; retry after \(retryAfter) s"
        case .draining:
            "the engine is draining and accepts no new requests"
        }
    }

    /// The label of `swell_engine_rejected_total{reason}`.
    public var metricReason: String {
        switch self {
        case .emptyPrompt, .exceedsContext, .exceedsCache: "invalid"
        case .queueFull: "queue_full"
        case .draining: "draining"
        }
    }
}

/// Storage type of the KV cache rows.
public enum KVCacheStorage: String, Sendable, CaseIterable {
    case f32
    case f16
}

/// Tuning of a serving engine; `swell engine serve` flags map one to one.
public struct ServingConfiguration: Sendable {
    /// Compute threads of the forward pass.
    public var threads: Int
    public var pinThreads: Bool
    /// Total KV cache capacity in tokens (rounded up to whole blocks).
    public var kvCacheTokens: Int
    /// Tokens per KV cache block.
    public var blockSize: Int
    public var kvCacheStorage: KVCacheStorage
    /// Token budget of one forward step: all running decodes plus prefill chunks.
    public var maxBatchTokens: Int
    /// A step packs several requests' prompts only while they fit in this many tokens together;
    /// longer prompts are computed one after another, so the first gets its first token first.
    public var prefillPackTokens: Int
    /// Sequences running at once.
    public var maxRunningRequests: Int
    /// Waiting requests allowed per class before new ones of that class are shed with 429.
    public var queueLimits: [RequestPriority: Int]
    /// Waiting time after which a request is treated as one class higher, so none starves.
    public var agingSeconds: Double
    /// Reuse cached prefix blocks across requests.
    public var prefixCaching: Bool

    public init(threads: Int = WorkerPool.availableCPUs, pinThreads: Bool = true, kvCacheTokens: Int = 16_384,
                blockSize: Int = 16, kvCacheStorage: KVCacheStorage = .f16, maxBatchTokens: Int = 512,
                prefillPackTokens: Int = 64, maxRunningRequests: Int = 64,
                queueLimits: [RequestPriority: Int] = [.critical: 256, .standard: 128, .batch: 64],
                agingSeconds: Double = 10, prefixCaching: Bool = true) {
        self.threads = threads
        self.pinThreads = pinThreads
        self.kvCacheTokens = kvCacheTokens
        self.blockSize = blockSize
        self.kvCacheStorage = kvCacheStorage
        self.maxBatchTokens = maxBatchTokens
        self.prefillPackTokens = prefillPackTokens
        self.maxRunningRequests = maxRunningRequests
        self.queueLimits = queueLimits
        self.agingSeconds = agingSeconds
        self.prefixCaching = prefixCaching
    }
}

/// A point-in-time view of the engine for `/metrics`, `/ready` and drain. Counters only grow.
public struct ServingStatistics: Sendable {
    public var running: Int = 0
    public var waiting: [RequestPriority: Int] = [:]
    /// Blocks in use by running sequences / all blocks (cached-but-unreferenced blocks count as free).
    public var kvCacheUsageRatio: Double = 0
    /// Prompt tokens looked up in the prefix cache, and how many of them were found.
    public var prefixCacheQueriedTokens: Int = 0
    public var prefixCacheHitTokens: Int = 0
    /// Prompt tokens actually computed (including recomputation after preemption), and tokens generated.
    public var computedPromptTokens: Int = 0
    public var generatedTokens: Int = 0
    public var preemptions: Int = 0
    /// Requests ended, by reason.
    public var finished: [ServingFinishReason: Int] = [:]
    public var draining: Bool = false
    /// True when draining and nothing is running or waiting.
    public var drained: Bool = false

    public init() {}
}
