import Foundation
import ServiceLifecycle
import SwellAPI
import Synchronization

/// One model served to many concurrent requests: admission with priority classes, a paged KV
/// cache with prefix reuse, and a continuous-batching step loop on its own thread.
///
/// Run it as a `Service`; `run()` returns after a graceful shutdown has drained every request
/// (or at once when cancelled, aborting what is left).
public final class ServingEngine: Service, Sendable {
    public let model: LlamaModel
    public let configuration: ServingConfiguration
    private let state: Mutex<EngineState>
    /// Wakes the step thread when work arrives; the thread sleeps on it when idle.
    private let wakeup = NSCondition()
    /// Set by `signal()` and cleared by the step thread before it plans, both under `wakeup`:
    /// a signal sent while the thread is planning rather than waiting is not lost.
    private nonisolated(unsafe) var signalled = false
    private let loopExited: AsyncStream<Void>
    private let loopExitedContinuation: AsyncStream<Void>.Continuation
    private let clockOrigin = MonotonicClock.now
    // The forward pass and the cache are touched only by the step thread, except that the
    // scheduler reaches the cache under the state lock.
    private nonisolated(unsafe) let context: InferenceContext
    private nonisolated(unsafe) let cache: PagedKVCache

    public init(model: LlamaModel, configuration: ServingConfiguration) {
        self.model = model
        self.configuration = configuration
        let tokens = max(configuration.kvCacheTokens, configuration.blockSize)
        cache = PagedKVCache(config: model.config, tokens: tokens, blockSize: configuration.blockSize,
                             storage: configuration.kvCacheStorage, prefixCaching: configuration.prefixCaching)
        context = InferenceContext(model: model, cache: cache, threads: configuration.threads,
                                   pinned: configuration.pinThreads)
        let limits = BatchScheduler.Limits(
            maxBatchTokens: max(1, configuration.maxBatchTokens), prefillPackTokens: max(1, configuration.prefillPackTokens),
            maxRunning: max(1, configuration.maxRunningRequests),
            queueLimits: configuration.queueLimits, agingSeconds: configuration.agingSeconds,
            contextLength: model.config.contextLength, cacheTokens: cache.blockCount * cache.blockSize)
        state = Mutex(EngineState(scheduler: BatchScheduler(limits: limits)))
        (loopExited, loopExitedContinuation) = AsyncStream.makeStream(of: Void.self)
    }

    private var now: Double { MonotonicClock.seconds(since: clockOrigin) }

    // MARK: Requests

