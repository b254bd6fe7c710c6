#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SwellClient

/// The agent's HTTP endpoint, as the kubelet serves container logs to the API server:
/// `GET /logs/{namespace}/{name}?tailLines=N&follow=true` and `GET /healthz`.
///
/// `follow` streams what the engine appends, like `tail -F`: a log cut by the size cap is read
/// again from its start, and the stream ends when the replica's log is removed (the replica is
/// gone) or the client goes away.
final class AgentLogServer: Service {
    let logDirectory: String
    let host: String
    let port: Int
    let logger: Logger
    let pollInterval: Duration
    /// `http://host:port` once it listens (published in Node.status.address).
    let address = LateValue<String>()

    init(logDirectory: String, host: String, port: Int, pollInterval: Duration = .milliseconds(200), logger: Logger) {
        self.logDirectory = logDirectory
        self.host = host
        self.port = port
        self.pollInterval = pollInterval
        self.logger = logger
    }

    func run() async throws {
        let router = Router()
        let directory = logDirectory
        let pollInterval = self.pollInterval
        router.get("/healthz") { _, _ in "ok" }
        router.get("/logs/:namespace/:name") { request, context -> Response in
            let namespace = try context.parameters.require("namespace")
            let name = try context.parameters.require("name")
            let tailText = request.uri.queryParameters.get("tailLines")
            let tail = tailText.flatMap { Int($0) }
            if let tailText, tail == nil || tail! < 0 {
                return Self.plain(.badRequest, "tailLines must be a whole number of lines, 0 or more (got \"\(tailText)\")\n")
            }
            let follow = request.uri.queryParameters.get("follow").map { $0 == "true" || $0 == "1" } ?? false
            let path = ReplicaLogFile.path(directory: directory, key: "\(namespace)/\(name)")
            guard let file = FileHandle(forReadingAtPath: path) else {
                return Self.plain(.notFound, "no log for replica \(namespace)/\(name) on this node\n")
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                defer { try? file.close() }
                let initial = file.readDataToEndOfFile()
                var offset = UInt64(initial.count)
                let shown = ReplicaLogFile.tail(initial, lines: tail)
                if !shown.isEmpty { try await writer.write(ByteBuffer(bytes: shown)) }
                let inode = Self.inode(of: file.fileDescriptor)
                while follow {
                    try await Task.sleep(for: pollInterval)
                    // Removed (or replaced by another replica's log of the same name): done.
                    guard let current = Self.inode(atPath: path), current == inode else { break }
                    let size = (try? file.seekToEnd()) ?? offset
                    if size < offset { offset = 0 }  // cut by the size cap: read it again from the start
                    guard size > offset else { continue }
                    try file.seek(toOffset: offset)
                    let more = file.readData(ofLength: Int(size - offset))
                    offset += UInt64(more.count)
                    try await writer.write(ByteBuffer(bytes: more))
                }
                try await writer.finish(nil)
            })
        }
        let address = self.address
        let host = self.host
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "swell-agent"),
            onServerRunning: { channel in
                address.set(Self.advertisedURL(host: host, port: channel.localAddress?.port ?? 0))
            },
            logger: logger)
        do {
            try await application.run()
        } catch {
            address.abandon()
            throw error
        }
        address.abandon()
    }

    /// The URL the API server should use: a wildcard listen address is advertised as loopback
    /// (right for the embedded agent; a remote agent should listen on its own address).
    static func advertisedURL(host: String, port: Int) -> String {
        switch host {
        case "0.0.0.0", "": "http://127.0.0.1:\(port)"
        case "::": "http://[::1]:\(port)"
        default: host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
        }
    }

    private static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func inode(of descriptor: Int32) -> UInt64? {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    private static func inode(atPath path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }
}
