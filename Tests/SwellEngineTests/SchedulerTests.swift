import SwellAPI
import Testing
@testable import SwellEngine

/// A block pool of fixed size without prefix sharing: the scheduler's view of a cache.
final class FakeBudget: BlockBudget {
    let blockSize: Int
    private(set) var free: Int
    private(set) var held: [Int: Int] = [:]
    var cachedPrefix: [Int: Int] = [:]

    init(blocks: Int, blockSize: Int = 4) {
        free = blocks
        self.blockSize = blockSize
    }

    var availableBlockCount: Int { free }

    func blocksNeeded(sequence: Int, length: Int) -> Int {
        max(0, (length + blockSize - 1) / blockSize - (held[sequence] ?? 0))
    }

    /// Sequences attached and not released: like the real cache, attaching one twice is a bug.
    private(set) var attached: Set<Int> = []
    private(set) var doubleAttachments: [Int] = []

    func attachCachedPrefix(sequence: Int, tokens: Int) -> Int {
        if !attached.insert(sequence).inserted { doubleAttachments.append(sequence) }
        let cached = cachedPrefix[sequence] ?? 0
        let blocks = cached / blockSize
        free -= blocks
        held[sequence] = blocks
        return cached
    }

    func reserve(sequence: Int, length: Int) -> Bool {
        let needed = blocksNeeded(sequence: sequence, length: length)
        guard needed <= free else { return false }
        free -= needed
        held[sequence, default: 0] += needed
        return true
    }

    func release(sequence: Int) {
        attached.remove(sequence)
        free += held.removeValue(forKey: sequence) ?? 0
    }

    /// Shared prompt prefixes, by unordered pair of sequence ids.
    var shared: [Set<Int>: Int] = [:]

    func sharedPrefix(_ sequence: Int, with other: Int) -> Int { shared[[sequence, other]] ?? 0 }
}

@Suite("Batch scheduler")
struct SchedulerTests {
    static func scheduler(maxBatchTokens: Int = 16, prefillPackTokens: Int = 64, maxRunning: Int = 8, aging: Double = 10,
                          queueLimits: [RequestPriority: Int] = [:]) -> BatchScheduler {
        BatchScheduler(limits: .init(maxBatchTokens: maxBatchTokens, prefillPackTokens: prefillPackTokens, maxRunning: maxRunning,
                                     queueLimits: queueLimits, agingSeconds: aging, contextLength: 256, cacheTokens: 256))
    }

    struct PackingCase: Sendable, CustomTestStringConvertible {
        var prompts: [Int]
        var packLimit: Int
        /// Sequence ids (1-based, in arrival order) each step computes prompt tokens of.
        var steps: [[Int]]
        var testDescription: String { "prompts \(prompts), pack limit \(packLimit)" }
    }

    @Test("long prompts are computed one after another, short ones packed into one step", arguments: [
        PackingCase(prompts: [100, 100, 100], packLimit: 64, steps: [[1], [2], [3]]),
        PackingCase(prompts: [10, 20, 30], packLimit: 64, steps: [[1, 2, 3]]),
        PackingCase(prompts: [40, 30, 20], packLimit: 64, steps: [[1], [2, 3]]),
        // The first prompt of a step always goes, however long: packing limits only the others.
        PackingCase(prompts: [200, 10], packLimit: 64, steps: [[1], [2]]),
        PackingCase(prompts: [100, 100, 100], packLimit: 512, steps: [[1, 2, 3]]),
    ])
    func prefillPacking(_ item: PackingCase) {
        var scheduler = Self.scheduler(maxBatchTokens: 512, prefillPackTokens: item.packLimit)
        let budget = FakeBudget(blocks: 256)
        for (offset, tokens) in item.prompts.enumerated() {
            _ = scheduler.admit(id: offset + 1, priority: .standard, promptTokens: tokens, maxTokens: 4, now: Double(offset))
        }
        var prefillSteps: [[Int]] = []
        for now in 10..<20 where !scheduler.waiting.isEmpty || prefillSteps.isEmpty {
            let step = scheduler.plan(now: Double(now), cache: budget)
            // Prompt work is every item but the one-token decodes of sequences already past their prompt.
            let prompts = step.work.filter { work in work.start < item.prompts[work.id - 1] }
            prefillSteps.append(prompts.map(\.id))
            for work in step.work {
                scheduler.computed(work.id, count: work.count)
                scheduler.appended(work.id)
            }
            // Every running sequence decodes in every step: none waits for the prompts.
            let decoding = step.work.filter { $0.start >= item.prompts[$0.id - 1] }
            #expect(decoding.allSatisfy { $0.count == 1 })
            #expect(Set(step.work.map(\.id)) == Set(scheduler.running.map(\.id)))
        }
        #expect(prefillSteps == item.steps)
        #expect(budget.doubleAttachments.isEmpty, "a prompt held back by packing keeps its cache attachment")
    }

