import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SwellAPI
import SwellStore
@testable import SwellServer
import Testing

/// A real API server on an ephemeral loopback port over a temporary SQLite file.
final class TestServer: Sendable {
    let baseURL: String
    let store: SQLiteStore
    let directory: URL
    private let group: ServiceGroup
    private let runner: Task<Void, any Error>

    struct Reply: Sendable {
        var code: Int
        var headers: HTTPHeaders
        var body: Data
        var json: JSONValue? { try? JSONValue.parse(body) }
        var status: Status? { try? JSONDecoder().decode(Status.self, from: body) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(type, from: body) }
    }

    init(historyLimit: Int = 10_000, maxBodySize: Int = 4 << 20) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-server-test-\(UUID().uuidString)")
        store = try SQLiteStore(path: directory.appendingPathComponent("swell.db").path, historyLimit: historyLimit)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "test.apiserver")
        logger.logLevel = .error
        let server = APIServer(
            store: store,
            configuration: .init(host: "127.0.0.1", port: 0, maxBodySize: maxBodySize, onServerRunning: { port in
                portContinuation.yield(port)
                portContinuation.finish()
            }),
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        self.group = group
        runner = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        baseURL = "http://127.0.0.1:\(port)"
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await runner.value
        try store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    func request(_ method: HTTPMethod, _ path: String, json: String? = nil, body: Data? = nil, contentType: String = "application/json") async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let data = body ?? json.map({ Data($0.utf8) }) {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(code: Int(response.status.code), headers: response.headers, body: Data(bytes.readableBytesView))
    }

    /// Opens a watch and returns its events one JSON line at a time.
    func watch(_ path: String) async throws -> WatchReader {
        let request = HTTPClientRequest(url: baseURL + path)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return WatchReader(code: Int(response.status.code), body: response.body)
    }
}

/// Splits a streaming response into newline-delimited JSON documents.
struct WatchReader {
    let code: Int
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private var pending = [UInt8]()

    init(code: Int, body: HTTPClientResponse.Body) {
        self.code = code
        self.iterator = body.makeAsyncIterator()
    }

    /// The next event, or nil when the server ends the stream.
    mutating func next() async throws -> JSONValue? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                return try JSONValue.parse(Data(line))
            }
            guard let chunk = try await iterator.next() else { return nil }
            pending += Array(chunk.readableBytesView)
        }
    }
}

/// Runs a body against a fresh server and always stops it.
func withServer(historyLimit: Int = 10_000, maxBodySize: Int = 4 << 20, _ body: (TestServer) async throws -> Void) async throws {
    let server = try await TestServer(historyLimit: historyLimit, maxBodySize: maxBodySize)
    do {
        try await body(server)
    } catch {
        try? await server.stop()
        throw error
    }
    try await server.stop()
}

let servicesPath = "/apis/swell.dev/v1/namespaces/default/inferenceservices"

func serviceJSON(name: String = "chat", replicas: Int = 1, extra: String = "", labels: String = "{}") -> String {
    """
    {"apiVersion":"swell.dev/v1","kind":"InferenceService","metadata":{"name":"\(name)","labels":\(labels)},
     "spec":{"model":{"path":"/models/m.gguf"},"replicas":\(replicas)\(extra)}}
    """
}
