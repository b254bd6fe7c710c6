import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import SwellAPI
import SwellStore

/// `GET /apis/swell.dev/v1/namespaces/{ns}/replicas/{name}/log[?tailLines=N&follow=true]`:
/// the replica's engine log, fetched from the agent of its node (Node.status.address) and
/// streamed through, as kube-apiserver proxies `pods/log` to the kubelet.
struct ReplicaLogProxy: Sendable {
    let store: any ResourceStore

    /// The namespace and name when `path` is a replica's log subresource.
    static func match(_ path: String) -> (namespace: String, name: String)? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == 8, parts[0] == "apis", parts[1] == "swell.dev", parts[2] == "v1", parts[3] == "namespaces",
              parts[5] == "replicas", parts[7] == "log" else { return nil }
        return (String(parts[4]), String(parts[6]))
    }

    func handle(_ request: Request, namespace: String, name: String) async -> Response {
        do {
            let replica = try await store.get(Replica.self, namespace: namespace, name: name)
            guard let nodeName = replica.spec.nodeName else {
                throw Status.badRequest("replica \(name) is not scheduled to a node yet; it has no log")
            }
            let node = try await store.get(Node.self, namespace: nil, name: nodeName)
            guard let address = node.status?.address else {
                throw Status(code: 503, reason: .serviceUnavailable, message: "node \(nodeName) has no agent address")
            }
            var query: [String] = []
            if let tail = request.uri.queryParameters.get("tailLines", as: Int.self) { query.append("tailLines=\(tail)") }
            if request.uri.queryParameters.get("follow") == "true" { query.append("follow=true") }
            let url = "\(address)/logs/\(namespace)/\(name)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            let upstream = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .hours(24))
            guard upstream.status == .ok else {
                let text = String(buffer: try await upstream.body.collect(upTo: 1 << 16))
                throw Status(code: Int(upstream.status.code), reason: upstream.status.code == 404 ? .notFound : .serviceUnavailable,
                             message: text.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                for try await chunk in upstream.body { try await writer.write(chunk) }
                try await writer.finish(nil)
            })
        } catch let status as Status {
            return APIHandler.statusResponse(status)
        } catch StoreError.notFound(let kind, _, let missing) {
            return APIHandler.statusResponse(.notFound(kind: kind, name: missing))
        } catch {
            return APIHandler.statusResponse(Status(code: 503, reason: .serviceUnavailable, message: "cannot reach the node's agent: \(error)"))
        }
    }
}
