import SwellAPI
import Testing
@testable import SwellAgent

/// The per-replica state machine, driven through whole stories: each step gives it what the
/// agent would observe at a point in time and checks the actions and the status it reports.
@Suite("Replica lifecycle state machine")
struct ReplicaLifecycleTests {
    typealias Lifecycle = ReplicaLifecycle

    static let command = ["engine", "serve", "--model", "/m.gguf"]
    static let otherCommand = ["engine", "serve", "--model", "/other.gguf"]
    static let run = Lifecycle.Desired.run(command: command)
    static let policy = Lifecycle.Policy(
        backoff: RestartBackoff(initial: .seconds(10), maximum: .seconds(300), resetAfter: .seconds(600)),
        probePeriod: .seconds(1), transitionPeriod: .milliseconds(200), readinessFailureThreshold: 3,
        livenessFailureThreshold: 3, startupTimeout: .seconds(600), drainGracePeriod: .seconds(30),
        terminationTimeout: .seconds(10))

    /// Actions with event messages left out (they are checked separately where they matter).
    enum Act: Equatable, CustomStringConvertible {
        case start, drain, terminate, kill, release, forget
        case event(String)

        init(_ action: Lifecycle.Action) {
            switch action {
            case .start: self = .start
            case .requestDrain: self = .drain
            case .signal(.terminate): self = .terminate
            case .signal(.kill): self = .kill
            case .releaseFinalizer: self = .release
            case .forget: self = .forget
            case .event(let type, let reason, _): self = .event("\(type.rawValue) \(reason)")
            }
        }

        var description: String {
            switch self {
            case .start: "start"
            case .drain: "drain"
            case .terminate: "SIGTERM"
            case .kill: "SIGKILL"
            case .release: "release"
            case .forget: "forget"
            case .event(let what): "event(\(what))"
            }
        }
    }

    enum Input: Sendable {
        /// A reconcile at `at` seconds.
        case step(Double, Lifecycle.Desired, Lifecycle.ProcessView?, expect: [Act], phase: ReplicaStatus.Phase? = nil,
                  reason: String?? = nil, requeue: Double? = nil)
        /// The spawn the `.start` asked for succeeded.
        case started(Double, pid: Int32, command: [String] = ReplicaLifecycleTests.command)
        case startFailed(Double, message: String, expect: [Act])
        /// Checks the report between steps.
        case restarts(Int)
        case message(contains: String)
    }

    struct Story: Sendable, CustomTestStringConvertible {
        var name: String
        var start: @Sendable (ContinuousClock.Instant) -> Lifecycle = { _ in Lifecycle(policy: ReplicaLifecycleTests.policy) }
        var inputs: [Input]
        var testDescription: String { name }
    }

    static func alive(ready: Bool? = nil, healthy: Bool? = nil, drained: Bool? = nil) -> Lifecycle.ProcessView {
        .alive(ready: ready, healthy: healthy, drained: drained)
    }

    static func exited(_ cause: EngineTermination.Cause, _ error: String? = nil) -> Lifecycle.ProcessView {
        .exited(EngineTermination(cause, errorLine: error))
    }

    /// Start, spawn and become Ready by t = 1 s.
    static let ready: [Input] = [
        .step(0, run, nil, expect: [.start], phase: .pending, requeue: 0.2),
        .started(0, pid: 100),
        .step(0.2, run, alive(ready: false, healthy: false), expect: [], phase: .starting, reason: .some(nil), requeue: 0.2),
        .step(1, run, alive(ready: true, healthy: true), expect: [], phase: .ready, reason: .some(nil), requeue: 1),
    ]

