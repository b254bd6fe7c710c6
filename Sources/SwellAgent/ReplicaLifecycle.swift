import SwellAPI

/// Every decision about one replica's engine process, as a pure state machine.
///
/// Each reconcile feeds it what the agent observed — what the replica wants (`Desired`), whether
/// the process still runs and what its probes answered (`ProcessView`), and the time — and gets
/// back the actions to take. It does no I/O and reads no clock, so every rule (back-off, probe
/// thresholds, drain then SIGTERM then SIGKILL, start failures) is a table test.
///
/// Stages: `idle` (nothing runs; maybe backing off) → `running` → `stopping` → `stopped`.
/// A process that ends on its own while running is a crash: it is restarted after the
/// crash-loop back-off, and one that ended before it was ever Ready is reported as Failed with
/// the engine's own last error line, so a bad model path never turns into a silent restart storm.
struct ReplicaLifecycle: Sendable, Equatable {
    typealias Instant = ContinuousClock.Instant

    struct Policy: Sendable, Equatable {
        var backoff = RestartBackoff()
        /// How often a Ready engine is probed.
        var probePeriod: Duration = .seconds(1)
        /// How often an engine that is starting or stopping is looked at.
        var transitionPeriod: Duration = .milliseconds(200)
        /// Consecutive failed `/ready` probes before a Ready engine counts as not Ready.
        var readinessFailureThreshold = 3
        /// Consecutive failed `/health` probes before the engine is killed and restarted.
        var livenessFailureThreshold = 3
        /// An engine not Ready this long after its start is killed (a hung model load).
        var startupTimeout: Duration = .seconds(600)
        /// How long a deleted replica's engine may finish in-flight requests after `/drain`.
        var drainGracePeriod: Duration = .seconds(30)
        /// SIGTERM to SIGKILL.
        var terminationTimeout: Duration = .seconds(10)

        init(backoff: RestartBackoff = RestartBackoff(), probePeriod: Duration = .seconds(1),
             transitionPeriod: Duration = .milliseconds(200), readinessFailureThreshold: Int = 3,
             livenessFailureThreshold: Int = 3, startupTimeout: Duration = .seconds(600),
             drainGracePeriod: Duration = .seconds(30), terminationTimeout: Duration = .seconds(10)) {
            self.backoff = backoff
            self.probePeriod = probePeriod
            self.transitionPeriod = transitionPeriod
            self.readinessFailureThreshold = readinessFailureThreshold
            self.livenessFailureThreshold = livenessFailureThreshold
            self.startupTimeout = startupTimeout
            self.drainGracePeriod = drainGracePeriod
            self.terminationTimeout = terminationTimeout
        }
    }

    /// What should happen to the replica, from the API's point of view.
    enum Desired: Sendable, Equatable {
        /// Run an engine with this command line (ports aside); a different one replaces it.
        case run(command: [String])
        /// The replica is being deleted: drain, stop, then release the finalizer.
        case delete
        /// The replica is gone, bound to another node, or a different object of the same name:
        /// stop whatever runs here for it.
        case absent
        /// The agent is shutting down: drain and stop, but keep the replica (a restarted agent
        /// starts it again).
        case shutdown
    }

    /// What the agent saw of the process since the last step; nil fields were not asked for.
    struct ProcessView: Sendable, Equatable {
        /// Set once the process has ended.
        var termination: EngineTermination?
        /// `/ready` answered 200.
        var ready: Bool?
        /// `/health` answered 200.
        var healthy: Bool?
        /// `GET /drain` said `drained: true` (or the engine no longer answers).
        var drained: Bool?

        static func alive(ready: Bool? = nil, healthy: Bool? = nil, drained: Bool? = nil) -> ProcessView {
            ProcessView(termination: nil, ready: ready, healthy: healthy, drained: drained)
        }

        static func exited(_ termination: EngineTermination) -> ProcessView {
            ProcessView(termination: termination)
        }
    }