    /// Queues a request. The stream yields its events; ending the stream early (the consumer's
    /// task is cancelled or drops the iterator) aborts the request and frees its blocks.
    public func submit(_ request: ServingRequest) throws(AdmissionError) -> AsyncStream<ServingEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: ServingEvent.self, bufferingPolicy: .unbounded)
        let output = SequenceOutput(request: request, tokenizer: model.tokenizer)
        let now = self.now
        let result: Result<(id: Int, shed: (continuation: AsyncStream<ServingEvent>.Continuation, error: AdmissionError)?), AdmissionError>
        result = state.withLock { state in
            state.nextID += 1
            let id = state.nextID
            switch state.scheduler.admit(id: id, priority: request.priority, promptTokens: request.promptTokens.count,
                                         maxTokens: request.maxTokens, now: now) {
            case .rejected(let error):
                return .failure(error)
            case .queued:
                state.sequences[id] = LiveSequence(output: output, continuation: continuation, submitted: now)
                return .success((id, nil))
            case .queuedShedding(let victim, let error):
                state.sequences[id] = LiveSequence(output: output, continuation: continuation, submitted: now)
                let shed = state.sequences.removeValue(forKey: victim)
                state.releaseNeeded.append(victim)
                return .success((id, shed.map { ($0.continuation, error) }))
            }
        }
        switch result {
        case .failure(let error):
            continuation.finish()
            throw error
        case .success(let admitted):
            if let shed = admitted.shed {
                shed.continuation.yield(.rejected(shed.error))
                shed.continuation.finish()
            }
            let id = admitted.id
            continuation.onTermination = { [weak self] termination in
                guard case .cancelled = termination, let self else { return }
                self.state.withLock { $0.cancelled.append(id) }
                self.signal()
            }
            signal()
            return stream
        }
    }

    /// Stops admitting new requests; running and waiting ones continue.
    public func beginDrain() {
        state.withLock { $0.scheduler.draining = true }
        signal()
    }

    /// Returns once draining has begun and no request is running or waiting.
    public func waitUntilDrained() async {
        while !statistics().drained {
            try? await Task.sleep(for: .milliseconds(20))
            if Task.isCancelled { return }
        }
    }

    public func statistics() -> ServingStatistics {
        state.withLock { state in
            var statistics = state.counters
            statistics.running = state.scheduler.running.count
            for priority in RequestPriority.allCases {
                statistics.waiting[priority] = state.scheduler.waitingCount(priority)
            }
            statistics.draining = state.scheduler.draining
            statistics.drained = state.scheduler.draining && state.scheduler.isIdle
            return statistics
        }
    }

    // MARK: Service

    public func run() async throws {
        let thread = Thread { [self] in stepLoop() }
        thread.name = "swell-engine"
        thread.stackSize = 8 << 20
        thread.start()
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await _ in loopExited {}
            } onGracefulShutdown: {
                self.state.withLock { state in
                    state.scheduler.draining = true
                    state.stopWhenDrained = true
                }
                self.signal()
            }
        } onCancel: {
            self.state.withLock { $0.stopNow = true }
            self.signal()
        }
    }

    private func signal() {
        wakeup.lock()
        signalled = true
        wakeup.signal()
        wakeup.unlock()
    }

    // MARK: The step thread

    private func stepLoop() {
        defer { loopExitedContinuation.finish() }
        while true {
            guard let step = nextStep() else { return }
            guard !step.work.isEmpty else { continue }
            execute(step)
        }
    }

    /// Applies cancellations, then plans a step; sleeps while there is nothing to do. Nil: stop.
    private func nextStep() -> BatchScheduler.Step? {
        while true {
            wakeup.lock()
            signalled = false
            wakeup.unlock()
            let (step, stop) = state.withLock { state -> (BatchScheduler.Step?, Bool) in
                let now = self.now
                for id in state.releaseNeeded { cache.release(sequence: id) }
                state.releaseNeeded.removeAll()
                for id in state.cancelled {
                    if state.scheduler.remove(id, completed: false, now: now) != nil {
                        cache.release(sequence: id)
                        state.counters.finished[.abort, default: 0] += 1
                    }
                    state.sequences[id] = nil
                }
                state.cancelled.removeAll()
                if state.stopNow || (state.stopWhenDrained && state.scheduler.isIdle) {
                    abortAll(&state)
                    return (nil, true)
                }
                let tokens = state.sequences.mapValues(\.output.tokens)
                let step = state.scheduler.plan(now: now, cache: CacheBudget(cache: cache, tokens: tokens))
                state.counters.preemptions += step.preempted.count
                for id in step.preempted { state.sequences[id]?.preemptions += 1 }
                state.snapshotCache(cache)
                return (step.work.isEmpty ? nil : step, false)
            }
            if stop { return nil }
            if let step { return step }
            wakeup.lock()
            let idle = state.withLock { $0.cancelled.isEmpty && !$0.stopNow && !($0.stopWhenDrained && $0.scheduler.isIdle) }
            if idle && !signalled { _ = wakeup.wait(until: Date(timeIntervalSinceNow: 0.05)) }
            wakeup.unlock()
        }
    }

    private func execute(_ step: BatchScheduler.Step) {
        // Gather the tokens of each sequence's slice (its outputs are owned by this thread).
        var batch = ForwardBatch()
        let slices: [(work: BatchScheduler.Work, tokens: [Int32])] = state.withLock { state in
            step.work.compactMap { work in
                guard let live = state.sequences[work.id] else { return nil }
                return (work, Array(live.output.tokens[work.start..<work.start + work.count]))
            }
        }
        for (work, tokens) in slices {
            for (offset, token) in tokens.enumerated() {
                batch.append(token: token, position: work.start + offset, sequence: work.id,
                             logits: work.wantsLogits && offset == tokens.count - 1)
            }
        }
        guard !batch.isEmpty else { return }

        let logits: Logits
        do {
            logits = try context.forward(batch)
        } catch {
            fail(slices.map(\.work.id), error: error)
            return
        }

        var row = 0
        var events: [(AsyncStream<ServingEvent>.Continuation, ServingEvent, finish: Bool)] = []
        state.withLock { state in
            let now = self.now
            for (work, _) in slices {
                state.scheduler.computed(work.id, count: work.count)
                state.counters.computedPromptTokens += work.wantsLogits ? work.count - 1 : work.count
                guard var live = state.sequences[work.id] else {
                    if work.wantsLogits { row += 1 }
                    continue
                }
                if let sequence = state.scheduler.sequence(work.id) {
                    cache.commit(sequence: work.id, tokens: Array(live.output.tokens[0..<sequence.computed]))
                }
                guard work.wantsLogits else { continue }
                let rowLogits = logits.row(row)
                row += 1
                switch live.output.next(logits: rowLogits, contextLength: model.config.contextLength) {
                case .token(let output):
                    state.scheduler.appended(work.id)
                    state.counters.generatedTokens += 1
                    state.sequences[work.id] = live
                    events.append((live.continuation, .output(output), false))
                case .finished(let reason, let output):
                    if let output {
                        state.counters.generatedTokens += output.tokens.count
                        events.append((live.continuation, .output(output), false))
                    }
                    let sequence = state.scheduler.remove(work.id, completed: true, now: now)
                    cache.release(sequence: work.id)
                    state.sequences[work.id] = nil
                    state.counters.finished[reason, default: 0] += 1
                    let completion = ServingCompletion(
                        finishReason: reason, promptTokens: live.output.request.promptTokens.count,
                        cachedPromptTokens: sequence?.cachedPrompt ?? 0, completionTokens: live.output.generated,
                        queueSeconds: (sequence?.firstScheduled ?? now) - live.submitted, preemptions: live.preemptions)
                    events.append((live.continuation, .finished(completion), true))
                }
            }
            state.snapshotCache(cache)
        }
        for (continuation, event, finish) in events {
            continuation.yield(event)
            if finish { continuation.finish() }
        }
    }

    /// A forward step failed: its sequences end with `.error`; the others go on.
    private func fail(_ ids: [Int], error: any Error) {
        let ended = state.withLock { state in
            let now = self.now
            return ids.compactMap { id -> (AsyncStream<ServingEvent>.Continuation, ServingCompletion)? in
                let sequence = state.scheduler.remove(id, completed: false, now: now)
                cache.release(sequence: id)
                guard let live = state.sequences.removeValue(forKey: id) else { return nil }
                state.counters.finished[.error, default: 0] += 1
                return (live.continuation, ServingCompletion(
                    finishReason: .error, promptTokens: live.output.request.promptTokens.count,
                    cachedPromptTokens: sequence?.cachedPrompt ?? 0, completionTokens: live.output.generated,
                    queueSeconds: (sequence?.firstScheduled ?? now) - live.submitted, preemptions: live.preemptions))
            }
        }
        for (continuation, completion) in ended {
            continuation.yield(.finished(completion))
            continuation.finish()
        }
    }

    private func abortAll(_ state: inout EngineState) {
        let now = self.now
        for (id, live) in state.sequences {
            let sequence = state.scheduler.remove(id, completed: false, now: now)
            cache.release(sequence: id)
            state.counters.finished[.abort, default: 0] += 1
            live.continuation.yield(.finished(ServingCompletion(
                finishReason: .abort, promptTokens: live.output.request.promptTokens.count,
                cachedPromptTokens: sequence?.cachedPrompt ?? 0, completionTokens: live.output.generated,
                queueSeconds: (sequence?.firstScheduled ?? now) - live.submitted, preemptions: live.preemptions)))
            live.continuation.finish()
        }
        state.sequences.removeAll()
    }
}

