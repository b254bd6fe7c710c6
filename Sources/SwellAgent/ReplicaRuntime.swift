import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Synchronization
import SwellAPI
import SwellClient

/// Runs the engine processes of the Replicas bound to this node, level-based: each reconcile
/// looks at the replica and its process and takes the next step — start, probe, report, restart
/// after back-off, or drain and stop on deletion. It requeues itself every second while a
/// replica lives here, which is also the probe period.
final class ReplicaRuntime: Reconciler {
    static let finalizer = "swell.dev/agent"

    let nodeName: String
    let client: APIClient
    let replicas: ObjectCache<Replica>
    let events: EventRecorder
    let launcher: EngineLauncher
    let logDirectory: String
    let stateFile: AgentStateFile
    let drainGracePeriod: Duration
    let backoff: RestartBackoff
    let logger: Logger
    private let http: HTTPClient
    private let engines = Mutex<[String: EngineHandle]>([:])
    private let memory = Mutex<[String: Memory]>([:])
    private let shuttingDown = Mutex(false)

    /// From now on reconciles change nothing: the agent is stopping its engines.
    func shutDown() { shuttingDown.withLock { $0 = true } }

    /// What the agent remembers per replica between reconciles.
    struct Memory {
        var restarts = 0
        var restartAt: ContinuousClock.Instant?
        var startupFailure: String?
        var lastReport: ContinuousClock.Instant?
    }

    init(nodeName: String, client: APIClient, replicas: ObjectCache<Replica>, events: EventRecorder, launcher: EngineLauncher,
         logDirectory: String, stateFile: AgentStateFile, drainGracePeriod: Duration, backoff: RestartBackoff,
         http: HTTPClient, logger: Logger) {
        self.nodeName = nodeName
        self.client = client
        self.replicas = replicas
        self.events = events
        self.launcher = launcher
        self.logDirectory = logDirectory
        self.stateFile = stateFile
        self.drainGracePeriod = drainGracePeriod
        self.backoff = backoff
        self.http = http
        self.logger = logger
    }

    static func logFile(directory: String, key: String) -> String {
        "\(directory)/\(key.replacingOccurrences(of: "/", with: "_")).log"
    }

    func engine(_ key: String) -> EngineHandle? { engines.withLock { $0[key] } }
    var engineKeys: [String] { engines.withLock { Array($0.keys) } }

    /// Takes over an engine a previous agent started.
    func adopt(_ key: String, _ handle: EngineHandle) {
        engines.withLock { $0[key] = handle }
    }

    // MARK: Reconcile