    enum Signal: Sendable, Equatable {
        case terminate
        case kill
    }

    enum Action: Sendable, Equatable {
        /// Spawn an engine; the caller reports back with `started` or `startFailed`.
        case start(command: [String])
        /// `POST /drain`.
        case requestDrain
        case signal(Signal)
        /// Remove the agent's finalizer so the deleted replica can go.
        case releaseFinalizer
        /// Nothing runs and nothing will: drop this lifecycle.
        case forget
        case event(Event.EventType, reason: String, message: String)
    }

    struct Decision: Sendable, Equatable {
        var actions: [Action]
        /// Look again after this long even if nothing changes (probes, timers); nil: only on a change.
        var requeueAfter: Duration?
    }

    enum StopReason: Sendable, Equatable {
        case deleted
        /// The replica went away or moved: no finalizer waits, so no drain either.
        case orphaned
        case specChanged
        case shutdown
    }

    struct Run: Sendable, Equatable {
        var pid: Int32
        var command: [String]
        var startedAt: Instant
        var everReady = false
        var ready = false
        var readySince: Instant?
        var readinessFailures = 0
        var livenessFailures = 0
        /// SIGKILL already sent for a failed liveness probe or the startup timeout.
        var killed = false
    }

    struct Stop: Sendable, Equatable {
        var pid: Int32
        var reason: StopReason
        var drainStartedAt: Instant?
        var terminatedAt: Instant?
        var killedAt: Instant?
    }

    enum Stage: Sendable, Equatable {
        /// Nothing runs. With `restartAt`, a crashed engine waits out its back-off of `delay`.
        case idle(restartAt: Instant?, delay: Duration?)
        case running(Run)
        case stopping(Stop)
        /// The agent stopped the engine on purpose and nothing more is to run.
        case stopped(StopReason, EngineTermination?)
    }

    /// Why the last run ended badly; shown until an engine is Ready again.
    struct Failure: Sendable, Equatable {
        /// It never became Ready: it failed to start (bad model path, bad flags, no memory).
        var beforeReady: Bool
        var message: String
    }

    /// What the replica's status should say about the process.
    struct Report: Sendable, Equatable {
        var phase: ReplicaStatus.Phase
        var reason: String?
        var message: String?
        var restarts: Int
        var pid: Int32?
        var ready: Bool
    }

    let policy: Policy
    private(set) var stage: Stage
    /// Restarts after crashes, as reported in status (carried over from an earlier agent).
    private(set) var restarts: Int
    /// Consecutive crashes, for the back-off; reset after `backoff.resetAfter` of readiness.
    private(set) var crashStreak = 0
    private(set) var lastFailure: Failure?
    /// The next start replaces a crashed engine (and counts as a restart).
    private var restartPending = false

    init(policy: Policy = Policy(), restarts: Int = 0) {
        self.policy = policy
        self.restarts = restarts
        self.stage = .idle(restartAt: nil, delay: nil)
    }

    /// An engine an earlier agent started, found alive: it is probed like any other, and kept
    /// only while its replica still wants exactly that command here.
    static func adopting(pid: Int32, command: [String], restarts: Int, policy: Policy = Policy(), now: Instant) -> ReplicaLifecycle {
        var lifecycle = ReplicaLifecycle(policy: policy, restarts: restarts)
        lifecycle.stage = .running(Run(pid: pid, command: command, startedAt: now))
        return lifecycle
    }

    /// The process this lifecycle tracks, if one runs (or is being stopped).
    var pid: Int32? {
        switch stage {
        case .running(let run): run.pid
        case .stopping(let stop): stop.pid
        case .idle, .stopped: nil
        }
    }

    /// The command of the running engine.
    var command: [String]? {
        if case .running(let run) = stage { return run.command }
        return nil
    }

    /// Whether the next step wants `/ready` and `/health` answers.
    var wantsProbes: Bool {
        if case .running = stage { return true }
        return false
    }

