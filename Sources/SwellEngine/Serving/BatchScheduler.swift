import SwellAPI

/// The KV-cache operations the scheduler needs while it plans a step: look up a cached prefix
/// for a sequence it admits, reserve rows, and free a sequence it preempts. The engine passes
/// its `KVCache`; unit tests pass a fake with a fixed number of blocks.
protocol BlockBudget {
    var blockSize: Int { get }
    var availableBlockCount: Int { get }
    /// Blocks `sequence` still needs so positions 0..<length are addressable.
    func blocksNeeded(sequence: Int, length: Int) -> Int
    /// Tokens at the start of `sequence`'s prompt, in whole blocks, that are equal to `other`'s —
    /// what `sequence` could take from the prefix cache once `other` has computed them.
    func sharedPrefix(_ sequence: Int, with other: Int) -> Int
    func attachCachedPrefix(sequence: Int, tokens: Int) -> Int
    func reserve(sequence: Int, length: Int) -> Bool
    func release(sequence: Int)
}

/// Continuous batching with priority classes, as a state machine with no I/O: the engine tells
/// it about arrivals, computed tokens, new tokens and finished sequences, and asks it for the
/// next step's work. Each step carries every running decode (one token each) and then prefill
/// chunks, under a token budget, higher (aged) classes first. When the cache runs out of
/// blocks, the lowest-class, latest-arrived running sequence is preempted: its blocks are freed
/// and it waits again to be recomputed (the prefix cache keeps what it can). A waiting request
/// whose prompt begins with blocks a running sequence is still computing waits for them: a
/// moment later they are in the prefix cache, instead of being computed once per request when
/// many requests with one system prompt arrive together.
///
/// Prompts are computed one at a time unless they are short: a step takes a second prompt only
/// when all its prompts together fit in `prefillPackTokens`. On a CPU a step costs about its
/// token count, so packing three 100-token prompts into one step gives all three their first
/// token when the last is done, where one after another gives the first its token a third of the
/// way in (and running streams a token per step meanwhile). Only for short prompts does the
/// step's fixed cost (reading the weights once) make packing pay.
struct BatchScheduler {
    struct Limits {
        var maxBatchTokens: Int
        /// Prompt tokens up to which a step packs several sequences' prompts.
        var prefillPackTokens: Int
        var maxRunning: Int
        var queueLimits: [RequestPriority: Int]
        var agingSeconds: Double
        var contextLength: Int
        var cacheTokens: Int
    }

    struct Sequence {
        let id: Int
        let priority: RequestPriority
        /// Seconds on the engine's clock when it was submitted; keeps seniority across preemptions.
        let arrival: Double
        /// Prompt plus generated tokens so far.
        var tokenCount: Int
        /// Leading tokens whose keys and values are in the cache.
        var computed = 0
        /// The prefix cache was asked for its prompt (and holds its blocks) since it last had none:
        /// a request held back after that, by packing or for room, must not be attached again.
        var attached = false
        var preemptions = 0
        /// Set the first time it is scheduled.
        var firstScheduled: Double?
        /// Tokens the prefix cache supplied at its first admission.
        var cachedPrompt = 0
    }

    /// One sequence's part of a step: tokens `start..<start+count`; logits when it reaches the end.
    struct Work: Equatable {
        var id: Int
        var start: Int
        var count: Int
        var wantsLogits: Bool
    }

    struct Step {
        var work: [Work] = []
        var preempted: [Int] = []
        var tokenCount: Int { work.reduce(0) { $0 + $1.count } }
    }

    enum Admission: Equatable {
        case queued
        /// Queued, but a lower-class waiting request was shed to make room for it.
        case queuedShedding(victim: Int, error: AdmissionError)
        case rejected(AdmissionError)
    }

    let limits: Limits
    private(set) var waiting: [Sequence] = []
    private(set) var running: [Sequence] = []
    var draining = false
    private var drainRate = DrainRateEstimator()

    init(limits: Limits) {
        self.limits = limits
    }

    var isIdle: Bool { waiting.isEmpty && running.isEmpty }

    func waitingCount(_ priority: RequestPriority) -> Int {
        waiting.reduce(0) { $0 + ($1.priority == priority ? 1 : 0) }
    }

    func sequence(_ id: Int) -> Sequence? {
        running.first { $0.id == id } ?? waiting.first { $0.id == id }
    }

    // MARK: Arrivals

