import SwellClient
import Testing

@Suite("Work queue state machine")
struct WorkQueueStateTests {
    enum Step: Sendable, CustomStringConvertible {
        case add(String)
        case next
        case done(String)
        case shutDown

        var description: String {
            switch self {
            case .add(let key): "add(\(key))"
            case .next: "next"
            case .done(let key): "done(\(key))"
            case .shutDown: "shutDown"
            }
        }
    }

    /// Runs `steps`, returning what each `next` handed out ("-" for nothing), and the final queue.
    private func run(_ steps: [Step]) -> (handed: [String], queued: [String], processing: Set<String>) {
        var state = WorkQueueState<String>()
        var handed = [String]()
        for step in steps {
            switch step {
            case .add(let key): _ = state.add(key)
            case .next: handed.append(state.next() ?? "-")
            case .done(let key): state.done(key)
            case .shutDown: state.shutDown()
            }
        }
        return (handed, state.queued, state.processingKeys)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var steps: [Step]
        /// What each `next` returned ("-" for nothing).
        var handed: [String]
        var queued: [String] = []
        var processing: Set<String> = []
        var testDescription: String { steps.map(\.description).joined(separator: " ") }
    }

    @Test("client-go queue semantics", arguments: [
        // A key added twice is handed out once.
        Case(steps: [.add("a"), .add("b"), .add("a"), .next, .next, .next], handed: ["a", "b", "-"], processing: ["a", "b"]),
        // A key re-added while processing is not handed to a second worker...
        Case(steps: [.add("a"), .next, .add("a"), .next], handed: ["a", "-"], processing: ["a"]),
        // ...but comes back once its worker is done, exactly once.
        Case(steps: [.add("a"), .next, .add("a"), .add("a"), .done("a"), .next, .next], handed: ["a", "a", "-"], processing: ["a"]),
        // Done without a re-add drops it.
        Case(steps: [.add("a"), .next, .done("a"), .next], handed: ["a", "-"]),
        // Order is first-in, first-out.
        Case(steps: [.add("c"), .add("a"), .add("b"), .next, .next], handed: ["c", "a"], queued: ["b"], processing: ["c", "a"]),
        // After shutdown adds are ignored but queued keys are still handed out.
        Case(steps: [.add("a"), .shutDown, .add("b"), .next, .next], handed: ["a", "-"], processing: ["a"]),
        // A re-add after shutdown is ignored, so done does not requeue.
        Case(steps: [.add("a"), .next, .shutDown, .add("a"), .done("a"), .next], handed: ["a", "-"]),
        // Done for a key never handed out changes nothing.
        Case(steps: [.add("a"), .done("a"), .next], handed: ["a"], processing: ["a"]),
    ])
    func semantics(_ test: Case) {
        let result = run(test.steps)
        #expect(result.handed == test.handed)
        #expect(result.queued == test.queued)
        #expect(result.processing == test.processing)
    }

    @Test("add reports what happened")
    func addOutcomes() {
        var state = WorkQueueState<String>()
        #expect(state.add("a") == .queued)
        #expect(state.add("a") == .alreadyQueued)
        #expect(state.next() == "a")
        #expect(state.add("a") == .queuedAfterDone)
        #expect(state.add("a") == .alreadyQueued)
        #expect(state.done("a") == true)
        state.shutDown()
        #expect(state.add("b") == .ignoredShutDown)
    }

    @Test("delayed adds keep the earliest time; a superseded timer does nothing")
    func delays() {
        var state = WorkQueueState<String>()
        let now = ContinuousClock.now
        #expect(state.addAt("a", readyAt: now + .seconds(10), now: now) == .scheduled)
        #expect(state.addAt("a", readyAt: now + .seconds(20), now: now) == .alreadyScheduled)
        #expect(state.addAt("a", readyAt: now + .seconds(5), now: now) == .scheduled)
        #expect(state.delayedKeys == ["a"])
        #expect(state.delayElapsed("a", readyAt: now + .seconds(10)) == nil, "the 10 s timer was superseded")
        #expect(state.count == 0)
        #expect(state.delayElapsed("a", readyAt: now + .seconds(5)) == .queued)
        #expect(state.queued == ["a"])
        #expect(state.delayedKeys.isEmpty)
        #expect(state.addAt("b", readyAt: now, now: now) == .added(.queued), "no delay adds at once")
        state.shutDown()
        #expect(state.addAt("c", readyAt: now + .seconds(1), now: now) == .ignoredShutDown)
    }

    @Test("per-key exponential backoff", arguments: [
        (Duration.milliseconds(5), Duration.seconds(1000), 6, [5, 10, 20, 40, 80, 160] as [Int64]),
        (.milliseconds(100), .milliseconds(500), 5, [100, 200, 400, 500, 500]),
        (.milliseconds(1), .milliseconds(1), 3, [1, 1, 1]),
    ])
    func backoff(base: Duration, max: Duration, failures: Int, expectedMilliseconds: [Int64]) {
        var backoff = ItemBackoff<String>(base: base, max: max)
        let delays = (0..<failures).map { _ in backoff.nextDelay(for: "a") }
        #expect(delays == expectedMilliseconds.map { .milliseconds($0) })
        #expect(backoff.nextDelay(for: "b") == base, "keys back off independently")
        #expect(backoff.failureCount(of: "a") == failures)
        backoff.forget("a")
        #expect(backoff.failureCount(of: "a") == 0)
        #expect(backoff.nextDelay(for: "a") == base, "forget starts over")
    }

    @Test("backoff saturates at the cap instead of overflowing")
    func backoffSaturates() {
        var backoff = ItemBackoff<String>()
        var last = Duration.zero
        for _ in 0..<200 { last = backoff.nextDelay(for: "a") }
        #expect(last == .seconds(1000))
    }
}