    /// Whether the next step wants the `GET /drain` answer.
    var wantsDrainStatus: Bool {
        if case .stopping(let stop) = stage { return stop.drainStartedAt != nil && stop.terminatedAt == nil }
        return false
    }

    // MARK: Steps

    mutating func step(_ desired: Desired, process: ProcessView?, now: Instant) -> Decision {
        var actions: [Action] = []
        if let termination = process?.termination {
            processEnded(termination, desired: desired, now: now, actions: &actions)
        }
        switch stage {
        case .idle(let restartAt, _):
            switch desired {
            case .run(let command):
                if let restartAt, now < restartAt {
                    return Decision(actions: actions, requeueAfter: restartAt - now)
                }
                actions.append(.start(command: command))
                return Decision(actions: actions, requeueAfter: policy.transitionPeriod)
            case .delete:
                stage = .stopped(.deleted, nil)
                actions.append(.releaseFinalizer)
            case .shutdown:
                stage = .stopped(.shutdown, nil)
                actions.append(.forget)
            case .absent:
                actions.append(.forget)
            }
            return Decision(actions: actions, requeueAfter: nil)

        case .running(let run):
            switch desired {
            case .run(let command) where command == run.command:
                return probe(run, process: process, now: now, actions: actions)
            case .run:
                return beginStop(run, reason: .specChanged, now: now, actions: actions)
            case .delete:
                return beginStop(run, reason: .deleted, now: now, actions: actions)
            case .absent:
                return beginStop(run, reason: .orphaned, now: now, actions: actions)
            case .shutdown:
                return beginStop(run, reason: .shutdown, now: now, actions: actions)
            }

        case .stopping(var stop):
            if stop.terminatedAt == nil {
                let drainStarted = stop.drainStartedAt ?? now
                if process?.drained == true || now - drainStarted >= policy.drainGracePeriod {
                    stop.terminatedAt = now
                    actions.append(.signal(.terminate))
                }
            } else if stop.killedAt == nil, let terminated = stop.terminatedAt, now - terminated >= policy.terminationTimeout {
                stop.killedAt = now
                actions.append(.signal(.kill))
                actions.append(.event(.warning, reason: "Killing",
                                      message: "The engine did not exit within \(Self.text(policy.terminationTimeout)) of SIGTERM; sent SIGKILL"))
            }
            stage = .stopping(stop)
            return Decision(actions: actions, requeueAfter: policy.transitionPeriod)

        case .stopped:
            switch desired {
            case .run:
                // Stopped for a new command (or revived): start afresh, not as a crash.
                stage = .idle(restartAt: nil, delay: nil)
                let next = step(desired, process: nil, now: now)
                return Decision(actions: actions + next.actions, requeueAfter: next.requeueAfter)
            case .delete:
                actions.append(.releaseFinalizer)
            case .absent, .shutdown:
                actions.append(.forget)
            }
            return Decision(actions: actions, requeueAfter: nil)
        }
    }

    /// The engine spawned by `.start` runs as `pid`.
    mutating func started(pid: Int32, command: [String], now: Instant) {
        if restartPending {
            restarts += 1
            restartPending = false
        }
        stage = .running(Run(pid: pid, command: command, startedAt: now))
    }

    /// `.start` could not spawn anything (the executable is missing, no free port): a start
    /// failure like an engine that exits at once, with the same back-off.
    mutating func startFailed(_ message: String, now: Instant) -> [Action] {
        var actions: [Action] = []
        crashed(beforeReady: true, message: "the engine could not be started: \(message)", now: now, actions: &actions)
        return actions
    }

    // MARK: Status

