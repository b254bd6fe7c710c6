#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization
import SwellAPI
import SwellClient

/// Runs the engine processes of the Replicas bound to this node: the I/O around
/// `ReplicaLifecycle`. A reconcile of one replica observes (its object in the informer cache, its
/// process, the probes), lets the lifecycle decide, carries out the actions — spawn, drain,
/// signal, release the finalizer, record events — and reports status. Level-based: it never
/// assumes which change woke it, and it requeues itself while a process needs watching.
///
/// The controller never hands one key to two workers at once, and shutdown runs after the
/// controller has stopped, so each entry has one writer at a time.
final class ReplicaRuntime: Reconciler {
    static let finalizer = "swell.dev/agent"

    struct Settings: Sendable {
        var nodeName: String
        var logDirectory: String
        var logMaxBytes: Int
        var policy: ReplicaLifecycle.Policy
        /// The node's memory capacity, which Burstable replicas' `oom_score_adj` is relative to.
        var nodeMemoryBytes: Int64
        /// CPU and memory figures alone are written at most this often.
        var usageReportInterval: Duration = .seconds(5)
    }

    /// What the agent holds for one replica key.
    struct Entry: Sendable {
        var lifecycle: ReplicaLifecycle
        var process: EngineProcess?
        /// The replica object this entry belongs to; a re-created replica of the same name is
        /// another object, and the engine of the old one an orphan.
        var uid: String?
        var startTime: Timestamp?
        var lastStatusWrite: ContinuousClock.Instant?
        /// The replica as this agent last wrote it: newer than the cache until the watch catches
        /// up (and during shutdown, when the informer has stopped), so the next write does not
        /// conflict with our own.
        var lastWritten: Replica?
        /// What is in effect for the running engine's QoS, and the plan and pid it was applied for.
        var qos: QoSEnforcement?
        var qosApplied: (pid: Int32, plan: QoSPlan)?
    }

    let settings: Settings
    let client: APIClient
    /// Status writes during shutdown must not wait 30 s for an API server that is already gone.
    let shutdownClient: APIClient
    let replicas: ObjectCache<Replica>
    let events: EventRecorder
    let launcher: EngineLauncher
    let probes: EngineProbes
    let qos: any QoSEnforcer
    let stateFile: AgentStateFile
    let logger: Logger
    private let entries = Mutex<[String: Entry]>([:])
    private let shuttingDown = Mutex(false)

    init(settings: Settings, client: APIClient, replicas: ObjectCache<Replica>, events: EventRecorder,
         launcher: EngineLauncher, probes: EngineProbes, qos: any QoSEnforcer, stateFile: AgentStateFile, logger: Logger) {
        self.settings = settings
        self.client = client
        var quick = client.configuration
        quick.requestTimeout = .seconds(2)
        self.shutdownClient = APIClient(baseURL: client.baseURL, configuration: quick)
        self.replicas = replicas
        self.events = events
        self.launcher = launcher
        self.probes = probes
        self.qos = qos
        self.stateFile = stateFile
        self.logger = logger
    }

    var keys: [String] { entries.withLock { Array($0.keys) } }

    func entry(_ key: String) -> Entry? { entries.withLock { $0[key] } }

    private var isShuttingDown: Bool { shuttingDown.withLock { $0 } }

    private func logPath(_ key: String) -> String {
        ReplicaLogFile.path(directory: settings.logDirectory, key: key)
    }

    // MARK: Adoption

    /// Takes over the engines an earlier agent left running: those in the state file whose pid
    /// still names the same process, and any the /proc scan finds tagged with this agent's state
    /// file. Each is probed and kept only if its replica still wants it here (see `reconcile`).
    /// A second engine for one replica is stopped at once. Returns the adopted keys.
    @discardableResult
    func adoptEngines() -> [String] {
        let now = ContinuousClock.now
        var adopted: [String: Entry] = [:]
        for (key, recorded) in stateFile.all {
            let process = EngineProcess(pid: recorded.pid, startTime: recorded.startTime, port: recorded.port, isChild: false)
            guard process.isAlive else {
                stateFile.set(key, nil)
                continue
            }
            adopted[key] = Entry(
                lifecycle: .adopting(pid: recorded.pid, command: recorded.command, restarts: recorded.restarts,
                                     policy: settings.policy, now: now),
                process: process, uid: recorded.replicaUID)
        }
        for found in OrphanScanner.scan(stateFile: stateFile.path) where adopted[found.replicaKey]?.process?.pid != found.pid {
            let process = EngineProcess(pid: found.pid, startTime: found.startTime, port: found.port, isChild: false)
            if adopted[found.replicaKey] != nil {
                logger.warning("stopping a second engine for one replica", metadata: ["replica": "\(found.replicaKey)", "pid": "\(found.pid)"])
                Self.terminate(process, timeout: settings.policy.terminationTimeout)
                continue
            }
            adopted[found.replicaKey] = Entry(
                lifecycle: .adopting(pid: found.pid, command: found.command, restarts: 0, policy: settings.policy, now: now),
                process: process, uid: found.replicaUID)
            stateFile.set(found.replicaKey, .init(pid: found.pid, startTime: found.startTime, port: found.port,
                                                  replicaUID: found.replicaUID, command: found.command, restarts: 0))
        }
        for (key, entry) in adopted {
            logger.info("adopting an engine from an earlier agent run",
                        metadata: ["replica": "\(key)", "pid": "\(entry.process?.pid ?? 0)"])
        }
        entries.withLock { entries in
            for (key, entry) in adopted { entries[key] = entry }
        }
        return Array(adopted.keys)
    }

