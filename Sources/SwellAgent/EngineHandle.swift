#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Subprocess
import SystemPackage
import Synchronization
import SwellAPI

/// One engine process the agent runs (or adopted from an earlier agent): where it listens, how
/// to tell it from a reused pid, and how it ended.
public final class EngineHandle: Sendable {
    public let pid: Int32
    public let port: Int
    public let startTime: UInt64
    public let templateHash: String?
    public let adopted: Bool
    private let state = Mutex(State())

    struct State {
        var exit: Int32?? = nil  // .some(nil): ended by a signal or vanished; .some(code): exit status
        var readySince: ContinuousClock.Instant?
        var everReady = false
        var drainRequested: ContinuousClock.Instant?
        var terminateSent: ContinuousClock.Instant?
        var failedProbes = 0
    }

    init(pid: Int32, port: Int, startTime: UInt64, templateHash: String?, adopted: Bool) {
        self.pid = pid
        self.port = port
        self.startTime = startTime
        self.templateHash = templateHash
        self.adopted = adopted
    }

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// nil while it runs; otherwise the exit status (nil inside when killed by a signal).
    public var exitStatus: Int32?? {
        state.withLock { state in
            if state.exit == nil, adopted, ProcStat.read(pid: pid)?.startTime != startTime { state.exit = .some(nil) }
            return state.exit
        }
    }

    var isRunning: Bool { exitStatus == nil }

    func recordExit(_ code: Int32?) { state.withLock { $0.exit = .some(code) } }

    func with<T>(_ body: (inout State) -> T) -> T { state.withLock { body(&$0) } }

    func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(pid, signal)
    }
}

/// Starts `swell engine serve` children through swift-subprocess, output appended to a log file.
struct EngineLauncher: Sendable {
    let executable: String

    /// The arguments of `swell engine serve` for a replica.
    static func arguments(for replica: Replica, port: Int) -> [String] {
        let engine = replica.spec.engine ?? EngineSpec()
        var arguments = ["engine", "serve", "--model", replica.spec.model.path, "--host", "127.0.0.1", "--port", String(port),
                         "--served-model-name", replica.spec.serviceName, "--no-pin", "--log-level", "warning"]
        if let threads = engine.threads { arguments += ["--threads", String(threads)] }
        if let tokens = engine.kvCacheTokens { arguments += ["--kv-cache-tokens", String(tokens)] }
        if let block = engine.blockSize { arguments += ["--block-size", String(block)] }
        if let batch = engine.maxBatchTokens { arguments += ["--max-batch-tokens", String(batch)] }
        if let context = replica.spec.model.contextLength { arguments += ["--max-prompt-tokens", String(context)] }
        return arguments
    }

    /// Spawns the engine and returns once its pid is known; the process is reaped in the background.
    func launch(_ replica: Replica, port: Int, logPath: String) async throws -> EngineHandle {
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw AgentError("cannot open log \(logPath): \(String(cString: strerror(errno)))") }
        let banner = "--- \(Date()) starting: swell \(Self.arguments(for: replica, port: port).joined(separator: " "))\n"
        _ = banner.withCString { write(log, $0, strlen($0)) }
        let errorLog = dup(log)
        let arguments = Self.arguments(for: replica, port: port)
        let executable = self.executable
        let hash = replica.spec.templateHash
        let (started, continuation) = AsyncStream.makeStream(of: EngineHandle?.self)
        Task.detached {
            var options = PlatformOptions()
            // Its own process group: signals to the agent's terminal do not hit the engines.
            options.processGroupID = 0
            var handle: EngineHandle?
            do {
                let result = try await Subprocess.run(
                    .path(FilePath(executable)), arguments: Arguments(arguments), platformOptions: options, input: .none,
                    output: .fileDescriptor(FileDescriptor(rawValue: log), closeAfterSpawningProcess: true),
                    error: .fileDescriptor(FileDescriptor(rawValue: errorLog), closeAfterSpawningProcess: true)
                ) { execution in
                    let pid = execution.processIdentifier.value
                    let spawned = EngineHandle(pid: pid, port: port, startTime: ProcStat.read(pid: pid)?.startTime ?? 0,
                                               templateHash: hash, adopted: false)
                    handle = spawned
                    continuation.yield(spawned)
                    continuation.finish()
                }
                switch result.terminationStatus {
                case .exited(let code): handle?.recordExit(code)
                case .signaled: handle?.recordExit(nil)
                }
            } catch {
                close(log)
                close(errorLog)
                handle?.recordExit(nil)
                continuation.yield(nil)
                continuation.finish()
            }
        }
        for await handle in started {
            if let handle { return handle }
        }
        throw AgentError("could not start \(executable)")
    }

    /// A free loopback port (the kernel's choice; released just before the engine binds it).
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
