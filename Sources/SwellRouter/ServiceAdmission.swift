import SwellAPI

/// One service's admission control, as a state machine with no I/O and no clock: which replica
/// each request goes to, which requests wait, and which are shed.
///
/// A request is dispatched at once when a routable replica has room (fewer than
/// `maxConcurrencyPerReplica` requests of the router in flight); otherwise it waits in its
/// class's queue. Waiting requests are dispatched highest class first, oldest first, whenever a
/// slot frees or a replica becomes routable — including the first one after a scale from zero.
/// A class over its queue limit is shed with 429; a `critical` request over its limit instead
/// displaces the newest waiting request of the lowest class that has one, so critical traffic
/// is never refused while batch or standard work holds queue room. Waiting ends after the queue
/// timeout.
struct ServiceAdmission: Sendable {
    struct Settings: Sendable, Equatable {
        var policy: RoutingSpec.Policy = .prefixAffinity
        var maxConcurrencyPerReplica = RoutingSpec.defaultMaxConcurrencyPerReplica
        var loadFactor = RoutingSpec.defaultLoadFactor
        var queueTimeout: Duration = .seconds(RouterQueueSpec.defaultTimeoutSeconds)
        var queueLimits = RouterQueueSpec.defaultLimits
        /// How long a replica that refused a connection gets no new requests, unless the
        /// replica list changes first.
        var ejection: Duration = .seconds(2)

        init() {}

        init(_ routing: RoutingSpec) {
            policy = routing.policy ?? .prefixAffinity
            maxConcurrencyPerReplica = routing.maxConcurrencyPerReplica ?? RoutingSpec.defaultMaxConcurrencyPerReplica
            loadFactor = routing.loadFactor ?? RoutingSpec.defaultLoadFactor
            queueTimeout = .seconds(routing.queue?.timeoutSeconds ?? RouterQueueSpec.defaultTimeoutSeconds)
            queueLimits = RouterQueueSpec.defaultLimits.merging(routing.queue?.limits ?? [:]) { _, given in given }
        }
    }

    typealias Instant = ContinuousClock.Instant

    struct Ticket: Sendable, Equatable {
        var id: Int
        var priority: RequestPriority
        var key: UInt64?
        var arrival: Instant
        /// Replicas this request already failed on.
        var excluded: Set<String> = []
    }

    struct Dispatch: Sendable, Equatable {
        var ticket: Int
        var replica: String
        var reason: ReplicaPicker.Reason
    }

    enum Arrival: Sendable, Equatable {
        case dispatched(Dispatch)
        case queued
        case shed(retryAfterSeconds: Int)
    }

    struct Shed: Sendable, Equatable {
        var ticket: Int
        var retryAfterSeconds: Int
    }

    private(set) var settings: Settings
    /// Replicas that may take requests (Ready, not draining), by name.
    private(set) var routable: Set<String> = []
    private(set) var inFlight: [String: Int] = [:]
    /// Of those, the requests whose answer has not started yet.
    private(set) var starting: [String: Int] = [:]
    private var ejectedUntil: [String: Instant] = [:]
    private var queues: [RequestPriority: [Ticket]] = [:]
    private var turn = 0
    private var drain = DrainRate()

    init(settings: Settings = Settings()) {
        self.settings = settings
    }

    var queued: [RequestPriority: Int] {
        Dictionary(uniqueKeysWithValues: RequestPriority.allCases.map { ($0, queues[$0]?.count ?? 0) })
    }

    var totalInFlight: Int { inFlight.values.reduce(0, +) }

    // MARK: Events

    /// A new request (or a retry, which keeps its place and is never shed).
    mutating func arrive(_ ticket: Ticket, retry: Bool = false, now: Instant) -> (arrival: Arrival, displaced: [Shed]) {
        if !hasWaiting(atOrAbove: ticket.priority), let dispatch = pick(for: ticket, now: now) {
            return (.dispatched(dispatch), [])
        }
        var displaced: [Shed] = []
        let limit = settings.queueLimits[ticket.priority] ?? 0
        if !retry, (queues[ticket.priority]?.count ?? 0) >= limit {
            guard ticket.priority == .critical, let victim = newestWaiter(below: ticket.priority) else {
                return (.shed(retryAfterSeconds: retryAfter(for: ticket.priority, now: now)), [])
            }
            queues[victim.priority]?.removeAll { $0.id == victim.id }
            displaced.append(Shed(ticket: victim.id, retryAfterSeconds: retryAfter(for: victim.priority, now: now)))
        }
        enqueue(ticket)
        return (.queued, displaced)
    }

    /// The answer of a request dispatched to `replica` started (its response head arrived).
    mutating func started(replica: String) {
        Self.decrement(&starting, replica)
    }

    /// A dispatched request ended (its response finished, failed, or the client left);
    /// `started` tells whether `started(replica:)` was called for it.
    mutating func finished(replica: String, started: Bool, now: Instant) -> [Dispatch] {
        Self.decrement(&inFlight, replica)
        if !started { Self.decrement(&starting, replica) }
        drain.record(now)
        return dispatchWaiting(now: now)
    }

    /// The request could not reach `replica` (refused, reset before any response): take the slot
    /// back and keep new requests away from it for a moment.
    mutating func failed(replica: String, now: Instant) {
        Self.decrement(&inFlight, replica)
        Self.decrement(&starting, replica)
        ejectedUntil[replica] = now + settings.ejection
    }

    private static func decrement(_ counts: inout [String: Int], _ replica: String) {
        if let count = counts[replica] {
            counts[replica] = count > 1 ? count - 1 : nil
        }
    }