    var report: Report {
        switch stage {
        case .idle(let restartAt, let delay):
            guard let failure = lastFailure, restartAt != nil else {
                return Report(phase: .pending, reason: nil, message: nil, restarts: restarts, pid: nil, ready: false)
            }
            let wait = delay.map { "back-off \(Self.text($0)) restarting the failed engine: " } ?? ""
            return Report(phase: failure.beforeReady ? .failed : .starting, reason: "CrashLoopBackOff",
                          message: wait + failure.message, restarts: restarts, pid: nil, ready: false)
        case .running(let run):
            if run.ready {
                return Report(phase: .ready, reason: nil, message: nil, restarts: restarts, pid: run.pid, ready: true)
            }
            if let failure = lastFailure, failure.beforeReady {
                // It has not shown it can start yet: still Failed while the retry loads.
                return Report(phase: .failed, reason: "CrashLoopBackOff", message: "retrying; last attempt: \(failure.message)",
                              restarts: restarts, pid: run.pid, ready: false)
            }
            if run.everReady {
                return Report(phase: .starting, reason: "Unready", message: "the engine fails its readiness probe",
                              restarts: restarts, pid: run.pid, ready: false)
            }
            return Report(phase: .starting, reason: lastFailure == nil ? nil : "Restarted", message: lastFailure.map { "after: \($0.message)" },
                          restarts: restarts, pid: run.pid, ready: false)
        case .stopping(let stop):
            let reason = switch stop.reason {
            case .deleted: "Deleting"
            case .orphaned: "Orphaned"
            case .specChanged: "SpecChanged"
            case .shutdown: "NodeShutdown"
            }
            let message = stop.terminatedAt == nil ? "draining in-flight requests" : "waiting for the engine to exit"
            return Report(phase: .draining, reason: reason, message: message, restarts: restarts, pid: stop.pid, ready: false)
        case .stopped(.shutdown, _):
            return Report(phase: .pending, reason: "NodeShutdown",
                          message: "the node's agent stopped; the engine starts again when it returns",
                          restarts: restarts, pid: nil, ready: false)
        case .stopped(_, let termination):
            let clean = termination.map { $0.isCleanStop } ?? true
            return Report(phase: clean ? .succeeded : .failed, reason: clean ? "Completed" : "Error",
                          message: termination.map { "the engine stopped with \($0)" }, restarts: restarts, pid: nil, ready: false)
        }
    }

    // MARK: Transitions

    private mutating func processEnded(_ termination: EngineTermination, desired: Desired, now: Instant, actions: inout [Action]) {
        switch stage {
        case .running(let run):
            if case .run(let command) = desired, command == run.command {
                let message = run.everReady
                    ? "the engine exited with \(termination)"
                    : "the engine exited with \(termination) before it was ready" + (termination.errorLine.map { ": \($0)" } ?? "")
                crashed(beforeReady: !run.everReady, message: message, now: now, actions: &actions)
            } else {
                // It ended by itself just as it was no longer wanted: nothing to restart.
                stage = .stopped(Self.stopReason(for: desired), termination)
            }
        case .stopping(let stop):
            stage = .stopped(stop.reason, termination)
        case .idle, .stopped:
            break
        }
    }

    private mutating func crashed(beforeReady: Bool, message: String, now: Instant, actions: inout [Action]) {
        crashStreak += 1
        restartPending = true
        let delay = policy.backoff.delay(restarts: crashStreak)
        lastFailure = Failure(beforeReady: beforeReady, message: message)
        stage = .idle(restartAt: now + delay, delay: delay)
        actions.append(.event(.warning, reason: "BackOff", message: "Back-off restarting failed engine: \(message)"))
    }