/// A request the engine holds: its output state and where its events go.
private struct LiveSequence {
    var output: SequenceOutput
    let continuation: AsyncStream<ServingEvent>.Continuation
    let submitted: Double
    var preemptions = 0
}

private struct EngineState {
    var scheduler: BatchScheduler
    var sequences: [Int: LiveSequence] = [:]
    var nextID = 0
    var cancelled: [Int] = []
    /// Shed while waiting: their prefix lookups may hold cache references.
    var releaseNeeded: [Int] = []
    var stopWhenDrained = false
    var stopNow = false
    var counters = ServingStatistics()

    mutating func snapshotCache(_ cache: PagedKVCache) {
        counters.kvCacheUsageRatio = cache.usageRatio
        counters.prefixCacheQueriedTokens = cache.prefixQueriedTokens
        counters.prefixCacheHitTokens = cache.prefixHitTokens
    }
}

/// The engine's cache seen through the scheduler's `BlockBudget`.
private struct CacheBudget: BlockBudget {
    let cache: PagedKVCache
    var blockSize: Int { cache.blockSize }
    var availableBlockCount: Int { cache.availableBlockCount }

    func blocksNeeded(sequence: Int, length: Int) -> Int {
        max(0, (length + cache.blockSize - 1) / cache.blockSize - cache.table(of: sequence).count)
    }

    /// The scheduler deals in counts; the token ids come from the engine's sequences.
    let tokens: [Int: [Int32]]

    func sharedPrefix(_ sequence: Int, with other: Int) -> Int {
        guard cache.prefixCaching, let a = tokens[sequence], let b = tokens[other] else { return 0 }
        var equal = 0
        let limit = min(a.count, b.count)
        while equal < limit, a[equal] == b[equal] { equal += 1 }
        return equal / cache.blockSize * cache.blockSize
    }

    func attachCachedPrefix(sequence: Int, tokens count: Int) -> Int {
        guard let tokens = tokens[sequence] else { return 0 }
        return cache.attachCachedPrefix(sequence: sequence, tokens: Array(tokens.prefix(count)))
    }

    func reserve(sequence: Int, length: Int) -> Bool {
        (try? cache.reserve(sequence: sequence, length: length)) != nil
    }

    func release(sequence: Int) {
        cache.release(sequence: sequence)
    }
}