    /// The service's routable replicas or its routing spec changed.
    mutating func update(routable replicas: Set<String>, settings: Settings, now: Instant) -> [Dispatch] {
        // A replica that (re)appears is trusted again: the informer has newer news than the ejection.
        for name in replicas.subtracting(routable) { ejectedUntil[name] = nil }
        routable = replicas
        self.settings = settings
        return dispatchWaiting(now: now)
    }

    /// Waiting requests past the queue timeout, removed.
    mutating func expire(now: Instant) -> [Int] {
        var expired: [Int] = []
        for priority in RequestPriority.allCases {
            guard let waiting = queues[priority], !waiting.isEmpty else { continue }
            let (late, kept) = waiting.partitioned { now - $0.arrival >= settings.queueTimeout }
            expired += late.map(\.id)
            queues[priority] = kept
        }
        // An ejection that ran out may let a waiter go.
        ejectedUntil = ejectedUntil.filter { $0.value > now }
        return expired
    }

    /// Dispatches that became possible once ejections ran out (call after `expire`).
    mutating func poll(now: Instant) -> [Dispatch] {
        dispatchWaiting(now: now)
    }

    /// A waiting request whose client went away; false when it was no longer waiting.
    mutating func withdraw(_ ticket: Int) -> Bool {
        for priority in RequestPriority.allCases {
            if let index = queues[priority]?.firstIndex(where: { $0.id == ticket }) {
                queues[priority]?.remove(at: index)
                return true
            }
        }
        return false
    }

    // MARK: Internals

    private mutating func pick(for ticket: Ticket, now: Instant) -> Dispatch? {
        let candidates = routable.subtracting(ticket.excluded)
            .filter { (ejectedUntil[$0] ?? now) <= now }
            .map { ReplicaPicker.Candidate(name: $0, inFlight: inFlight[$0] ?? 0, limit: settings.maxConcurrencyPerReplica,
                                           starting: starting[$0] ?? 0) }
        guard let choice = ReplicaPicker.choose(policy: settings.policy, candidates: candidates, key: ticket.key,
                                                loadFactor: settings.loadFactor, turn: turn) else { return nil }
        turn &+= 1
        inFlight[choice.name, default: 0] += 1
        starting[choice.name, default: 0] += 1
        return Dispatch(ticket: ticket.id, replica: choice.name, reason: choice.reason)
    }

    private mutating func dispatchWaiting(now: Instant) -> [Dispatch] {
        var dispatched: [Dispatch] = []
        for priority in RequestPriority.allCases.reversed() {
            var index = 0
            while let waiting = queues[priority], index < waiting.count {
                if let dispatch = pick(for: waiting[index], now: now) {
                    queues[priority]?.remove(at: index)
                    dispatched.append(dispatch)
                } else if routable.subtracting(waiting[index].excluded).isEmpty {
                    index += 1 // only replicas it failed on are left; later waiters may still go
                } else {
                    return dispatched // no room anywhere: lower classes wait too
                }
            }
        }
        return dispatched
    }

    private mutating func enqueue(_ ticket: Ticket) {
        var waiting = queues[ticket.priority] ?? []
        let index = waiting.firstIndex { $0.arrival > ticket.arrival } ?? waiting.endIndex
        waiting.insert(ticket, at: index)
        queues[ticket.priority] = waiting
    }

    private func hasWaiting(atOrAbove priority: RequestPriority) -> Bool {
        RequestPriority.allCases.contains { $0 >= priority && !(queues[$0]?.isEmpty ?? true) }
    }

    private func newestWaiter(below priority: RequestPriority) -> Ticket? {
        for lower in RequestPriority.allCases where lower < priority {
            if let newest = queues[lower]?.last { return newest }
        }
        return nil
    }

    /// Seconds until the queue ahead of a request of this class has drained, at the rate
    /// requests have been finishing lately (1 to 60; 5 before any has finished).
    private func retryAfter(for priority: RequestPriority, now: Instant) -> Int {
        let ahead = RequestPriority.allCases.filter { $0 >= priority }.reduce(0) { $0 + (queues[$1]?.count ?? 0) }
        guard let rate = drain.perSecond(now: now), rate > 0 else { return 5 }
        return min(60, max(1, Int((Double(ahead + 1) / rate).rounded(.up))))
    }
}

/// Completions per second over the last ten seconds.
struct DrainRate: Sendable {
    private var times: [ContinuousClock.Instant] = []
    static let window: Duration = .seconds(10)

    mutating func record(_ now: ContinuousClock.Instant) {
        times.append(now)
        if times.count > 4096 || (times.first.map { now - $0 > Self.window } ?? false) {
            times.removeAll { now - $0 > Self.window }
        }
    }

    /// nil until something has finished in the window.
    func perSecond(now: ContinuousClock.Instant) -> Double? {
        let recent = times.filter { now - $0 <= Self.window }
        guard let first = recent.first else { return nil }
        // Over the window, or since the first completion when that is shorter (a fresh router).
        let span = max(1.0, min(Self.window.inSeconds, (now - first).inSeconds))
        return Double(recent.count) / span
    }
}

extension Array {
    /// The elements that match, and those that do not, each in their order.
    func partitioned(by belongsInFirst: (Element) -> Bool) -> ([Element], [Element]) {
        var first: [Element] = [], second: [Element] = []
        for element in self {
            if belongsInFirst(element) { first.append(element) } else { second.append(element) }
        }
        return (first, second)
    }
}