    func reconcile(key: String) async throws -> ReconcileResult {
        if shuttingDown.withLock({ $0 }) { return .done }
        let replica = replicas.get(key)
        guard let replica, replica.spec.nodeName == nodeName else {
            // Not ours (any more): make sure nothing of it runs here.
            if let handle = engine(key) { await stop(handle, key: key, drain: replica != nil) }
            forget(key)
            return .done
        }
        if replica.metadata.isBeingDeleted { return try await delete(replica, key: key) }
        if !(replica.metadata.finalizers ?? []).contains(Self.finalizer) {
            var updated = replica
            updated.metadata.finalizers = (replica.metadata.finalizers ?? []) + [Self.finalizer]
            _ = try await client.update(updated)
            return .requeue(after: .milliseconds(100))
        }

        var status = replica.status ?? ReplicaStatus()
        status.qosClass = replica.qosClass
        // A restarted agent picks the restart count up from the status it reported before.
        let remembered = memory.withLock { memory in
            if memory[key] == nil { memory[key] = Memory(restarts: replica.status?.restarts ?? 0) }
            return memory[key]!
        }
        let now = ContinuousClock.now

        if let handle = engine(key), let exit = handle.exitStatus {
            engines.withLock { $0[key] = nil }
            stateFile.set(key, nil)
            let everReady = handle.with { $0.everReady }
            let code = exit.map { "exit status \($0)" } ?? "a signal"
            if !everReady {
                // It never came up (bad model path, bad flags): restarting would fail the same way.
                let message = Self.lastErrorLine(Self.logFile(directory: logDirectory, key: key))
                    ?? "the engine ended with \(code) before it was ready"
                memory.withLock { $0[key, default: Memory()].startupFailure = message }
                await events.warning(replica, reason: "Failed", message: "engine failed to start: \(message)")
            } else {
                let restarts = remembered.restarts + 1
                let delay = backoff.delay(restarts: restarts)
                memory.withLock { $0[key, default: Memory()].restarts = restarts; $0[key, default: Memory()].restartAt = now + delay }
                await events.warning(replica, reason: "BackOff",
                                     message: "engine ended with \(code); restart \(restarts) in \(delay.components.seconds) s")
            }
        }
        let current = memory.withLock { $0[key] ?? Memory() }

        if let failure = current.startupFailure {
            status.phase = .failed
            status.reason = "EngineFailed"
            status.message = failure
            status.pid = nil
            status.endpoint = nil
            try await report(replica, status, key: key, force: false)
            return .done
        }

        guard let handle = engine(key) else {
            if let restartAt = current.restartAt, restartAt > now {
                status.phase = .starting
                status.reason = "CrashLoopBackOff"
                status.message = "back-off restarting the engine"
                status.restarts = current.restarts
                status.pid = nil
                status.endpoint = nil
                try await report(replica, status, key: key, force: false)
                return .requeue(after: min(.seconds(1), restartAt - now))
            }
            let port = try replica.spec.port ?? EngineLauncher.freePort()
            let spawned = try await launcher.launch(replica, port: port, logPath: Self.logFile(directory: logDirectory, key: key))
            engines.withLock { $0[key] = spawned }
            stateFile.set(key, .init(pid: spawned.pid, startTime: spawned.startTime, port: port, templateHash: replica.spec.templateHash))
            await events.normal(replica, reason: "Started", message: "started engine pid \(spawned.pid) on port \(port) on \(nodeName)")
            status.phase = .starting
            status.reason = current.restarts > 0 ? "Restarted" : nil
            status.message = nil
            status.pid = Int(spawned.pid)
            status.port = port
            status.endpoint = nil
            status.restarts = current.restarts
            status.startTime = .now()
            try await report(replica, status, key: key, force: true)
            return .requeue(after: .milliseconds(200))
        }

        // Running: probe readiness and liveness, and report usage.
        let ready = await probe(handle, path: "/ready")
        let alive = ready ? true : await probe(handle, path: "/health")
        let failedProbes = handle.with { state -> Int in
            state.failedProbes = alive ? 0 : state.failedProbes + 1
            if ready, !state.everReady { state.everReady = true; state.readySince = now }
            return state.failedProbes
        }
        if failedProbes >= 3, handle.with({ $0.everReady }) {
            // Liveness: three failed /health probes in a row and it is killed (then restarted).
            handle.signal(SIGKILL)
            await events.warning(replica, reason: "Unhealthy", message: "engine stopped answering /health; killed")
        }
        if ready, let since = handle.with({ $0.readySince }), now - since > backoff.resetAfter, current.restarts > 0 {
            memory.withLock { $0[key, default: Memory()].restarts = 0 }
        }
        status.pid = Int(handle.pid)
        status.port = handle.port
        status.restarts = current.restarts
        if ready {
            status.phase = .ready
            status.reason = nil
            status.message = nil
            status.endpoint = handle.endpoint
        } else {
            status.phase = handle.with({ $0.everReady }) ? .draining : .starting
            status.endpoint = nil
        }
        if let stat = ProcStat.read(pid: handle.pid) {
            status.cpuSeconds = (stat.cpuSeconds * 100).rounded() / 100
            status.memoryBytes = stat.residentBytes
        }
        try await report(replica, status, key: key, force: false)
        return .requeue(after: ready ? .seconds(1) : .milliseconds(100))
    }