    static let stories: [Story] = [
        Story(name: "a new replica starts and becomes Ready", inputs: ready + [
            .step(2, run, alive(ready: true, healthy: true), expect: [], phase: .ready, requeue: 1),
            .restarts(0),
        ]),
        Story(name: "kill -9 of a Ready engine: back-off 10 s, then a counted restart", inputs: ready + [
            .step(5, run, exited(.signalled(9)), expect: [.event("Warning BackOff")], phase: .starting,
                  reason: "CrashLoopBackOff", requeue: 10),
            .message(contains: "signal 9 (SIGKILL)"),
            .restarts(0),
            .step(9, run, nil, expect: [], phase: .starting, requeue: 6),
            .step(15, run, nil, expect: [.start], requeue: 0.2),
            .started(15, pid: 101),
            .restarts(1),
            .step(16, run, alive(ready: true, healthy: true), expect: [], phase: .ready, reason: .some(nil)),
        ]),
        Story(name: "an engine that fails at start is Failed with its error, retried at 10, 20, 40 s", inputs: [
            .step(0, run, nil, expect: [.start]),
            .started(0, pid: 100),
            .step(0.5, run, exited(.exited(1), "error: /m.gguf: cannot open file"), expect: [.event("Warning BackOff")],
                  phase: .failed, reason: "CrashLoopBackOff", requeue: 10),
            .message(contains: "error: /m.gguf: cannot open file"),
            .step(10.5, run, nil, expect: [.start]),
            .started(10.5, pid: 101),
            // Still Failed while the retry loads: no flapping through Starting.
            .step(10.7, run, alive(ready: false, healthy: false), expect: [], phase: .failed, reason: "CrashLoopBackOff"),
            .step(11, run, exited(.exited(1), "error: /m.gguf: cannot open file"), expect: [.event("Warning BackOff")],
                  phase: .failed, requeue: 20),
            .step(31, run, nil, expect: [.start]),
            .started(31, pid: 102),
            .step(31.5, run, exited(.exited(1)), expect: [.event("Warning BackOff")], requeue: 40),
            .restarts(2),
        ]),
        Story(name: "a retried start that comes up clears the failure", inputs: [
            .step(0, run, nil, expect: [.start]),
            .started(0, pid: 100),
            .step(1, run, exited(.exited(1), "error: port in use"), expect: [.event("Warning BackOff")], phase: .failed),
            .step(11, run, nil, expect: [.start]),
            .started(11, pid: 101),
            .step(12, run, alive(ready: true, healthy: true), expect: [], phase: .ready, reason: .some(nil)),
            .restarts(1),
        ]),
        Story(name: "spawning fails (no executable): Failed and backed off like a crash", inputs: [
            .step(0, run, nil, expect: [.start]),
            .startFailed(0, message: "executable not found", expect: [.event("Warning BackOff")]),
            .message(contains: "executable not found"),
            .step(1, run, nil, expect: [], phase: .failed, reason: "CrashLoopBackOff", requeue: 9),
            .step(10, run, nil, expect: [.start]),
        ]),
        Story(name: "liveness: three failed /health probes in a row kill a Ready engine", inputs: ready + [
            .step(2, run, alive(ready: false, healthy: false), expect: [], phase: .ready),
            .step(3, run, alive(ready: false, healthy: false), expect: [], phase: .ready),
            .step(4, run, alive(ready: false, healthy: false), expect: [.event("Warning Unhealthy"), .kill, .event("Warning Unhealthy")],
                  phase: .starting, reason: "Unready"),
            .step(4.2, run, alive(ready: false, healthy: false), expect: []),
            .step(4.4, run, exited(.signalled(9)), expect: [.event("Warning BackOff")], phase: .starting, reason: "CrashLoopBackOff"),
        ]),
        Story(name: "readiness: a Ready engine that fails /ready three times is not Ready until it passes", inputs: ready + [
            .step(2, run, alive(ready: false, healthy: true), expect: [], phase: .ready),
            .step(3, run, alive(ready: true, healthy: true), expect: [], phase: .ready),
            .step(4, run, alive(ready: false, healthy: true), expect: [], phase: .ready),
            .step(5, run, alive(ready: false, healthy: true), expect: [], phase: .ready),
            .step(6, run, alive(ready: false, healthy: true), expect: [.event("Warning Unhealthy")], phase: .starting,
                  reason: "Unready", requeue: 0.2),
            .step(7, run, alive(ready: true, healthy: true), expect: [], phase: .ready, reason: .some(nil)),
        ]),
        Story(name: "an engine not Ready within the startup timeout is killed and counted as a start failure", inputs: [
            .step(0, run, nil, expect: [.start]),
            .started(0, pid: 100),
            .step(599, run, alive(ready: false, healthy: false), expect: [], phase: .starting),
            .step(600, run, alive(ready: false, healthy: false), expect: [.kill, .event("Warning Unhealthy")]),
            .step(600.2, run, exited(.signalled(9)), expect: [.event("Warning BackOff")], phase: .failed),
        ]),
        Story(name: "delete while Ready: drain, SIGTERM once drained, release after exit", inputs: ready + [
            .step(2, .delete, alive(), expect: [.drain, .event("Normal Killing")], phase: .draining, reason: "Deleting"),
            .step(2.2, .delete, alive(drained: false), expect: [], phase: .draining),
            .step(3, .delete, alive(drained: true), expect: [.terminate], phase: .draining),
            .step(3.5, .delete, alive(), expect: []),
            .step(4, .delete, exited(.exited(0)), expect: [.release], phase: .succeeded),
            .step(4.5, .absent, nil, expect: [.forget]),
        ]),
        Story(name: "delete with requests that never finish: SIGTERM at the grace period, SIGKILL 10 s later", inputs: ready + [
            .step(2, .delete, alive(), expect: [.drain, .event("Normal Killing")]),
            .step(31.9, .delete, alive(drained: false), expect: []),
            .step(32, .delete, alive(drained: false), expect: [.terminate]),
            .step(41.9, .delete, alive(), expect: []),
            .step(42, .delete, alive(), expect: [.kill, .event("Warning Killing")]),
            .step(42.5, .delete, exited(.signalled(9)), expect: [.release], phase: .succeeded),
        ]),
        Story(name: "delete while still starting: SIGTERM at once, nothing to drain", inputs: [
            .step(0, run, nil, expect: [.start]),
            .started(0, pid: 100),
            .step(0.5, .delete, alive(), expect: [.terminate, .event("Normal Killing")], phase: .draining),
            .step(1, .delete, exited(.signalled(15)), expect: [.release], phase: .succeeded),
        ]),
        Story(name: "delete while backing off: released at once", inputs: ready + [
            .step(2, run, exited(.signalled(9)), expect: [.event("Warning BackOff")]),
            .step(3, .delete, nil, expect: [.release]),
            .step(4, .absent, nil, expect: [.forget]),
        ]),
        Story(name: "an engine that dies during its drain is released, not restarted", inputs: ready + [
            .step(2, .delete, alive(), expect: [.drain, .event("Normal Killing")]),
            .step(2.5, .delete, exited(.signalled(11)), expect: [.release], phase: .failed, reason: "Error"),
        ]),
        Story(name: "a replica that went away or moved: its engine is stopped without a drain, then forgotten", inputs: ready + [
            .step(2, .absent, alive(), expect: [.terminate], phase: .draining, reason: "Orphaned"),
            .step(2.5, .absent, exited(.signalled(15)), expect: [.forget]),
        ]),
        Story(name: "a changed command replaces the engine without counting a restart", inputs: ready + [
            .step(2, .run(command: otherCommand), alive(), expect: [.terminate, .event("Normal Killing")], phase: .draining,
                  reason: "SpecChanged"),
            .step(3, .run(command: otherCommand), exited(.exited(0)), expect: [.start]),
            .started(3, pid: 101, command: otherCommand),
            .restarts(0),
            .step(4, .run(command: otherCommand), alive(ready: true, healthy: true), expect: [], phase: .ready),
        ]),
        Story(name: "agent shutdown: drain and stop, keep the replica (Pending, NodeShutdown)", inputs: ready + [
            .step(2, .shutdown, alive(), expect: [.drain, .event("Normal Killing")], phase: .draining, reason: "NodeShutdown"),
            .step(2.5, .shutdown, alive(drained: true), expect: [.terminate]),
            .step(3, .shutdown, exited(.exited(0)), expect: [.forget], phase: .pending, reason: "NodeShutdown"),
        ]),
        Story(name: "an adopted engine is probed and kept, its restart count carried over",
              start: { now in Lifecycle.adopting(pid: 4242, command: ReplicaLifecycleTests.command, restarts: 3,
                                                 policy: ReplicaLifecycleTests.policy, now: now) },
              inputs: [
                .step(0, run, alive(ready: true, healthy: true), expect: [], phase: .ready),
                .restarts(3),
              ]),
        Story(name: "an adopted engine whose command no longer matches is replaced",
              start: { now in Lifecycle.adopting(pid: 4242, command: ReplicaLifecycleTests.otherCommand, restarts: 0,
                                                 policy: ReplicaLifecycleTests.policy, now: now) },
              inputs: [
                .step(0, run, alive(ready: true, healthy: true), expect: [.terminate, .event("Normal Killing")]),
                .step(1, run, exited(.unknown), expect: [.start]),
              ]),
        Story(name: "the back-off starts over after 10 minutes of readiness", inputs: ready + [
            .step(2, run, exited(.signalled(9)), expect: [.event("Warning BackOff")], requeue: 10),
            .step(12, run, nil, expect: [.start]),
            .started(12, pid: 101),
            .step(13, run, alive(ready: true, healthy: true), expect: [], phase: .ready),
            .step(20, run, exited(.signalled(9)), expect: [.event("Warning BackOff")], requeue: 20),
            .step(40, run, nil, expect: [.start]),
            .started(40, pid: 102),
            .step(41, run, alive(ready: true, healthy: true), expect: []),
            .step(641, run, alive(ready: true, healthy: true), expect: []),
            .step(642, run, exited(.signalled(9)), expect: [.event("Warning BackOff")], requeue: 10),
            .restarts(2),
        ]),
    ]