    /// SIGTERM now, SIGKILL after `timeout` if it is still there.
    private static func terminate(_ process: EngineProcess, timeout: Duration) {
        process.signal(SIGTERM)
        Task.detached {
            try? await Task.sleep(for: timeout)
            process.signal(SIGKILL)
        }
    }

    // MARK: Reconcile

    func reconcile(key: String) async throws -> ReconcileResult {
        if isShuttingDown { return .done }
        return try await reconcile(key: key, shuttingDown: false)
    }

    private func reconcile(key: String, shuttingDown: Bool) async throws -> ReconcileResult {
        var entry = self.entry(key)
        let cached = Self.newest(replicas.get(key), entry?.lastWritten)
        var replica = cached.flatMap { $0.spec.nodeName == settings.nodeName ? $0 : nil }
        if let known = entry?.uid, let replicaUID = replica?.metadata.uid, known != replicaUID {
            // Another object of the same name: the old entry is an orphan; the new replica gets
            // its own entry once the old engine is gone.
            replica = nil
        }

        let desired: ReplicaLifecycle.Desired
        if shuttingDown {
            desired = .shutdown
        } else if let replica {
            desired = replica.metadata.isBeingDeleted ? .delete : .run(command: EngineLauncher.command(for: replica))
        } else {
            desired = .absent
        }

        if entry == nil {
            guard let replica, desired != .absent, desired != .shutdown else { return .done }
            // Deleted before this agent ran anything for it: nothing here to stop or release.
            if desired == .delete, !(replica.metadata.finalizers ?? []).contains(Self.finalizer) { return .done }
            entry = Entry(lifecycle: ReplicaLifecycle(policy: settings.policy, restarts: replica.status?.restarts ?? 0),
                          uid: replica.metadata.uid)
        }
        guard var entry else { return .done }

        // The finalizer goes on before an engine starts, so a deletion always waits for it.
        if case .run = desired, var current = replica, !(current.metadata.finalizers ?? []).contains(Self.finalizer) {
            current.metadata.finalizers = (current.metadata.finalizers ?? []) + [Self.finalizer]
            do {
                replica = try await client.update(current)
                entry.lastWritten = replica
            } catch let error as Status where error.code == 409 || error.code == 404 {
                return .requeue(after: .milliseconds(50))  // the cache is about to show the newer object
            }
        }

        let now = ContinuousClock.now
        let decision = entry.lifecycle.step(desired, process: await observe(entry, key: key), now: now)
        var release = false
        var forget = false
        // Recorded last: events are a record, and the status write matters more to whoever waits.
        var events: [(type: Event.EventType, reason: String, message: String)] = []
        for action in decision.actions {
            switch action {
            case .start(let command):
                if let replica { events += await start(replica, key: key, command: command, entry: &entry) }
            case .requestDrain:
                if let process = entry.process { await probes.requestDrain(process) }
            case .signal(.terminate):
                entry.process?.signal(SIGTERM)
            case .signal(.kill):
                entry.process?.signal(SIGKILL)
            case .releaseFinalizer:
                release = true
            case .forget:
                forget = true
            case .event(let type, let reason, let message):
                events.append((type, reason, message))
            }
        }
        if let replica, let process = entry.process, entry.lifecycle.pid == process.pid, process.isRunning {
            enforceQoS(replica, process: process, key: key, entry: &entry)
        }
        if entry.lifecycle.pid == nil, entry.process != nil {
            entry.process = nil
            entry.startTime = nil
            stateFile.set(key, nil)
            releaseQoS(key, entry: &entry)
        }
        if let process = entry.process {
            stateFile.set(key, .init(pid: process.pid, startTime: process.startTime, port: process.port, replicaUID: entry.uid,
                                     command: entry.lifecycle.command ?? [], restarts: entry.lifecycle.restarts))
            ReplicaLogFile.enforceCap(path: logPath(key), maxBytes: settings.logMaxBytes)
        }
        if forget {
            entries.withLock { $0[key] = nil }
            stateFile.set(key, nil)
            // Gone from the API altogether: its log goes too (a moved replica logs on its new node).
            if cached == nil, !shuttingDown { try? FileManager.default.removeItem(atPath: logPath(key)) }
        } else {
            entries.withLock { $0[key] = entry }
        }

        do {
            if let current = replica, desired != .absent,
               let written = try await writeStatus(current, entry: entry, shuttingDown: shuttingDown) {
                replica = written
                if !forget {
                    entries.withLock {
                        $0[key]?.lastStatusWrite = ContinuousClock.now
                        $0[key]?.lastWritten = written
                    }
                }
            }
            if release, let replica { try await releaseFinalizer(replica) }
        } catch {
            await record(events, key: key, entry: entry)
            throw error
        }
        await record(events, key: key, entry: entry)

        if forget, cached != nil, !shuttingDown, cached?.spec.nodeName == settings.nodeName {
            return .requeue(after: .milliseconds(1))  // a new replica of the same name waits for its turn
        }
        return decision.requeueAfter.map { .requeue(after: $0) } ?? .done
    }

