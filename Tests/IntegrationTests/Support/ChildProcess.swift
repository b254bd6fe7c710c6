import Foundation
import Testing

/// How a child process ended.
struct ProcessExit: Sendable, Equatable, CustomStringConvertible {
    enum Reason: Sendable, Equatable {
        case exited
        case signalled
    }

    var reason: Reason
    /// The exit status, or the signal number.
    var code: Int32

    var isCleanExit: Bool { reason == .exited && code == 0 }

    var description: String { reason == .exited ? "exit \(code)" : "signal \(code)" }
}

/// The output of a command that ran to completion.
struct CommandResult: Sendable, CustomStringConvertible {
    var exit: ProcessExit
    var stdout: String
    var stderr: String

    var succeeded: Bool { exit.isCleanExit }
    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }

    var description: String { "\(exit)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// A child process whose output goes to files, so nothing blocks on a full pipe and the logs
/// stay readable when a test fails.
final class ChildProcess: @unchecked Sendable {
    let pid: Int32
    let stdoutPath: URL
    let stderrPath: URL
    // Only touched before `run()` and by Foundation's termination machinery afterwards.
    private let process: Process
    private let exitTask: Task<ProcessExit, Never>

    init(executable: URL, arguments: [String], environment: [String: String]? = nil, standardInput: Data? = nil, logDirectory: URL) throws {
        let name = "\(executable.lastPathComponent)-\(UUID().uuidString.prefix(8))"
        stdoutPath = logDirectory.appendingPathComponent("\(name).out")
        stderrPath = logDirectory.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: stdoutPath.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath.path, contents: nil)

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = try FileHandle(forWritingTo: stdoutPath)
        process.standardError = try FileHandle(forWritingTo: stderrPath)
        let input = Pipe()
        process.standardInput = input

        let (exits, continuation) = AsyncStream.makeStream(of: ProcessExit.self)
        process.terminationHandler = { finished in
            let reason: ProcessExit.Reason = finished.terminationReason == .exit ? .exited : .signalled
            continuation.yield(ProcessExit(reason: reason, code: finished.terminationStatus))
            continuation.finish()
        }
        try process.run()
        self.process = process
        pid = process.processIdentifier
        exitTask = Task {
            for await exit in exits { return exit }
            return ProcessExit(reason: .signalled, code: -1)
        }
        if let standardInput {
            input.fileHandleForWriting.write(standardInput)
        }
        try input.fileHandleForWriting.close()
    }

    deinit {
        // A test that failed half-way must not leave servers behind.
        if process.isRunning { kill(pid, SIGKILL) }
    }

    var isRunning: Bool { process.isRunning }

    func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits for the process to end; after `timeout` (a guard against hangs, not a measurement)
    /// it is killed and the test fails.
    func waitForExit(timeout: Duration = .seconds(120)) async -> ProcessExit {
        let pid = self.pid
        let guardTask = Task {
            try await Task.sleep(for: timeout)
            Issue.record("process \(pid) still running after \(timeout); killing it")
            kill(pid, SIGKILL)
        }
        let exit = await exitTask.value
        guardTask.cancel()
        return exit
    }

    var stdout: String { (try? String(contentsOf: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrPath, encoding: .utf8)) ?? "" }

    /// Runs a command to completion.
    static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil, standardInput: Data? = nil, logDirectory: URL) async throws -> CommandResult {
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment, standardInput: standardInput, logDirectory: logDirectory)
        let exit = await child.waitForExit()
        return CommandResult(exit: exit, stdout: child.stdout, stderr: child.stderr)
    }
}
