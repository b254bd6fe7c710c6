import Synchronization
import SwellAPI

/// Carries out one service's `ServiceAdmission` decisions: parks the requests it queues and
/// wakes them with the replica they were given (or with their shedding or timeout).
final class ServiceGate: Sendable {
    enum Outcome: Sendable {
        case admitted(Lease)
        case shed(retryAfterSeconds: Int)
        case timedOut
        case cancelled
    }

    /// What a parked request is woken with.
    private enum Wake {
        case dispatched(replica: String, endpoint: String, reason: ReplicaPicker.Reason)
        case shed(Int)
        case timedOut
        case cancelled
    }

    private struct State {
        var admission: ServiceAdmission
        var endpoints: [String: String] = [:]
        var waiters: [Int: CheckedContinuation<Wake, Never>] = [:]
        /// Requests cancelled before they were parked.
        var cancelled: Set<Int> = []
        var nextTicket = 0
        var lastArrival: ContinuousClock.Instant?
        var lastDemand: ContinuousClock.Instant?
        /// A demand signal is scheduled and not sent yet.
        var demandPending = false
    }

    let service: String
    private let state: Mutex<State>
    /// Told that requests wait while no replica is routable (at most once a second), or that a
    /// queue formed or grew (50 ms later, at most four times a second) — the autoscaler's cue to
    /// evaluate the service now rather than at its next tick.
    private let onDemand: @Sendable (String) -> Void

    init(service: String, settings: ServiceAdmission.Settings, onDemand: @escaping @Sendable (String) -> Void) {
        self.service = service
        self.onDemand = onDemand
        state = Mutex(State(admission: ServiceAdmission(settings: settings)))
    }

    struct Statistics: Sendable, Equatable {
        var queued: [RequestPriority: Int]
        var inFlight: Int
        var routableReplicas: Int
        var lastArrival: ContinuousClock.Instant?
    }

    var statistics: Statistics {
        state.withLock { state in
            Statistics(queued: state.admission.queued, inFlight: state.admission.totalInFlight,
                       routableReplicas: state.admission.routable.count, lastArrival: state.lastArrival)
        }
    }

