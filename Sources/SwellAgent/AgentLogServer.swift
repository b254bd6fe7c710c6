import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SwellClient

/// The agent's HTTP endpoint: replica logs, as the kubelet serves container logs to the API
/// server. `GET /logs/{namespace}/{name}?tailLines=N&follow=true`.
final class AgentLogServer: Service {
    let logDirectory: String
    let host: String
    let port: Int
    let logger: Logger
    /// `http://host:port` once it listens (published in Node.status.address).
    let address = LateValue<String>()

    init(logDirectory: String, host: String, port: Int, logger: Logger) {
        self.logDirectory = logDirectory
        self.host = host
        self.port = port
        self.logger = logger
    }

    func run() async throws {
        let router = Router()
        let directory = logDirectory
        router.get("/healthz") { _, _ in "ok" }
        router.get("/logs/:namespace/:name") { request, context -> Response in
            let namespace = try context.parameters.require("namespace")
            let name = try context.parameters.require("name")
            let path = ReplicaRuntime.logFile(directory: directory, key: "\(namespace)/\(name)")
            guard FileManager.default.fileExists(atPath: path) else {
                return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "no log for replica \(namespace)/\(name) on this node\n")))
            }
            let tail = request.uri.queryParameters.get("tailLines", as: Int.self)
            let follow = request.uri.queryParameters.get("follow") == "true"
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                guard let file = FileHandle(forReadingAtPath: path) else { return }
                defer { try? file.close() }
                let initial = file.readDataToEndOfFile()
                var text = String(decoding: initial, as: UTF8.self)
                if let tail, tail >= 0 {
                    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                    let body = lines.last == "" ? lines.dropLast() : lines[...]
                    text = body.suffix(tail).joined(separator: "\n") + (body.isEmpty || tail == 0 ? "" : "\n")
                }
                try await writer.write(ByteBuffer(string: text))
                while follow {
                    try await Task.sleep(for: .milliseconds(200))
                    let more = file.readDataToEndOfFile()
                    if !more.isEmpty { try await writer.write(ByteBuffer(bytes: more)) }
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
                address.set("http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(channel.localAddress?.port ?? 0)")
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
}