    private mutating func probe(_ current: Run, process: ProcessView?, now: Instant, actions: [Action]) -> Decision {
        var run = current
        var actions = actions
        if let ready = process?.ready {
            if ready {
                run.readinessFailures = 0
                if !run.ready {
                    run.ready = true
                    run.readySince = now
                    run.everReady = true
                    lastFailure = nil
                }
            } else if run.ready {
                run.readinessFailures += 1
                if run.readinessFailures >= policy.readinessFailureThreshold {
                    run.ready = false
                    run.readySince = nil
                    actions.append(.event(.warning, reason: "Unhealthy",
                                          message: "Readiness probe failed \(run.readinessFailures) times in a row"))
                }
            }
        }
        if run.everReady, !run.killed, let healthy = process?.healthy {
            run.livenessFailures = healthy ? 0 : run.livenessFailures + 1
            if run.livenessFailures >= policy.livenessFailureThreshold {
                run.killed = true
                actions.append(.signal(.kill))
                actions.append(.event(.warning, reason: "Unhealthy",
                                      message: "Liveness probe failed \(run.livenessFailures) times in a row; killing the engine"))
            }
        } else if !run.everReady, !run.killed, now - run.startedAt >= policy.startupTimeout {
            run.killed = true
            actions.append(.signal(.kill))
            actions.append(.event(.warning, reason: "Unhealthy",
                                  message: "The engine was not ready \(Self.text(policy.startupTimeout)) after it started; killing it"))
        }
        if run.ready, let since = run.readySince, crashStreak > 0, now - since >= policy.backoff.resetAfter {
            crashStreak = 0
        }
        stage = .running(run)
        return Decision(actions: actions, requeueAfter: run.ready ? policy.probePeriod : policy.transitionPeriod)
    }

    private mutating func beginStop(_ run: Run, reason: StopReason, now: Instant, actions: [Action]) -> Decision {
        var actions = actions
        var stop = Stop(pid: run.pid, reason: reason)
        // Only a Ready engine can have requests in flight worth waiting for; and an orphan or a
        // replaced command has nobody waiting on a finalizer (the engine drains on SIGTERM anyway).
        let drain = run.ready && (reason == .deleted || reason == .shutdown)
        if drain {
            stop.drainStartedAt = now
            actions.append(.requestDrain)
        } else {
            stop.terminatedAt = now
            actions.append(.signal(.terminate))
        }
        switch reason {
        case .deleted, .shutdown:
            let how = drain ? "draining it (grace period \(Self.text(policy.drainGracePeriod)))" : "it was not ready, so without draining"
            actions.append(.event(.normal, reason: "Killing", message: "Stopping the engine: \(how)"))
        case .specChanged:
            actions.append(.event(.normal, reason: "Killing", message: "The engine's command changed; replacing the engine"))
        case .orphaned:
            break
        }
        stage = .stopping(stop)
        return Decision(actions: actions, requeueAfter: policy.transitionPeriod)
    }

    private static func stopReason(for desired: Desired) -> StopReason {
        switch desired {
        case .run: .specChanged
        case .delete: .deleted
        case .absent: .orphaned
        case .shutdown: .shutdown
        }
    }

    /// `10s`, `1m30s`, `250ms`: durations in messages, as Kubernetes prints them.
    static func text(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if seconds == 0 { return "\(attoseconds / 1_000_000_000_000_000)ms" }
        if seconds < 60 { return "\(seconds)s" }
        return "\(seconds / 60)m\(seconds % 60)s"
    }
}

/// How an engine process ended.
struct EngineTermination: Sendable, Equatable, CustomStringConvertible {
    enum Cause: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        /// An adopted engine (not this agent's child) vanished: its status is unknowable.
        case unknown
    }

    var cause: Cause
    /// The last `error:` line the engine printed, if any.
    var errorLine: String?

    init(_ cause: Cause, errorLine: String? = nil) {
        self.cause = cause
        self.errorLine = errorLine
    }

    /// Exit status 0, or the SIGTERM/SIGKILL the agent itself sends to stop an engine.
    var isCleanStop: Bool {
        switch cause {
        case .exited(let code): code == 0
        case .signalled(let signal): signal == 15 || signal == 9
        case .unknown: true
        }
    }

    var description: String {
        switch cause {
        case .exited(let code): "exit status \(code)"
        case .signalled(let signal): "signal \(signal)" + (Self.signalNames[signal].map { " (\($0))" } ?? "")
        case .unknown: "an unknown status (it was adopted, not started, by this agent)"
        }
    }

    static let signalNames: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
        9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM",
    ]
}