    /// Waits for a replica with room, or for the request's shedding or timeout.
    func acquire(priority: RequestPriority, key: UInt64?, excluding excluded: Set<String>, retry: Bool) async -> Outcome {
        let now = ContinuousClock.now
        let id = state.withLock { state in
            state.nextTicket += 1
            if !retry { state.lastArrival = now }
            return state.nextTicket
        }
        let ticket = ServiceAdmission.Ticket(id: id, priority: priority, key: key, arrival: now, excluded: excluded)
        let wake = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
                var demand: Demand?
                let resumes: [(CheckedContinuation<Wake, Never>, Wake)] = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return [(continuation, .cancelled)] }
                    let (arrival, displaced) = state.admission.arrive(ticket, retry: retry, now: now)
                    var resumes = displaced.compactMap { shed in
                        state.waiters.removeValue(forKey: shed.ticket).map { ($0, Wake.shed(shed.retryAfterSeconds)) }
                    }
                    switch arrival {
                    case .dispatched(let dispatch):
                        resumes.append((continuation, Self.wake(dispatch, in: state)))
                    case .shed(let seconds):
                        resumes.append((continuation, .shed(seconds)))
                    case .queued:
                        state.waiters[id] = continuation
                        demand = Self.demand(after: now, in: &state)
                    }
                    return resumes
                }
                for (waiter, wake) in resumes { waiter.resume(returning: wake) }
                switch demand {
                case .now?:
                    onDemand(service)
                case .soon?:
                    // Let the rest of a burst arrive first, so the autoscaler sees its size.
                    Task { [self] in
                        try? await Task.sleep(for: Self.burstSettle)
                        state.withLock { $0.demandPending = false }
                        onDemand(service)
                    }
                case nil:
                    break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Wake, Never>? in
                if let waiter = state.waiters.removeValue(forKey: id) {
                    _ = state.admission.withdraw(id)
                    return waiter
                }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.resume(returning: .cancelled)
        }
        state.withLock { _ = $0.cancelled.remove(id) }
        switch wake {
        case .dispatched(let replica, let endpoint, let reason):
            return .admitted(Lease(gate: self, replica: replica, endpoint: endpoint, reason: reason))
        case .shed(let seconds): return .shed(retryAfterSeconds: seconds)
        case .timedOut: return .timedOut
        case .cancelled: return .cancelled
        }
    }

    /// The replicas that may take requests now (name → base URL) and the service's settings.
    func update(endpoints: [String: String], settings: ServiceAdmission.Settings) {
        let now = ContinuousClock.now
        resume(state.withLock { state in
            state.endpoints = endpoints
            return Self.wakes(for: state.admission.update(routable: Set(endpoints.keys), settings: settings, now: now), in: &state)
        })
    }

    /// Times out the requests that waited too long and lets go those an ended ejection frees.
    func sweep(now: ContinuousClock.Instant = .now) {
        resume(state.withLock { state in
            var resumes = state.admission.expire(now: now).compactMap { id in
                state.waiters.removeValue(forKey: id).map { ($0, Wake.timedOut) }
            }
            resumes += Self.wakes(for: state.admission.poll(now: now), in: &state)
            return resumes
        })
    }

    fileprivate func started(replica: String) {
        state.withLock { $0.admission.started(replica: replica) }
    }

    fileprivate func release(replica: String, started: Bool, failed: Bool) {
        let now = ContinuousClock.now
        resume(state.withLock { state in
            if failed {
                state.admission.failed(replica: replica, now: now)
                return Self.wakes(for: state.admission.poll(now: now), in: &state)
            }
            return Self.wakes(for: state.admission.finished(replica: replica, started: started, now: now), in: &state)
        })
    }

    private static func wakes(for dispatches: [ServiceAdmission.Dispatch], in state: inout State)
        -> [(CheckedContinuation<Wake, Never>, Wake)] {
        var resumes: [(CheckedContinuation<Wake, Never>, Wake)] = []
        for dispatch in dispatches {
            if let waiter = state.waiters.removeValue(forKey: dispatch.ticket) {
                resumes.append((waiter, wake(dispatch, in: state)))
            } else {
                // Its client left in the meantime: the slot is free again.
                resumes += wakes(for: state.admission.finished(replica: dispatch.replica, started: false, now: .now), in: &state)
            }
        }
        return resumes
    }

    private enum Demand {
        case now
        case soon
    }

    /// How long a forming queue is left to grow before the autoscaler is woken.
    static let burstSettle: Duration = .milliseconds(50)

    /// Whether a request that just queued should wake the autoscaler: at once (once a second)
    /// when no replica is routable — nothing else will bring one — and otherwise shortly after a
    /// queue forms or grows, at most four times a second.
    private static func demand(after now: ContinuousClock.Instant, in state: inout State) -> Demand? {
        let since = state.lastDemand.map { now - $0 } ?? .seconds(3600)
        if state.admission.routable.isEmpty {
            guard since >= .seconds(1) else { return nil }
            state.lastDemand = now
            return .now
        }
        guard !state.demandPending, since >= .milliseconds(250) else { return nil }
        state.demandPending = true
        state.lastDemand = now
        return .soon
    }

    /// Dispatches only name routable replicas, and those always have an endpoint.
    private static func wake(_ dispatch: ServiceAdmission.Dispatch, in state: State) -> Wake {
        .dispatched(replica: dispatch.replica, endpoint: state.endpoints[dispatch.replica] ?? "", reason: dispatch.reason)
    }

    private func resume(_ resumes: [(CheckedContinuation<Wake, Never>, Wake)]) {
        for (waiter, wake) in resumes { waiter.resume(returning: wake) }
    }
}

/// A request's slot on one replica, held until its response ends. Released exactly once —
/// by the proxy when the response is done, or when the lease is dropped on any other path.
final class Lease: Sendable {
    let replica: String
    let endpoint: String
    let reason: ReplicaPicker.Reason
    private let gate: ServiceGate
    private let released = Atomic<Bool>(false)
    private let hasStarted = Atomic<Bool>(false)

    fileprivate init(gate: ServiceGate, replica: String, endpoint: String, reason: ReplicaPicker.Reason) {
        self.gate = gate
        self.replica = replica
        self.endpoint = endpoint
        self.reason = reason
    }

    /// The replica's answer started: it is past the request's prompt (for a stream; a whole
    /// answer starts at its end).
    func started() {
        guard !released.load(ordering: .acquiring), !hasStarted.exchange(true, ordering: .acquiringAndReleasing) else { return }
        gate.started(replica: replica)
    }

    /// The request is done with the replica; `failed` when it never reached it.
    func release(failed: Bool = false) {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        gate.release(replica: replica, started: hasStarted.load(ordering: .acquiring), failed: failed)
    }

    deinit {
        release()
    }
}