    mutating func admit(id: Int, priority: RequestPriority, promptTokens: Int, maxTokens: Int, now: Double) -> Admission {
        if draining { return .rejected(.draining) }
        if promptTokens == 0 { return .rejected(.emptyPrompt) }
        if promptTokens + maxTokens > limits.contextLength {
            return .rejected(.exceedsContext(promptTokens: promptTokens, maxTokens: maxTokens, contextLength: limits.contextLength))
        }
        if promptTokens + maxTokens > limits.cacheTokens {
            return .rejected(.exceedsCache(promptTokens: promptTokens, maxTokens: maxTokens, cacheTokens: limits.cacheTokens))
        }
        var result = Admission.queued
        let limit = limits.queueLimits[priority] ?? Int.max
        if waitingCount(priority) >= limit {
            // A critical request displaces the newest waiting request of the lowest class below it.
            guard priority == .critical, let victim = newestWaiting(below: priority) else {
                return .rejected(.queueFull(priority: priority, retryAfterSeconds: retryAfter(ahead: waiting.count, now: now)))
            }
            let shed = waiting.remove(at: victim)
            result = .queuedShedding(victim: shed.id, error: .queueFull(
                priority: shed.priority, retryAfterSeconds: retryAfter(ahead: waiting.count, now: now)))
        }
        waiting.append(Sequence(id: id, priority: priority, arrival: now, tokenCount: promptTokens))
        return result
    }

    private func newestWaiting(below priority: RequestPriority) -> Int? {
        var best: Int?
        for (index, entry) in waiting.enumerated() where entry.priority < priority {
            guard let current = best else { best = index; continue }
            let other = waiting[current]
            if entry.priority < other.priority || (entry.priority == other.priority && entry.arrival > other.arrival) {
                best = index
            }
        }
        return best
    }

    /// Seconds until `ahead` queued requests have finished at the measured rate (1…600).
    func retryAfter(ahead: Int, now: Double) -> Int {
        let rate = drainRate.perSecond(now: now)
        guard rate > 0 else { return 1 }
        return min(600, max(1, Int((Double(ahead + 1) / rate).rounded(.up))))
    }

    // MARK: Planning

    /// The class a waiting request counts as: one class higher per `agingSeconds` waited.
    func effectiveLevel(_ sequence: Sequence, now: Double) -> Int {
        guard limits.agingSeconds > 0 else { return sequence.priority.rawValue }
        let bumps = Int((now - sequence.arrival) / limits.agingSeconds)
        return min(RequestPriority.critical.rawValue, sequence.priority.rawValue + max(0, bumps))
    }

    private func schedulingOrder(_ sequences: [Sequence], now: Double) -> [Sequence] {
        sequences.sorted { a, b in
            let (la, lb) = (effectiveLevel(a, now: now), effectiveLevel(b, now: now))
            if la != lb { return la > lb }
            if a.arrival != b.arrival { return a.arrival < b.arrival }
            return a.id < b.id
        }
    }

    mutating func plan(now: Double, cache: some BlockBudget) -> Step {
        var step = Step()
        var budget = limits.maxBatchTokens
        var prefill = PrefillPacking(limit: limits.prefillPackTokens)
        running = schedulingOrder(running, now: now)

        // Running sequences first: decodes are one token each, unfinished prefills continue.
        var index = 0
        while index < running.count, budget > 0 {
            let sequence = running[index]
            let count = min(sequence.tokenCount - sequence.computed, budget)
            guard count > 0, prefill.admits(remaining: sequence.tokenCount - sequence.computed, count: count) else {
                index += 1
                continue
            }
            let length = sequence.computed + count
            if !cache.reserve(sequence: sequence.id, length: length) {
                // Make room by preempting the least important running sequence (maybe this one).
                guard let victim = preemptionVictim(now: now) else { break }
                preempt(at: victim, cache: cache, into: &step)
                if victim < index { index -= 1 }
                step.work.removeAll { $0.id == step.preempted.last }
                budget = limits.maxBatchTokens - step.tokenCount
                continue
            }
            step.work.append(Work(id: sequence.id, start: sequence.computed, count: count,
                                  wantsLogits: length == sequence.tokenCount))
            prefill.add(remaining: sequence.tokenCount - sequence.computed, count: count)
            budget -= count
            index += 1
        }

        // Then waiting requests, higher (aged) classes first, while there is budget and room.
        waiting = schedulingOrder(waiting, now: now)
        var deferred: [Sequence] = []
        defer { waiting.insert(contentsOf: deferred, at: 0) }
        while budget > 0, running.count < limits.maxRunning, var next = waiting.first {
            if !next.attached, awaitsPrefixInFlight(next, cache: cache) {
                deferred.append(waiting.removeFirst())
                continue
            }
            if !next.attached {
                next.computed = cache.attachCachedPrefix(sequence: next.id, tokens: next.tokenCount)
                next.attached = true
                if next.firstScheduled == nil { next.cachedPrompt = next.computed }
            }
            let count = min(next.tokenCount - next.computed, budget)
            guard prefill.admits(remaining: next.tokenCount - next.computed, count: count) else {
                waiting[0] = next // its lookup stays attached: looking again would count it twice
                break
            }
            let length = next.computed + count
            if !cache.reserve(sequence: next.id, length: length) {
                // A waiting request of a higher class may take the blocks of a lower running one.
                if let victim = preemptionVictim(now: now),
                   effectiveLevel(running[victim], now: now) < effectiveLevel(next, now: now) {
                    waiting[0] = next
                    preempt(at: victim, cache: cache, into: &step)
                    step.work.removeAll { $0.id == step.preempted.last }
                    budget = limits.maxBatchTokens - step.tokenCount
                    continue
                }
                // No room: keep what the prefix lookup attached, and try again next step.
                waiting[0] = next
                break
            }
            waiting.removeFirst()
            if next.firstScheduled == nil { next.firstScheduled = now }
            running.append(next)
            step.work.append(Work(id: next.id, start: next.computed, count: count, wantsLogits: length == next.tokenCount))
            prefill.add(remaining: next.tokenCount - next.computed, count: count)
            budget -= count
        }
        return step
    }