    @Test(arguments: stories)
    func story(_ story: Story) {
        let t0 = ContinuousClock.now
        func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int64((seconds * 1000).rounded())) }
        var lifecycle = story.start(t0)
        for (index, input) in story.inputs.enumerated() {
            let place = "step \(index + 1)"
            switch input {
            case .step(let seconds, let desired, let process, let expect, let phase, let reason, let requeue):
                let decision = lifecycle.step(desired, process: process, now: at(seconds))
                #expect(decision.actions.map(Act.init) == expect, "\(place) at \(seconds) s")
                if let phase { #expect(lifecycle.report.phase == phase, "\(place): phase") }
                if let reason { #expect(lifecycle.report.reason == reason, "\(place): reason") }
                if let requeue {
                    #expect(decision.requeueAfter == .milliseconds(Int64((requeue * 1000).rounded())), "\(place): requeue")
                }
                // Only a running or stopping engine has a pid in the report.
                #expect((lifecycle.report.pid != nil) == (lifecycle.pid != nil), "\(place): pid")
            case .started(let seconds, let pid, let command):
                lifecycle.started(pid: pid, command: command, now: at(seconds))
                #expect(lifecycle.report.pid == pid, "\(place)")
            case .startFailed(let seconds, let message, let expect):
                #expect(lifecycle.startFailed(message, now: at(seconds)).map(Act.init) == expect, "\(place)")
            case .restarts(let count):
                #expect(lifecycle.report.restarts == count, "\(place): restarts")
            case .message(let text):
                #expect(lifecycle.report.message?.contains(text) == true, "\(place): message \(lifecycle.report.message ?? "nil")")
            }
        }
    }

    @Test("what the agent must observe follows the stage")
    func observations() {
        let t0 = ContinuousClock.now
        var lifecycle = Lifecycle(policy: Self.policy)
        #expect(!lifecycle.wantsProbes && !lifecycle.wantsDrainStatus && lifecycle.pid == nil)
        _ = lifecycle.step(Self.run, process: nil, now: t0)
        lifecycle.started(pid: 7, command: Self.command, now: t0)
        #expect(lifecycle.wantsProbes && !lifecycle.wantsDrainStatus && lifecycle.pid == 7 && lifecycle.command == Self.command)
        _ = lifecycle.step(Self.run, process: Self.alive(ready: true, healthy: true), now: t0)
        _ = lifecycle.step(.delete, process: Self.alive(), now: t0)
        #expect(!lifecycle.wantsProbes && lifecycle.wantsDrainStatus)
        _ = lifecycle.step(.delete, process: Self.alive(drained: true), now: t0)
        #expect(!lifecycle.wantsDrainStatus && lifecycle.pid == 7)
    }

    @Test("termination texts name the signal", arguments: [
        (EngineTermination.Cause.exited(0), "exit status 0", true),
        (.exited(1), "exit status 1", false),
        (.signalled(9), "signal 9 (SIGKILL)", true),
        (.signalled(11), "signal 11 (SIGSEGV)", false),
        (.signalled(15), "signal 15 (SIGTERM)", true),
    ])
    func terminations(cause: EngineTermination.Cause, text: String, clean: Bool) {
        #expect(EngineTermination(cause).description == text)
        #expect(EngineTermination(cause).isCleanStop == clean)
    }

    @Test("durations read like Kubernetes prints them", arguments: [
        (Duration.milliseconds(250), "250ms"), (.seconds(10), "10s"), (.seconds(59), "59s"), (.seconds(60), "1m0s"),
        (.seconds(90), "1m30s"), (.seconds(300), "5m0s"),
    ])
    func durationText(duration: Duration, text: String) {
        #expect(Lifecycle.text(duration) == text)
    }
}
