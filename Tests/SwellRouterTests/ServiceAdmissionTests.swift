import SwellAPI
import Testing
@testable import SwellRouter

/// Stories of one service's admission state machine, told with a clock the test moves.
@Suite("Service admission")
struct ServiceAdmissionTests {
    typealias Ticket = ServiceAdmission.Ticket
    let start = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int(seconds * 1000)) }

    func admission(concurrency: Int = 1, limits: [RequestPriority: Int] = [.critical: 4, .standard: 4, .batch: 2],
                   timeout: Int = 30, replicas: Set<String> = ["r1"], policy: RoutingSpec.Policy = .leastOutstanding) -> ServiceAdmission {
        var settings = ServiceAdmission.Settings()
        settings.policy = policy
        settings.maxConcurrencyPerReplica = concurrency
        settings.queueLimits = limits
        settings.queueTimeout = .seconds(timeout)
        var admission = ServiceAdmission(settings: settings)
        _ = admission.update(routable: replicas, settings: settings, now: at(0))
        return admission
    }

    func ticket(_ id: Int, _ priority: RequestPriority, at seconds: Double = 0, excluded: Set<String> = []) -> Ticket {
        Ticket(id: id, priority: priority, key: nil, arrival: at(seconds), excluded: excluded)
    }

    @Test("requests count as starting from dispatch until their answer starts, ends or fails")
    func startingCounts() {
        var admission = admission(concurrency: 4, replicas: ["r1", "r2"], policy: .prefixAffinity)
        let key: UInt64 = 42
        func arrive(_ id: Int) -> String? {
            guard case .dispatched(let dispatch) = admission.arrive(Ticket(id: id, priority: .standard, key: key, arrival: at(0)),
                                                                   now: at(0)).arrival else { return nil }
            return dispatch.replica
        }
        let home = arrive(1)
        #expect(admission.starting[home ?? ""] == 1)
        // Same key while home is still computing the first prompt: the idle replica takes it.
        let second = arrive(2)
        #expect(second != nil && second != home)
        admission.started(replica: home!)
        #expect(admission.starting[home!] == nil)
        #expect(admission.inFlight[home!] == 1)
        // Home only decodes now, the other still starts: the key goes home again.
        #expect(arrive(3) == home)
        _ = admission.finished(replica: home!, started: true, now: at(1))
        _ = admission.finished(replica: home!, started: false, now: at(1))
        admission.failed(replica: second!, now: at(1))
        #expect(admission.starting.isEmpty)
        #expect(admission.inFlight.isEmpty)
    }

    @Test("a replica with room takes the request at once; a full one makes it wait")
    func dispatchThenQueue() {
        var admission = admission()
        #expect(admission.arrive(ticket(1, .standard), now: at(0)).arrival
                == .dispatched(.init(ticket: 1, replica: "r1", reason: .leastOutstanding)))
        #expect(admission.arrive(ticket(2, .standard), now: at(0)).arrival == .queued)
        #expect(admission.queued[.standard] == 1)
        #expect(admission.finished(replica: "r1", started: false, now: at(1)) == [.init(ticket: 2, replica: "r1", reason: .leastOutstanding)])
        #expect(admission.queued[.standard] == 0)
        #expect(admission.inFlight["r1"] == 1)
    }

    @Test("waiting requests go highest class first, oldest first within a class")
    func priorityOrder() {
        var admission = admission()
        _ = admission.arrive(ticket(1, .standard, at: 0), now: at(0)) // occupies r1
        _ = admission.arrive(ticket(2, .batch, at: 1), now: at(1))
        _ = admission.arrive(ticket(3, .standard, at: 2), now: at(2))
        _ = admission.arrive(ticket(4, .critical, at: 3), now: at(3))
        _ = admission.arrive(ticket(5, .standard, at: 4), now: at(4))
        var order: [Int] = []
        for step in 0..<4 {
            order += admission.finished(replica: "r1", started: false, now: at(5 + Double(step))).map(\.ticket)
        }
        #expect(order == [4, 3, 5, 2])
    }

    @Test("a new request does not overtake waiting requests of its own or a higher class")
    func noOvertaking() {
        var admission = admission(concurrency: 2)
        _ = admission.arrive(ticket(1, .standard), now: at(0))
        _ = admission.arrive(ticket(2, .standard), now: at(0))
        _ = admission.arrive(ticket(3, .critical), now: at(0)) // waits: r1 is full
        // A slot frees and is taken by the critical waiter, not by a standard arriving at the same moment.
        #expect(admission.finished(replica: "r1", started: false, now: at(1)).map(\.ticket) == [3])
        #expect(admission.arrive(ticket(4, .standard), now: at(1)).arrival == .queued)
    }

    @Test("a class over its queue limit is shed with a Retry-After from the drain rate")
    func shedOverLimit() {
        var admission = admission(limits: [.critical: 4, .standard: 4, .batch: 2])
        _ = admission.arrive(ticket(1, .standard), now: at(0))
        #expect(admission.arrive(ticket(2, .batch), now: at(0)).arrival == .queued)
        #expect(admission.arrive(ticket(3, .batch), now: at(0)).arrival == .queued)
        // Nothing has finished yet: the default of 5 s.
        #expect(admission.arrive(ticket(4, .batch), now: at(0)).arrival == .shed(retryAfterSeconds: 5))
        // Two requests finish per second from now on.
        var now = 0.0
        for _ in 0..<8 {
            now += 0.5
            for dispatch in admission.finished(replica: "r1", started: false, now: at(now)) { _ = dispatch }
            _ = admission.arrive(ticket(100 + Int(now * 10), .batch), now: at(now))
        }
        // Two batch waiting ahead + this one, at about 2 per second (8 finished in 4 s) → 2 s.
        guard case .shed(let seconds) = admission.arrive(ticket(999, .batch), now: at(now)).arrival else {
            Issue.record("expected the batch request to be shed")
            return
        }
        #expect(seconds == 2)
    }

    @Test("critical over its limit displaces the newest batch waiter instead of being shed")
    func criticalDisplacesBatch() {
        var admission = admission(limits: [.critical: 1, .standard: 4, .batch: 4])
        _ = admission.arrive(ticket(1, .standard), now: at(0))
        _ = admission.arrive(ticket(2, .batch, at: 1), now: at(1))
        _ = admission.arrive(ticket(3, .batch, at: 2), now: at(2))
        _ = admission.arrive(ticket(4, .critical, at: 3), now: at(3))
        let (arrival, displaced) = admission.arrive(ticket(5, .critical, at: 4), now: at(4))
        #expect(arrival == .queued)
        #expect(displaced.map(\.ticket) == [3])
        #expect(admission.queued == [.critical: 2, .standard: 0, .batch: 1])
        // With no lower class left waiting, critical over its limit is shed too.
        var strict = self.admission(limits: [.critical: 0, .standard: 4, .batch: 4])
        _ = strict.arrive(ticket(1, .standard), now: at(0))
        #expect(strict.arrive(ticket(2, .critical), now: at(0)).arrival == .shed(retryAfterSeconds: 5))
    }

    @Test("standard over its limit is shed even when batch waits (only critical displaces)")
    func standardIsShed() {
        var admission = admission(limits: [.critical: 4, .standard: 1, .batch: 4])
        _ = admission.arrive(ticket(1, .standard), now: at(0))
        _ = admission.arrive(ticket(2, .batch), now: at(0))
        _ = admission.arrive(ticket(3, .standard), now: at(0))
        guard case .shed = admission.arrive(ticket(4, .standard), now: at(0)).arrival else {
            Issue.record("expected standard to be shed")
            return
        }
        #expect(admission.queued[.batch] == 1)
    }

    @Test("with no routable replica everything waits; the first Ready replica takes them in order")
    func scaleFromZero() {
        var admission = admission(concurrency: 2, replicas: [])
        for id in 1...3 { #expect(admission.arrive(ticket(id, .standard, at: Double(id)), now: at(Double(id))).arrival == .queued) }
        #expect(admission.queued[.standard] == 3)
        let dispatched = admission.update(routable: ["r1"], settings: admission.settings, now: at(5))
        #expect(dispatched.map(\.ticket) == [1, 2])
        #expect(admission.finished(replica: "r1", started: false, now: at(6)).map(\.ticket) == [3])
    }

    @Test("requests waiting past the timeout expire; fresher ones stay")
    func timeouts() {
        var admission = admission(timeout: 10, replicas: [])
        _ = admission.arrive(ticket(1, .standard, at: 0), now: at(0))
        _ = admission.arrive(ticket(2, .batch, at: 5), now: at(5))
        #expect(admission.expire(now: at(9.9)) == [])
        #expect(admission.expire(now: at(10)) == [1])
        #expect(admission.expire(now: at(15)) == [2])
        #expect(admission.queued.values.reduce(0, +) == 0)
    }

    @Test("a retry avoids the replica it failed on, keeps its place and is never shed")
    func retries() {
        var admission = admission(concurrency: 1, limits: [.critical: 0, .standard: 0, .batch: 0], replicas: ["r1", "r2"])
        guard case .dispatched(let first) = admission.arrive(ticket(1, .standard), now: at(0)).arrival else {
            Issue.record("expected a dispatch")
            return
        }
        admission.failed(replica: first.replica, now: at(0.1))
        let other = first.replica == "r1" ? "r2" : "r1"
        #expect(admission.arrive(ticket(1, .standard, excluded: [first.replica]), retry: true, now: at(0.1)).arrival
                == .dispatched(.init(ticket: 1, replica: other, reason: .leastOutstanding)))
        // The failed replica is ejected for a moment: a new request cannot go there, and with the
        // other one busy and a queue limit of 0 it is shed; a retry would wait instead.
        guard case .shed = admission.arrive(ticket(2, .standard), now: at(0.2)).arrival else {
            Issue.record("expected a shed while the only free replica is ejected")
            return
        }
        #expect(admission.arrive(ticket(3, .standard, excluded: [other]), retry: true, now: at(0.2)).arrival == .queued)
        // After the ejection, the waiting retry goes to the recovered replica.
        _ = admission.expire(now: at(2.2))
        #expect(admission.poll(now: at(2.2)) == [.init(ticket: 3, replica: first.replica, reason: .leastOutstanding)])
    }

    @Test("a withdrawn waiter leaves the queue")
    func withdraw() {
        var admission = admission(replicas: [])
        _ = admission.arrive(ticket(1, .standard), now: at(0))
        let first = admission.withdraw(1), second = admission.withdraw(1)
        #expect(first)
        #expect(!second)
        #expect(admission.update(routable: ["r1"], settings: admission.settings, now: at(1)) == [])
    }

    @Test("a replica that stops being routable keeps its in-flight count until those requests finish")
    func removedReplica() {
        var admission = admission(concurrency: 1, replicas: ["r1"])
        _ = admission.arrive(ticket(1, .standard), now: at(0))
        _ = admission.update(routable: [], settings: admission.settings, now: at(1))
        #expect(admission.inFlight["r1"] == 1)
        _ = admission.arrive(ticket(2, .standard), now: at(1))
        // r1 comes back while request 1 still runs on it: no room until it finishes.
        #expect(admission.update(routable: ["r1"], settings: admission.settings, now: at(2)) == [])
        #expect(admission.finished(replica: "r1", started: false, now: at(3)).map(\.ticket) == [2])
    }
}
