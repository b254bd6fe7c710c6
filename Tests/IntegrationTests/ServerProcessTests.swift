import Foundation
import Logging
import Synchronization
import SwellAPI
import SwellClient
import SwellStore
import Testing

/// The `swell server` process itself: shutdown on signals, durability across SIGKILL.
@Suite struct ServerProcessTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func aShutdownSignalEndsTheServerCleanly(_ signal: Int32) async throws {
        let server = try await ServerProcess()
        // An open watch must not hold the shutdown up.
        let watch = Task {
            for try await _ in server.client.watch(InferenceService.self, namespace: nil, resourceVersion: nil) {}
        }
        _ = try await server.client.create(PriorityClass(metadata: ObjectMeta(name: "before-shutdown"), value: 1))
        server.child.signal(signal)
        let exit = await server.child.waitForExit()
        #expect(exit == ProcessExit(reason: .exited, code: 0), "\(server.child.stderr)")
        watch.cancel()
        _ = await watch.result

        // The store was closed properly: it reopens with the object in it.
        let store = try SQLiteStore(path: server.dataDirectory.appendingPathComponent("swell.db").path, logger: Self.quietLogger)
        #expect(try await store.get(PriorityClass.self, namespace: nil, name: "before-shutdown").value == 1)
        try store.close()
        await server.stop()
    }

    @Test func everyAcknowledgedWriteSurvivesSIGKILL() async throws {
        let server = try await ServerProcess()
        // A request to the dead server fails within this guard instead of the default 30 s.
        let client = APIClient(baseURL: server.url, configuration: .init(requestTimeout: .seconds(10)))
        let acknowledged = Mutex<[String]>([])
        // Kill after a random number of acknowledged writes, while the writer keeps going.
        let killAfter = Int.random(in: 15...60)
        let writer = Task {
            for index in 0..<10_000 {
                let name = "svc-\(index)"
                let service = InferenceService(
                    metadata: ObjectMeta(name: name, namespace: "default", labels: ["batch": "crash"]),
                    spec: InferenceServiceSpec(model: ModelSpec(path: "/models/\(name).gguf"), replicas: index % 3))
                do {
                    _ = try await client.create(service)
                } catch {
                    return  // the server is gone
                }
                acknowledged.withLock { $0.append(name) }
            }
        }
        try await CommandsEndToEndTests.eventually { acknowledged.withLock { $0.count } >= killAfter }
        let exit = await server.kill()
        #expect(exit == ProcessExit(reason: .signalled, code: SIGKILL))
        await writer.value
        let written = acknowledged.withLock { $0 }
        #expect(written.count >= killAfter)

        // The same file, opened directly: it opens cleanly (integrity checked on open) and
        // holds every write the server acknowledged.
        let store = try SQLiteStore(path: server.dataDirectory.appendingPathComponent("swell.db").path, logger: Self.quietLogger)
        let stored = try await store.list(InferenceService.self, namespace: "default", selector: .everything).items
        let storedNames = Set(stored.map(\.metadata.name))
        let lost = written.filter { !storedNames.contains($0) }
        #expect(lost.isEmpty, "acknowledged but lost: \(lost)")
        for service in stored {
            let index = Int(service.metadata.name.dropFirst("svc-".count))!
            #expect(service.spec.replicas == index % 3)
        }
        try store.close()

        // And a new server process serves it.
        let restarted = try await ServerProcess(dataDirectory: server.dataDirectory)
        let listed = try await restarted.client.list(InferenceService.self, namespace: "default", labelSelector: "batch=crash")
        #expect(listed.items.count == stored.count)
        await restarted.stop()
        await server.stop()
    }

    @Test func aSecondServerOnTheSameDataDirectoryIsRefused() async throws {
        try await ServerProcess.with { server in
            let directory = server.workDirectory.appendingPathComponent("second")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let second = try await ChildProcess.run(
                try Binaries.swell, ["server", "--listen", "127.0.0.1:0", "--data-dir", server.dataDirectory.path],
                logDirectory: directory)
            #expect(second.exit.reason == .exited && second.exit.code != 0)
            #expect(second.stderr.lowercased().contains("lock"), "\(second)")
        }
    }

    @Test(arguments: [["--listen", "nowhere"], ["--listen", "127.0.0.1:99999"], ["--log-level", "loud"]])
    func badFlagsAreUsageErrors(_ flags: [String]) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ChildProcess.run(try Binaries.swell, ["server", "--data-dir", directory.path] + flags, logDirectory: directory)
        #expect(result.exit.reason == .exited && result.exit.code != 0)
        #expect(result.stderr.contains(flags[0]) || result.stderr.contains(flags[1]), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("swell.db").path))
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "test.store")
        logger.logLevel = .error
        return logger
    }
}
