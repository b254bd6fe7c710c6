import Foundation
import SwellAPI
import Testing
@testable import SwellEngine

/// A real ServingEngine on a tiny model, run as a task the test ends.
final class RunningEngine: Sendable {
    let engine: ServingEngine
    private let task: Task<Void, any Error>

    init(_ engine: ServingEngine) {
        self.engine = engine
        task = Task { try await engine.run() }
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

struct Collected: Sendable {
    var tokens: [Int32] = []
    var text = ""
    var completion: ServingCompletion?
    var rejection: AdmissionError?
}

func collect(_ stream: AsyncStream<ServingEvent>) async -> Collected {
    var result = Collected()
    for await event in stream {
        switch event {
        case .output(let output):
            result.tokens += output.tokens
            result.text += output.text
        case .finished(let completion):
            result.completion = completion
        case .rejected(let error):
            result.rejection = error
        }
    }
    return result
}

/// Waits for `condition`; the limit only guards against a hang.
func waitFor(_ what: Comment, limit: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation,
             _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting: \(what)", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

@Suite("Serving engine")
struct ServingEngineTests {
    static let model = Result { try TinyModel.model() }
    /// A larger tiny model (milliseconds per step): long generations that a cancellation can
    /// reliably interrupt even when the machine is busy with other tests.
    static let slowModel = Result {
        var options = TinyModel.Options()
        options.embedding = 256
        options.feedForward = 768
        options.layers = 8
        options.contextLength = 512
        return try TinyModel.model(options)
    }

    static func configuration(kvCacheTokens: Int = 1024, blockSize: Int = 8, maxRunning: Int = 16,
                              maxBatchTokens: Int = 64,
                              queueLimits: [RequestPriority: Int] = [.critical: 64, .standard: 64, .batch: 64]) -> ServingConfiguration {
        ServingConfiguration(threads: 1, pinThreads: false, kvCacheTokens: kvCacheTokens, blockSize: blockSize,
                             kvCacheStorage: .f32, maxBatchTokens: maxBatchTokens, maxRunningRequests: maxRunning,
                             queueLimits: queueLimits, agingSeconds: 30)
    }

    static func request(_ prompt: [Int32], maxTokens: Int = 12, priority: RequestPriority = .standard) -> ServingRequest {
        ServingRequest(id: UUID().uuidString, promptTokens: prompt, maxTokens: maxTokens,
                       stopAtEndOfGeneration: false, priority: priority)
    }

    /// Greedy tokens of a single sequence on a plain context: the reference.
    static func reference(_ model: LlamaModel, _ prompt: [Int32], maxTokens: Int = 12) throws -> [Int32] {
        let context = InferenceContext(model: model, contextLength: 128, threads: 1, pinned: false)
        return try Generator(context: context).generate(
            prompt: prompt, options: GenerationOptions(maxTokens: maxTokens, stopAtEndOfGeneration: false)).tokens
    }

    static func prompt(_ seed: Int, length: Int, vocabulary: Int) -> [Int32] {
        (0..<length).map { Int32(($0 * 13 + seed * 7 + 1) % vocabulary) }
    }

    @Test("concurrent requests sharing a prefix give each the greedy output it gets alone, the later ones from the cache")
    func concurrentRequestsMatchSingleRuns() async throws {
        let model = try Self.model.get()
        let vocabulary = model.config.vocabularySize
        let system = Self.prompt(0, length: 40, vocabulary: vocabulary)
        let prompts = (1...4).map { system + Self.prompt($0, length: 5, vocabulary: vocabulary) }
        let expected = try prompts.map { try Self.reference(model, $0) }

        let running = RunningEngine(ServingEngine(model: model, configuration: Self.configuration()))
        // A first request warms the cache with the shared prefix.
        let first = await collect(try running.engine.submit(Self.request(prompts[0])))
        #expect(first.tokens == expected[0])
        #expect(first.completion?.cachedPromptTokens == 0)
        let streams = try prompts.map { try running.engine.submit(Self.request($0)) }
        var results: [Collected] = []
        for stream in streams { results.append(await collect(stream)) }
        for (result, tokens) in zip(results, expected) {
            #expect(result.tokens == tokens)
            #expect(result.completion?.finishReason == .length)
            #expect(result.completion?.cachedPromptTokens == 40, "five full 8-token blocks of the shared prefix")
        }
        let statistics = running.engine.statistics()
        #expect(statistics.prefixCacheHitTokens == 4 * 40)
        #expect(statistics.prefixCacheQueriedTokens == 5 * 45)
        #expect(statistics.generatedTokens == 5 * 12)
        #expect(statistics.finished[.length] == 5)
        await running.stop()
    }

    @Test("higher classes run first when only one request runs at a time")
    func priorityOrder() async throws {
        let model = try Self.model.get()
        let engine = ServingEngine(model: model, configuration: Self.configuration(maxRunning: 1))
        let order = OrderRecorder()
        // Queued before the engine runs, so all three wait together.
        var tasks: [Task<Void, Never>] = []
        for (index, priority) in [RequestPriority.batch, .standard, .critical].enumerated() {
            let stream = try engine.submit(Self.request(Self.prompt(index, length: 6, vocabulary: 200), maxTokens: 4,
                                                        priority: priority))
            tasks.append(Task {
                _ = await collect(stream)
                order.append(priority)
            })
        }
        let running = RunningEngine(engine)
        for task in tasks { await task.value }
        #expect(order.values == [.critical, .standard, .batch])
        await running.stop()
    }

    @Test("a full batch queue sheds batch with Retry-After; critical displaces a waiting batch request and is served")
    func shedding() async throws {
        let model = try Self.model.get()
        let engine = ServingEngine(model: model, configuration: Self.configuration(
            maxRunning: 1, queueLimits: [.critical: 1, .standard: 1, .batch: 1]))
        let prompt = Self.prompt(3, length: 6, vocabulary: 200)
        let batch = try engine.submit(Self.request(prompt, priority: .batch))
        #expect(throws: AdmissionError.self) { try engine.submit(Self.request(prompt, priority: .batch)) }
        do {
            _ = try engine.submit(Self.request(prompt, priority: .batch))
            Issue.record("a second batch request should be shed")
        } catch {
            guard case .queueFull(let priority, let retryAfter) = error else {
                Issue.record("expected queueFull, got \(error)")
                return
            }
            #expect(priority == .batch)
            #expect(retryAfter >= 1)
        }
        let critical = try engine.submit(Self.request(prompt, priority: .critical))
        let secondCritical = try engine.submit(Self.request(prompt, priority: .critical))
        let shed = await collect(batch)
        guard case .queueFull(.batch, _)? = shed.rejection else {
            Issue.record("the waiting batch request should be shed for the critical one, got \(String(describing: shed.rejection))")
            return
        }
        let running = RunningEngine(engine)
        #expect(await collect(critical).completion?.finishReason == .length)
        #expect(await collect(secondCritical).completion?.finishReason == .length)
        await running.stop()
    }

    @Test("a saturated small cache preempts and recomputes, and every request still gets its exact output")
    func preemption() async throws {
        let model = try Self.model.get()
        let vocabulary = model.config.vocabularySize
        // 8 blocks of 8 tokens; each request needs 3-4 blocks by its end, so three cannot all fit.
        let engine = ServingEngine(model: model, configuration: Self.configuration(kvCacheTokens: 64, maxBatchTokens: 32))
        let prompts = (0..<3).map { Self.prompt($0 + 10, length: 10, vocabulary: vocabulary) }
        let expected = try prompts.map { try Self.reference(model, $0, maxTokens: 20) }
        let priorities: [RequestPriority] = [.batch, .standard, .critical]
        let streams = try zip(prompts, priorities).map { try engine.submit(Self.request($0, maxTokens: 20, priority: $1)) }
        let running = RunningEngine(engine)
        var results: [Collected] = []
        for stream in streams { results.append(await collect(stream)) }
        for (result, tokens) in zip(results, expected) { #expect(result.tokens == tokens) }
        let statistics = engine.statistics()
        #expect(statistics.preemptions > 0)
        #expect(results[0].completion?.preemptions ?? 0 > 0, "the batch request is the one preempted")
        #expect(results[2].completion?.preemptions == 0, "the critical one never is")
        #expect(statistics.kvCacheUsageRatio == 0)
        await running.stop()
    }

    @Test("cancelling the consumer aborts the request and frees its blocks")
    func cancellationFreesBlocks() async throws {
        let model = try Self.slowModel.get()
        let running = RunningEngine(ServingEngine(model: model, configuration: Self.configuration()))
        let stream = try running.engine.submit(Self.request(Self.prompt(5, length: 30, vocabulary: 200), maxTokens: 400))
        // The consumer goes away, as when an HTTP client disconnects: its task is cancelled.
        let reader = Task { for await _ in stream {} }
        try await waitFor("generation under way") { running.engine.statistics().generatedTokens > 0 }
        reader.cancel()
        await reader.value
        try await waitFor("the request is aborted and its blocks freed") {
            let statistics = running.engine.statistics()
            return statistics.running == 0 && statistics.kvCacheUsageRatio == 0 && statistics.finished[.abort] == 1
        }
        #expect(running.engine.statistics().generatedTokens < 400)
        await running.stop()
    }

    @Test("drain finishes what is in flight and refuses new requests")
    func drain() async throws {
        let model = try Self.model.get()
        let running = RunningEngine(ServingEngine(model: model, configuration: Self.configuration()))
        let inFlight = try running.engine.submit(Self.request(Self.prompt(6, length: 8, vocabulary: 200), maxTokens: 30))
        running.engine.beginDrain()
        #expect(throws: AdmissionError.draining) {
            try running.engine.submit(Self.request(Self.prompt(7, length: 8, vocabulary: 200)))
        }
        let result = await collect(inFlight)
        #expect(result.completion?.finishReason == .length)
        #expect(result.tokens.count == 30)
        await running.engine.waitUntilDrained()
        #expect(running.engine.statistics().drained)
        await running.stop()
    }

    @Test("requests that can never fit are refused with the numbers")
    func admissionLimits() throws {
        let model = try Self.model.get()
        let engine = ServingEngine(model: model, configuration: Self.configuration(kvCacheTokens: 64))
        #expect(throws: AdmissionError.emptyPrompt) { try engine.submit(Self.request([])) }
        #expect(throws: AdmissionError.exceedsContext(promptTokens: 100, maxTokens: 40, contextLength: 128)) {
            try engine.submit(Self.request(Self.prompt(1, length: 100, vocabulary: 200), maxTokens: 40))
        }
        #expect(throws: AdmissionError.exceedsCache(promptTokens: 50, maxTokens: 20, cacheTokens: 64)) {
            try engine.submit(Self.request(Self.prompt(1, length: 50, vocabulary: 200), maxTokens: 20))
        }
    }

    @Test("logprobs are log-probabilities of the raw distribution, with the chosen token first under greedy")
    func logprobs() async throws {
        let model = try Self.model.get()
        let running = RunningEngine(ServingEngine(model: model, configuration: Self.configuration()))
        var request = Self.request(Self.prompt(8, length: 8, vocabulary: 200), maxTokens: 3)
        request.topLogprobs = 3
        var entries: [TokenLogprob] = []
        for await event in try running.engine.submit(request) {
            if case .output(let output) = event { entries += output.logprobs ?? [] }
        }
        #expect(entries.count == 3)
        for entry in entries {
            #expect(entry.top.count == 3)
            #expect(entry.top[0].token == entry.token)
            #expect(entry.logprob <= 0)
            #expect(entry.top.map(\.logprob) == entry.top.map(\.logprob).sorted(by: >))
        }
        await running.stop()
    }
}

final class OrderRecorder: Sendable {
    private let storage = Mutex<[RequestPriority]>([])
    func append(_ value: RequestPriority) { storage.withLock { $0.append(value) } }
    var values: [RequestPriority] { storage.withLock { $0 } }
}

import Synchronization