    @Test("decodes go first, then prefill chunks fill the token budget")
    func chunkedPrefill() {
        var scheduler = Self.scheduler(maxBatchTokens: 16)
        let budget = FakeBudget(blocks: 64)
        _ = scheduler.admit(id: 1, priority: .standard, promptTokens: 4, maxTokens: 8, now: 0)
        var step = scheduler.plan(now: 0, cache: budget)
        #expect(step.work == [.init(id: 1, start: 0, count: 4, wantsLogits: true)])
        scheduler.computed(1, count: 4)
        scheduler.appended(1)
        // A long prompt arrives: sequence 1 decodes one token, the prompt gets the other 15.
        _ = scheduler.admit(id: 2, priority: .standard, promptTokens: 40, maxTokens: 8, now: 1)
        step = scheduler.plan(now: 1, cache: budget)
        #expect(step.work == [.init(id: 1, start: 4, count: 1, wantsLogits: true),
                              .init(id: 2, start: 0, count: 15, wantsLogits: false)])
        scheduler.computed(1, count: 1)
        scheduler.appended(1)
        scheduler.computed(2, count: 15)
        step = scheduler.plan(now: 2, cache: budget)
        #expect(step.work == [.init(id: 1, start: 5, count: 1, wantsLogits: true),
                              .init(id: 2, start: 15, count: 15, wantsLogits: false)])
    }

    @Test("a cached prefix is skipped")
    func cachedPrefixIsSkipped() {
        var scheduler = Self.scheduler()
        let budget = FakeBudget(blocks: 64)
        budget.cachedPrefix[1] = 8
        _ = scheduler.admit(id: 1, priority: .standard, promptTokens: 10, maxTokens: 4, now: 0)
        #expect(scheduler.plan(now: 0, cache: budget).work == [.init(id: 1, start: 8, count: 2, wantsLogits: true)])
        #expect(scheduler.sequence(1)?.cachedPrompt == 8)
    }

    @Test("a request waits for the shared prefix blocks a running request is computing, then hits them")
    func waitsForPrefixInFlight() {
        var scheduler = Self.scheduler(maxBatchTokens: 24)
        let budget = FakeBudget(blocks: 64)
        budget.shared[[1, 2]] = 12 // three blocks of 4 in common
        _ = scheduler.admit(id: 1, priority: .standard, promptTokens: 20, maxTokens: 4, now: 0)
        _ = scheduler.admit(id: 2, priority: .standard, promptTokens: 18, maxTokens: 4, now: 0)
        _ = scheduler.admit(id: 3, priority: .standard, promptTokens: 3, maxTokens: 4, now: 0)
        // 2 would recompute 1's first 12 tokens: it waits, and 3 (nothing shared) goes ahead.
        var step = scheduler.plan(now: 0, cache: budget)
        #expect(step.work == [.init(id: 1, start: 0, count: 20, wantsLogits: true),
                              .init(id: 3, start: 0, count: 3, wantsLogits: true)])
        #expect(scheduler.waiting.map(\.id) == [2])
        #expect(scheduler.sequence(2)?.firstScheduled == nil)
        scheduler.computed(1, count: 20)
        scheduler.appended(1)
        scheduler.computed(3, count: 3)
        scheduler.appended(3)
        // The shared blocks are computed (and committed to the prefix cache): 2 takes them.
        budget.cachedPrefix[2] = 12
        step = scheduler.plan(now: 1, cache: budget)
        #expect(step.work == [.init(id: 1, start: 20, count: 1, wantsLogits: true),
                              .init(id: 3, start: 3, count: 1, wantsLogits: true),
                              .init(id: 2, start: 12, count: 6, wantsLogits: true)])
        #expect(scheduler.sequence(2)?.cachedPrompt == 12)
    }

    @Test("no waiting for a prefix shorter than a block, or for one the waiting prompt ends in")
    func noWaitWithoutWholeSharedBlocks() {
        var scheduler = Self.scheduler(maxBatchTokens: 64)
        let budget = FakeBudget(blocks: 64)
        budget.shared[[1, 2]] = 3 // less than a block
        budget.shared[[1, 3]] = 4 // 3's whole prompt: its last token must be computed anyway
        _ = scheduler.admit(id: 1, priority: .standard, promptTokens: 20, maxTokens: 4, now: 0)
        _ = scheduler.admit(id: 2, priority: .standard, promptTokens: 10, maxTokens: 4, now: 0)
        _ = scheduler.admit(id: 3, priority: .standard, promptTokens: 4, maxTokens: 4, now: 0)
        let step = scheduler.plan(now: 0, cache: budget)
        #expect(step.work.map(\.id) == [1, 2, 3])
        #expect(scheduler.waiting.isEmpty)
    }

    struct AgingCase: Sendable {
        var priority: RequestPriority
        var waited: Double
        var level: RequestPriority
    }

    @Test("waiting requests rise one class per aging interval, up to critical", arguments: [
        AgingCase(priority: .batch, waited: 0, level: .batch),
        AgingCase(priority: .batch, waited: 9.9, level: .batch),
        AgingCase(priority: .batch, waited: 10, level: .standard),
        AgingCase(priority: .batch, waited: 25, level: .critical),
        AgingCase(priority: .standard, waited: 100, level: .critical),
        AgingCase(priority: .critical, waited: 0, level: .critical),
    ])
    func aging(_ item: AgingCase) {
        var scheduler = Self.scheduler(aging: 10)
        _ = scheduler.admit(id: 1, priority: item.priority, promptTokens: 4, maxTokens: 4, now: 0)
        let sequence = try! #require(scheduler.sequence(1))
        #expect(scheduler.effectiveLevel(sequence, now: item.waited) == item.level.rawValue)
    }

    @Test("an aged batch request overtakes a newer standard one")
    func agingPreventsStarvation() {
        var scheduler = Self.scheduler(maxRunning: 1, aging: 10)
        let budget = FakeBudget(blocks: 64)
        _ = scheduler.admit(id: 1, priority: .batch, promptTokens: 4, maxTokens: 4, now: 0)
        _ = scheduler.admit(id: 2, priority: .standard, promptTokens: 4, maxTokens: 4, now: 11)
        #expect(scheduler.plan(now: 11, cache: budget).work.map(\.id) == [1], "aged to standard and older")
        var fresh = Self.scheduler(maxRunning: 1, aging: 10)
        _ = fresh.admit(id: 1, priority: .batch, promptTokens: 4, maxTokens: 4, now: 0)
        _ = fresh.admit(id: 2, priority: .standard, promptTokens: 4, maxTokens: 4, now: 5)
        #expect(fresh.plan(now: 5, cache: budget).work.map(\.id) == [2], "not aged yet: standard first")
    }

    @Test("out of blocks, the lowest class and latest arrival is preempted and waits to be recomputed")
    func preemptionVictim() {
        var scheduler = Self.scheduler(maxBatchTokens: 64)
        let budget = FakeBudget(blocks: 6, blockSize: 4)
        _ = scheduler.admit(id: 1, priority: .critical, promptTokens: 8, maxTokens: 8, now: 0)
        _ = scheduler.admit(id: 2, priority: .batch, promptTokens: 4, maxTokens: 8, now: 1)
        _ = scheduler.admit(id: 3, priority: .batch, promptTokens: 4, maxTokens: 8, now: 2)
        _ = scheduler.admit(id: 4, priority: .standard, promptTokens: 4, maxTokens: 8, now: 3)
        var step = scheduler.plan(now: 3, cache: budget)
        #expect(Set(step.work.map(\.id)) == [1, 2, 3, 4])
        #expect(budget.availableBlockCount == 1)
        for work in step.work {
            scheduler.computed(work.id, count: work.count)
            scheduler.appended(work.id)
        }
        // Sequence 1 (9 tokens) needs a third block, 2-4 (5 tokens) a second each: 4 blocks, 1 free.
        step = scheduler.plan(now: 4, cache: budget)
        #expect(step.preempted == [3, 2])
        #expect(step.work.map(\.id) == [1, 4])
        #expect(scheduler.sequence(3)?.computed == 0)
        #expect(scheduler.sequence(3)?.preemptions == 1)
        #expect(scheduler.sequence(3)?.tokenCount == 5, "its generated token is replayed")
    }

    @Test("queue limits shed with a Retry-After from the drain rate; critical displaces the newest lowest-class request")
    func shedding() {
        var scheduler = Self.scheduler(queueLimits: [.critical: 1, .standard: 2, .batch: 1])
        #expect(scheduler.admit(id: 1, priority: .batch, promptTokens: 4, maxTokens: 4, now: 0) == .queued)
        #expect(scheduler.admit(id: 2, priority: .batch, promptTokens: 4, maxTokens: 4, now: 0)
                == .rejected(.queueFull(priority: .batch, retryAfterSeconds: 1)))
        #expect(scheduler.admit(id: 3, priority: .standard, promptTokens: 4, maxTokens: 4, now: 0) == .queued)
        #expect(scheduler.admit(id: 4, priority: .critical, promptTokens: 4, maxTokens: 4, now: 0) == .queued)
        guard case .queuedShedding(let victim, _) = scheduler.admit(id: 5, priority: .critical, promptTokens: 4, maxTokens: 4, now: 0) else {
            Issue.record("critical over its limit should shed a lower class")
            return
        }
        #expect(victim == 1, "batch goes before standard")
        guard case .queuedShedding(let next, _) = scheduler.admit(id: 6, priority: .critical, promptTokens: 4, maxTokens: 4, now: 0) else {
            Issue.record("then standard")
            return
        }
        #expect(next == 3)
        guard case .rejected(.queueFull(.critical, _)) = scheduler.admit(id: 7, priority: .critical, promptTokens: 4, maxTokens: 4, now: 0) else {
            Issue.record("with nothing lower left, critical is refused too")
            return
        }
    }

    @Test("Retry-After follows the measured drain rate")
    func retryAfterFromDrainRate() {
        var scheduler = Self.scheduler(queueLimits: [.batch: 0])
        for index in 0..<20 {
            _ = scheduler.admit(id: 100 + index, priority: .standard, promptTokens: 4, maxTokens: 4, now: 0)
        }
        // Two completions per second over ten seconds.
        var ids = Array(100..<120)
        for second in 0..<10 {
            for _ in 0..<2 where !ids.isEmpty { scheduler.remove(ids.removeFirst(), completed: true, now: Double(second)) }
        }
        for index in 0..<9 {
            _ = scheduler.admit(id: 200 + index, priority: .standard, promptTokens: 4, maxTokens: 4, now: 10)
        }
        // Nine waiting, plus this one, at about 2/s: 5 s.
        guard case .rejected(.queueFull(_, let seconds)) = scheduler.admit(id: 300, priority: .batch, promptTokens: 4,
                                                                            maxTokens: 4, now: 10) else {
            Issue.record("batch has no room")
            return
        }
        #expect((4...6).contains(seconds))
    }
}