    /// What the lifecycle needs to know about the process: whether it ended (and the engine's
    /// last error line), and the probe or drain answers it asks for.
    private func observe(_ entry: Entry, key: String) async -> ReplicaLifecycle.ProcessView? {
        guard let process = entry.process else { return nil }
        if let cause = process.termination {
            return .exited(EngineTermination(cause, errorLine: ReplicaLogFile.lastErrorLine(path: logPath(key))))
        }
        var view = ReplicaLifecycle.ProcessView.alive()
        if entry.lifecycle.wantsProbes {
            let (ready, healthy) = await probes.check(process)
            view.ready = ready
            view.healthy = healthy
        }
        if entry.lifecycle.wantsDrainStatus {
            view.drained = await probes.drained(process)
        }
        return view
    }

    /// Spawns the engine and returns the events to record.
    private func start(_ replica: Replica, key: String, command: [String],
                       entry: inout Entry) async -> [(type: Event.EventType, reason: String, message: String)] {
        do {
            let port = try replica.spec.port ?? EngineLauncher.freePort()
            // Not cancelled with this reconcile: an engine spawned must never go unrecorded.
            let (launcher, logPath, uid) = (self.launcher, logPath(key), replica.metadata.uid)
            let process = try await Task {
                try await launcher.launch(command: command, port: port, logPath: logPath, replicaKey: key, replicaUID: uid)
            }.value
            entry.process = process
            entry.startTime = .now()
            entry.lifecycle.started(pid: process.pid, command: command, now: .now)
            stateFile.set(key, .init(pid: process.pid, startTime: process.startTime, port: port, replicaUID: replica.metadata.uid,
                                     command: command, restarts: entry.lifecycle.restarts))
            let restart = entry.lifecycle.restarts > 0 ? " (restart \(entry.lifecycle.restarts))" : ""
            return [(.normal, "Started", "Started engine pid \(process.pid) on port \(port) on node \(settings.nodeName)\(restart)")]
        } catch {
            logger.warning("could not start an engine", metadata: ["replica": "\(key)", "error": "\(error)"])
            return entry.lifecycle.startFailed("\(error)", now: .now).compactMap { action in
                guard case .event(let type, let reason, let message) = action else { return nil }
                return (type, reason, message)
            }
        }
    }

    /// Puts the engine under its replica's QoS: right after its start (before it has loaded its
    /// model, let alone served), on the first reconcile of an adopted engine, and again whenever
    /// the replica's resources change.
    private func enforceQoS(_ replica: Replica, process: EngineProcess, key: String, entry: inout Entry) {
        let plan = QoSPlan(resources: replica.spec.resources, nodeMemoryBytes: settings.nodeMemoryBytes)
        if let applied = entry.qosApplied, applied.pid == process.pid, applied.plan == plan { return }
        let enforcement = qos.apply(plan, pid: process.pid, replicaKey: key)
        if enforcement.mechanism != qos.mechanism, let message = enforcement.message {
            logger.warning("could not enforce QoS as planned", metadata: ["replica": "\(key)", "problem": "\(message)"])
        }
        entry.qos = enforcement
        entry.qosApplied = (process.pid, plan)
    }

