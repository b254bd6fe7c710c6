import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle
import SwellAPI
import SwellClient
import SwellServer
import SwellStore
import Synchronization
import Testing

/// A real API server on an ephemeral loopback port over a temporary SQLite file, which can be
/// stopped and started again on the same port (to cut every watch, as a server restart does).
final class LiveServer: Sendable {
    let store: SQLiteStore
    let directory: URL
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }
    private let running = Mutex<(group: ServiceGroup, task: Task<Void, any Error>)?>(nil)

    init(historyLimit: Int = 10_000) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-client-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: directory.appendingPathComponent("swell.db").path, logger: Self.quietLogger, historyLimit: historyLimit)
        let (group, task, port) = try await Self.start(store: store, port: 0)
        self.port = port
        running.withLock { $0 = (group, task) }
    }

    func client(_ configuration: APIClient.Configuration = .init()) -> APIClient {
        APIClient(baseURL: baseURL, configuration: configuration)
    }

    /// Ends the HTTP server (and with it every watch), keeping the store.
    func pause() async throws {
        guard let (group, task) = running.withLock({ state in defer { state = nil }; return state }) else { return }
        await group.triggerGracefulShutdown()
        try await task.value
    }

    /// Serves again on the same port.
    func resume() async throws {
        var lastError: (any Error)?
        // The port was ours a moment ago; retry briefly in case the kernel has not released it.
        for _ in 0..<50 {
            do {
                let (group, task, _) = try await Self.start(store: store, port: port)
                running.withLock { $0 = (group, task) }
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError!
    }

    func stop() async throws {
        try await pause()
        try store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The Prometheus text of `/metrics`.
    func metrics() async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + "/metrics"), timeout: .seconds(30))
        return String(buffer: try await response.body.collect(upTo: 16 << 20))
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "test.client")
        logger.logLevel = .critical
        return logger
    }

    private static func start(store: SQLiteStore, port: Int) async throws -> (ServiceGroup, Task<Void, any Error>, Int) {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = APIServer(
            store: store,
            configuration: .init(host: "127.0.0.1", port: port, onServerRunning: { port in
                continuation.yield(port)
                continuation.finish()
            }),
            logger: quietLogger)
        let group = ServiceGroup(configuration: .init(services: [server], logger: quietLogger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let bound = await iterator.next() else {
            try await task.value
            throw CancellationError()
        }
        return (group, task, bound)
    }
}

/// Runs `body` against a fresh server and always stops it.
func withLiveServer(historyLimit: Int = 10_000, _ body: (LiveServer) async throws -> Void) async throws {
    let server = try await LiveServer(historyLimit: historyLimit)
    do {
        try await body(server)
    } catch {
        try? await server.stop()
        throw error
    }
    try await server.stop()
}

/// Polls `condition` until it holds; the timeout only guards against a hang.
func eventually(
    _ description: Comment,
    timeout: Duration = .seconds(30),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting: \(description)", sourceLocation: sourceLocation)
    throw CancellationError()
}

func service(_ name: String, namespace: String = "default", replicas: Int = 1, labels: [String: String]? = nil) -> InferenceService {
    InferenceService(
        metadata: ObjectMeta(name: name, namespace: namespace, labels: labels),
        spec: InferenceServiceSpec(model: ModelSpec(path: "/models/\(name).gguf"), replicas: replicas))
}

/// The value of one sample in Prometheus text, e.g. `swell_apiserver_watches{resource="replicas"}`.
func sample(_ metrics: String, _ series: String) -> Double? {
    for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces))
    }
    return nil
}