    /// The prompt tokens a step holds so far, and whether it takes another prompt: the first
    /// always, more only while they all fit in the packing limit. Decodes (one token left)
    /// always go.
    private struct PrefillPacking {
        let limit: Int
        private var tokens = 0
        private var prompts = 0

        init(limit: Int) {
            self.limit = limit
        }

        func admits(remaining: Int, count: Int) -> Bool {
            remaining <= 1 || prompts == 0 || tokens + count <= limit
        }

        mutating func add(remaining: Int, count: Int) {
            guard remaining > 1 else { return }
            tokens += count
            prompts += 1
        }
    }

    /// Whether a running sequence is computing blocks that `sequence`'s prompt begins with and
    /// the prefix cache does not hold yet.
    private func awaitsPrefixInFlight(_ sequence: Sequence, cache: some BlockBudget) -> Bool {
        running.contains { other in
            let shared = min(cache.sharedPrefix(sequence.id, with: other.id), (sequence.tokenCount - 1) / cache.blockSize * cache.blockSize)
            return shared >= cache.blockSize && other.computed < shared
        }
    }

    /// The running sequence to give up first: lowest class, then latest arrival.
    private func preemptionVictim(now: Double) -> Int? {
        guard !running.isEmpty else { return nil }
        var victim = 0
        for index in running.indices.dropFirst() {
            let (a, b) = (running[index], running[victim])
            if a.priority < b.priority || (a.priority == b.priority && a.arrival > b.arrival) { victim = index }
        }
        return victim
    }

    private mutating func preempt(at index: Int, cache: some BlockBudget, into step: inout Step) {
        var sequence = running.remove(at: index)
        cache.release(sequence: sequence.id)
        sequence.computed = 0
        sequence.attached = false
        sequence.preemptions += 1
        waiting.append(sequence)
        step.preempted.append(sequence.id)
    }

    // MARK: Results

    /// The step computed `count` tokens of `id`.
    mutating func computed(_ id: Int, count: Int) {
        guard let index = running.firstIndex(where: { $0.id == id }) else { return }
        running[index].computed += count
    }

    /// A token was sampled and appended to `id`.
    mutating func appended(_ id: Int) {
        guard let index = running.firstIndex(where: { $0.id == id }) else { return }
        running[index].tokenCount += 1
    }

    /// `id` is done (finished, aborted or failed): it leaves whichever queue holds it.
    @discardableResult
    mutating func remove(_ id: Int, completed: Bool, now: Double) -> Sequence? {
        if completed { drainRate.record(now: now) }
        if let index = running.firstIndex(where: { $0.id == id }) { return running.remove(at: index) }
        if let index = waiting.firstIndex(where: { $0.id == id }) { return waiting.remove(at: index) }
        return nil
    }
}

/// Requests finished per second over a sliding window, for Retry-After.
struct DrainRateEstimator {
    private var completions: [Double] = []
    let window: Double

    init(window: Double = 30) {
        self.window = window
    }

    mutating func record(now: Double) {
        completions.append(now)
        if completions.count > 4096 || (completions.first.map { now - $0 > window } ?? false) {
            completions.removeAll { now - $0 > window }
        }
    }

    func perSecond(now: Double) -> Double {
        let recent = completions.filter { now - $0 <= window }
        guard let first = recent.first, recent.count >= 2 else { return recent.isEmpty ? 0 : 1 / window }
        return Double(recent.count) / max(now - first, 1)
    }
}