    /// Once the engine has ended: its cgroups go.
    private func releaseQoS(_ key: String, entry: inout Entry) {
        entry.qos = nil
        entry.qosApplied = nil
        do {
            try qos.release(replicaKey: key)
        } catch {
            logger.warning("could not remove a replica's cgroups", metadata: ["replica": "\(key)", "error": "\(error)"])
        }
    }

    private func record(_ events: [(type: Event.EventType, reason: String, message: String)], key: String, entry: Entry) async {
        for event in events {
            await self.events.record(reference(key, entry: entry), type: event.type, reason: event.reason, message: event.message)
        }
    }

    private func reference(_ key: String, entry: Entry) -> ObjectReference {
        let slash = key.firstIndex(of: "/")
        return ObjectReference(kind: Replica.kind, namespace: slash.map { String(key[..<$0]) },
                               name: slash.map { String(key[key.index(after: $0)...]) } ?? key, uid: entry.uid)
    }

    // MARK: Writes

    /// The later of two versions of one object (by store revision); a different object loses.
    static func newest(_ cached: Replica?, _ written: Replica?) -> Replica? {
        guard let cached else { return nil }
        guard let written, written.metadata.uid == cached.metadata.uid,
              (written.metadata.revision ?? 0) > (cached.metadata.revision ?? 0) else { return cached }
        return written
    }

    /// Returns the replica as written, or nil when there was nothing to write (or it conflicted).
    private func writeStatus(_ replica: Replica, entry: Entry, shuttingDown: Bool) async throws -> Replica? {
        let facts = ReplicaStatusReport.Facts(report: entry.lifecycle.report, port: entry.process?.port, startTime: entry.startTime,
                                              usage: entry.process?.usage, qosClass: replica.qosClass, qos: entry.qos)
        let next = ReplicaStatusReport.status(from: facts, current: replica.status, now: .now())
        guard ReplicaStatusReport.needsWrite(current: replica.status, next: next, lastWrite: entry.lastStatusWrite,
                                             now: .now, usageInterval: settings.usageReportInterval) else { return nil }
        var updated = replica
        updated.status = next
        do {
            return try await (shuttingDown ? shutdownClient : client).updateStatus(updated)
        } catch let error as Status where error.code == 409 || error.code == 404 {
            // A newer version exists (its event requeues this key) or it is gone.
            return nil
        }
    }

    private func releaseFinalizer(_ replica: Replica) async throws {
        guard (replica.metadata.finalizers ?? []).contains(Self.finalizer) else { return }
        var updated = replica
        updated.metadata.finalizers = replica.metadata.finalizers?.filter { $0 != Self.finalizer }
        do {
            _ = try await client.update(updated)
            await events.normal(replica, reason: "Released", message: "The engine has stopped; node \(settings.nodeName) released the replica")
        } catch let error as Status where error.code == 404 || error.code == 409 {
            // Already gone, or a newer version exists whose event brings this key back.
        }
    }

    // MARK: Shutdown

    /// Drains and stops every engine (the agent is stopping); their replicas stay, with phase
    /// Pending and reason NodeShutdown, and the next agent starts them again. Engines that
    /// outlast the drain grace period and the SIGTERM timeout are killed.
    func stopAll() async {
        shuttingDown.withLock { $0 = true }
        let policy = settings.policy
        let deadline = ContinuousClock.now + policy.drainGracePeriod + policy.terminationTimeout * 2
        await withTaskGroup(of: Void.self) { group in
            for key in keys {
                group.addTask {
                    while self.entry(key) != nil, ContinuousClock.now < deadline {
                        let result = try? await self.reconcile(key: key, shuttingDown: true)
                        let pause = min(result?.requeueAfter ?? policy.transitionPeriod, policy.transitionPeriod)
                        try? await Task.sleep(for: pause)
                    }
                    if var left = self.entry(key), let process = left.process {
                        if process.isRunning {
                            self.logger.warning("engine still running at the shutdown deadline; killing it", metadata: ["replica": "\(key)"])
                            process.signal(SIGKILL)
                            for _ in 0..<100 where process.isAlive { try? await Task.sleep(for: .milliseconds(20)) }
                        }
                        self.releaseQoS(key, entry: &left)
                    }
                    self.entries.withLock { $0[key] = nil }
                    self.stateFile.set(key, nil)
                }
            }
        }
        qos.releaseNode()
    }
}
