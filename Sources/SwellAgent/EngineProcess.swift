#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Subprocess
import SystemPackage
import Synchronization
import SwellAPI

/// One engine process: either started by this agent (a child, reaped by swift-subprocess, so its
/// exit status is known) or adopted from an earlier agent run (not a child: watched via /proc).
final class EngineProcess: Sendable {
    let pid: Int32
    /// Clock ticks after boot at which it started (/proc/PID/stat): with the pid, this names the
    /// process and no later one that happens to get the same pid.
    let startTime: UInt64
    let port: Int
    let isChild: Bool
    private let ended = Mutex<EngineTermination.Cause?>(nil)

    init(pid: Int32, startTime: UInt64, port: Int, isChild: Bool) {
        self.pid = pid
        self.startTime = startTime
        self.port = port
        self.isChild = isChild
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// How it ended; nil while it runs.
    var termination: EngineTermination.Cause? {
        if let cause = ended.withLock({ $0 }) { return cause }
        // A child is known to have ended only once reaped; an adopted one when /proc no longer
        // shows it (a zombie counts as gone: its real parent reaps it).
        guard !isChild, !isAlive else { return nil }
        ended.withLock { $0 = $0 ?? .unknown }
        return .unknown
    }

    var isRunning: Bool { termination == nil }

    /// True while /proc shows this very process (same start time) and it is not a zombie.
    var isAlive: Bool { ProcStat.read(pid: pid)?.startTime == startTime }

    func recordExit(_ cause: EngineTermination.Cause) {
        ended.withLock { $0 = $0 ?? cause }
    }

    /// Signals the engine and its process group (it leads one, so anything it spawned goes too).
    /// Never signals a pid that now belongs to another process.
    func signal(_ signal: Int32) {
        guard ended.withLock({ $0 == nil }), isAlive else { return }
        if getpgid(pid) == pid {
            kill(-pid, signal)
        } else {
            kill(pid, signal)
        }
    }

    /// CPU seconds and resident memory, from /proc.
    var usage: ProcStat? {
        guard let stat = ProcStat.read(pid: pid), stat.startTime == startTime else { return nil }
        return stat
    }
}

/// Starts `swell engine serve` children through swift-subprocess.
struct EngineLauncher: Sendable {
    /// The `swell` executable.
    let executable: String
    /// Tags every engine with the state file of the agent that owns it, so a later agent can
    /// find engines its state file missed (see `OrphanScanner`).
    let stateFilePath: String

    static let ownerVariable = "SWELL_AGENT_STATE"
    static let replicaVariable = "SWELL_REPLICA"
    static let replicaUIDVariable = "SWELL_REPLICA_UID"

    /// `swell engine serve` arguments for a replica, without the port: what the agent compares
    /// to decide whether a running engine still matches its replica.
    static func command(for replica: Replica) -> [String] {
        let engine = replica.spec.engine ?? EngineSpec()
        var arguments = ["engine", "serve", "--model", replica.spec.model.path, "--host", "127.0.0.1",
                         "--served-model-name", replica.spec.serviceName, "--no-pin", "--log-level", "warning"]
        if let threads = engine.threads { arguments += ["--threads", String(threads)] }
        if let tokens = engine.kvCacheTokens { arguments += ["--kv-cache-tokens", String(tokens)] }
        if let block = engine.blockSize { arguments += ["--block-size", String(block)] }
        if let batch = engine.maxBatchTokens { arguments += ["--max-batch-tokens", String(batch)] }
        if let context = replica.spec.model.contextLength { arguments += ["--max-prompt-tokens", String(context)] }
        return arguments
    }

    /// The full argument list: the command plus the port.
    static func arguments(command: [String], port: Int) -> [String] {
        command + ["--port", String(port)]
    }

    /// Spawns the engine in its own process group, standard output and error appended to
    /// `logPath`, and returns once its pid is known; it is reaped in the background.
    func launch(command: [String], port: Int, logPath: String, replicaKey: String, replicaUID: String?) async throws -> EngineProcess {
        let arguments = Self.arguments(command: command, port: port)
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw AgentError("cannot open log \(logPath): \(String(cString: strerror(errno)))") }
        ReplicaLogFile.writeBanner(to: log, line: "starting: swell \(arguments.joined(separator: " "))")

        var variables: [Environment.Key: String?] = [
            Environment.Key(rawValue: Self.ownerVariable)!: stateFilePath,
            Environment.Key(rawValue: Self.replicaVariable)!: replicaKey,
        ]
        if let replicaUID { variables[Environment.Key(rawValue: Self.replicaUIDVariable)!] = replicaUID }
        let environment = Environment.inherit.updating(variables)
        let executable = self.executable
        // The log descriptor is closed exactly once: after the spawn (the child has its copy), or
        // here if the spawn never happened.
        let logOpen = Mutex(true)
        let closeLog = { @Sendable in
            if logOpen.withLock({ open in defer { open = false }; return open }) { close(log) }
        }
        let (started, continuation) = AsyncStream.makeStream(of: Result<EngineProcess, any Error>.self)
        // Detached and never cancelled: cancelling Subprocess.run would kill the engine.
        Task.detached {
            var options = PlatformOptions()
            // Its own process group: a Ctrl-C meant for the agent does not hit the engines, and
            // stopping an engine can signal everything it spawned.
            options.processGroupID = 0
            let process = Mutex<EngineProcess?>(nil)
            do {
                let result = try await Subprocess.run(
                    .path(FilePath(executable)), arguments: Arguments(arguments), environment: environment,
                    platformOptions: options, input: .none,
                    output: .fileDescriptor(FileDescriptor(rawValue: log), closeAfterSpawningProcess: false),
                    error: .combinedWithOutput
                ) { execution in
                    closeLog()
                    let pid = execution.processIdentifier.value
                    let spawned = EngineProcess(pid: pid, startTime: ProcStat.read(pid: pid)?.startTime ?? 0, port: port, isChild: true)
                    process.withLock { $0 = spawned }
                    continuation.yield(.success(spawned))
                    continuation.finish()
                }
                switch result.terminationStatus {
                case .exited(let code): process.withLock { $0 }?.recordExit(.exited(code))
                case .signaled(let signal): process.withLock { $0 }?.recordExit(.signalled(signal))
                }
            } catch {
                closeLog()
                process.withLock { $0 }?.recordExit(.unknown)
                continuation.yield(.failure(error))
                continuation.finish()
            }
        }
        for await outcome in started {
            return try outcome.get()
        }
        throw AgentError("could not start \(executable)")
    }

    /// A free loopback port, as the kernel picks it; released just before the engine binds it.
    /// (If another process takes it in between, the engine fails to start and is retried on a
    /// new port after its back-off.)
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw AgentError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw AgentError("bind: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct AgentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
