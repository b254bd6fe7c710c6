import Foundation
import SwellClient
import Testing

/// A real `swell server` child process on an ephemeral loopback port, with its own data
/// directory, plus a way to run `swellctl` against it.
final class ServerProcess: Sendable {
    let url: String
    /// The router's URL (the OpenAI-compatible front door), on its own ephemeral port.
    let routerURL: String
    /// Holds `swell.db`; survives `stop()` when the test passed it in.
    let dataDirectory: URL
    /// Scratch space for manifests and logs; removed by `stop()`.
    let workDirectory: URL
    let child: ChildProcess

    static let listeningPrefix = "swell server listening on "
    static let routerPrefix = "swell router listening on "

    /// Starts the server and waits for the line announcing its address. Without `agentArguments`
    /// the embedded agent is off, so tests about the API never start engines.
    init(dataDirectory: URL? = nil, workDirectory existing: URL? = nil, agentArguments: [String]? = nil) async throws {
        workDirectory = existing ?? FileManager.default.temporaryDirectory.appendingPathComponent("swell-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        self.dataDirectory = dataDirectory ?? workDirectory.appendingPathComponent("data")
        child = try ChildProcess(
            executable: try Binaries.swell,
            arguments: ["server", "--listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0",
                        "--data-dir", self.dataDirectory.path, "--log-level", "warning"]
                + (agentArguments ?? ["--disable-agent"]),
            logDirectory: workDirectory)
        url = try await Self.awaitLine(Self.listeningPrefix, child)
        routerURL = try await Self.awaitLine(Self.routerPrefix, child)
    }

    private static func awaitLine(_ prefix: String, _ child: ChildProcess) async throws -> String {
        // A guard against a server that never comes up, not a measurement.
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            if let line = child.stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(line.dropFirst(prefix.count))
            }
            if !child.isRunning {
                let exit = await child.waitForExit()
                throw ServerFailure("swell server exited (\(exit)) before listening:\n\(child.stderr)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        child.signal(SIGKILL)
        throw ServerFailure("swell server printed no \"\(prefix)\" line:\n\(child.stdout)\n\(child.stderr)")
    }

    var client: APIClient { APIClient(baseURL: url) }

    /// SIGTERM, then the way it ended.
    func terminate() async -> ProcessExit {
        child.signal(SIGTERM)
        return await child.waitForExit()
    }

    /// SIGKILL, then the way it ended.
    func kill() async -> ProcessExit {
        child.signal(SIGKILL)
        return await child.waitForExit()
    }

    /// Stops the server if it still runs and removes the scratch directory.
    func stop() async {
        if child.isRunning {
            let exit = await terminate()
            #expect(exit.isCleanExit, "swell server did not shut down cleanly (\(exit)):\n\(child.stderr)")
        }
        try? FileManager.default.removeItem(at: workDirectory)
    }

    /// Runs `swellctl ARGS --server URL` with a clean environment (no SWELL_SERVER, a HOME
    /// without a config file).
    func swellctl(_ arguments: String..., input: String? = nil) async throws -> CommandResult {
        try await swellctl(arguments, input: input)
    }

    func swellctl(_ arguments: [String], input: String? = nil) async throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment
        environment["SWELL_SERVER"] = nil
        environment["HOME"] = workDirectory.path
        return try await ChildProcess.run(
            try Binaries.swellctl, arguments + ["--server", url],
            environment: environment, standardInput: input.map { Data($0.utf8) }, logDirectory: workDirectory)
    }

    /// Writes a file into the scratch directory and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        let url = workDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Runs `body` against a fresh server and always stops it afterwards.
    static func with<T>(_ body: (ServerProcess) async throws -> T) async throws -> T {
        let server = try await ServerProcess()
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}

struct ServerFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