    /// Deletion: drain, wait for in-flight requests (up to the grace period), SIGTERM, SIGKILL,
    /// then release the finalizer so the object goes.
    private func delete(_ replica: Replica, key: String) async throws -> ReconcileResult {
        if let handle = engine(key), handle.isRunning {
            let now = ContinuousClock.now
            let (drainStarted, terminated) = handle.with { ($0.drainRequested, $0.terminateSent) }
            if drainStarted == nil {
                handle.with { $0.drainRequested = now }
                _ = await post(handle, path: "/drain")
                var status = replica.status ?? ReplicaStatus()
                status.phase = .draining
                status.endpoint = nil
                _ = try? await client.updateStatus(Self.with(replica, status))
                return .requeue(after: .milliseconds(100))
            }
            if terminated == nil {
                let drained = await drainedState(handle)
                if drained || now - drainStarted! > drainGracePeriod {
                    handle.with { $0.terminateSent = now }
                    handle.signal(SIGTERM)
                }
                return .requeue(after: .milliseconds(100))
            }
            if now - terminated! > .seconds(10) { handle.signal(SIGKILL) }
            return .requeue(after: .milliseconds(100))
        }
        forget(key)
        if (replica.metadata.finalizers ?? []).contains(Self.finalizer) {
            var updated = replica
            updated.metadata.finalizers = replica.metadata.finalizers?.filter { $0 != Self.finalizer }
            do {
                _ = try await client.update(updated)
            } catch let error as Status where error.code == 404 {
            }
            await events.normal(replica, reason: "Stopped", message: "engine stopped; replica released by \(nodeName)")
        }
        return .done
    }

    /// Stops an engine whose replica is gone or moved: drain briefly, then SIGTERM and SIGKILL.
    func stop(_ handle: EngineHandle, key: String, drain: Bool, grace: Duration = .seconds(10)) async {
        if drain, handle.isRunning {
            _ = await post(handle, path: "/drain")
            let deadline = ContinuousClock.now + grace
            while handle.isRunning, ContinuousClock.now < deadline, !(await drainedState(handle)) {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        handle.signal(SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while handle.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if handle.isRunning {
            handle.signal(SIGKILL)
            while handle.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
    }

    /// Stops every engine (agent shutdown): their replicas stay, so the next agent starts them again.
    func stopAll() async {
        let all = engines.withLock { $0 }
        await withTaskGroup(of: Void.self) { group in
            for (key, handle) in all {
                group.addTask { await self.stop(handle, key: key, drain: true) }
            }
        }
        for key in all.keys { forget(key) }
    }

    private func forget(_ key: String) {
        engines.withLock { $0[key] = nil }
        memory.withLock { $0[key] = nil }
        stateFile.set(key, nil)
    }

    // MARK: Status

    private func report(_ replica: Replica, _ status: ReplicaStatus, key: String, force: Bool) async throws {
        var comparable = status
        comparable.cpuSeconds = replica.status?.cpuSeconds
        comparable.memoryBytes = replica.status?.memoryBytes
        let now = ContinuousClock.now
        let stale = memory.withLock { ($0[key]?.lastReport).map { now - $0 > .seconds(5) } ?? true }
        guard force || comparable != replica.status || (stale && status != replica.status) else { return }
        do {
            _ = try await client.updateStatus(Self.with(replica, status))
            memory.withLock { $0[key, default: Memory()].lastReport = now }
        } catch let error as Status where error.code == 409 || error.code == 404 {
            // A newer version exists (or it is gone): the next reconcile works from it.
        }
    }

    private static func with(_ replica: Replica, _ status: ReplicaStatus) -> Replica {
        var updated = replica
        updated.status = status
        return updated
    }

    /// The last `error:` line of the log (what `swell engine serve` prints when it cannot start).
    static func lastErrorLine(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 16_384 ? size - 16_384 : 0)
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: "\n").last { $0.hasPrefix("error:") || $0.hasPrefix("Error:") }.map(String.init)
    }

    // MARK: HTTP to the engine

    private func probe(_ handle: EngineHandle, path: String) async -> Bool {
        guard let response = try? await http.execute(HTTPClientRequest(url: handle.endpoint + path), timeout: .seconds(2)) else {
            return false
        }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return response.status == .ok
    }

    private func post(_ handle: EngineHandle, path: String) async -> Bool {
        var request = HTTPClientRequest(url: handle.endpoint + path)
        request.method = .POST
        guard let response = try? await http.execute(request, timeout: .seconds(2)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return (200..<300).contains(Int(response.status.code))
    }

    private func drainedState(_ handle: EngineHandle) async -> Bool {
        guard let response = try? await http.execute(HTTPClientRequest(url: handle.endpoint + "/drain"), timeout: .seconds(2)),
              let body = try? await response.body.collect(upTo: 1 << 16),
              let json = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else {
            return !handle.isRunning
        }
        return json["drained"] as? Bool ?? false
    }
}
