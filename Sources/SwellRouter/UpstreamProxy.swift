import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import SwellAPI
import SwellHTTP

/// Sends one admitted request to its replica and streams the answer back chunk by chunk.
///
/// A replica that cannot be reached — connection refused or reset, or an answer of 503 because
/// it is draining — before anything was sent to the client is left out and the request is
/// admitted again, to another replica, up to `maxAttempts` times. Once the replica's response has
/// started, it is the client's: a failure after that ends the response.
struct UpstreamProxy: Sendable {
    let http: HTTPClient
    let metrics: RouterMetrics
    let maxAttempts: Int
    let timeout: Duration

    struct Routed: Sendable {
        var service: String
        var gate: ServiceGate
        var path: String
        var body: ByteBuffer
        var priority: RequestPriority
        var key: UInt64?
        var arrival: ContinuousClock.Instant
        var queueTimeoutSeconds: Int
    }

    func forward(_ request: Routed) async -> Response {
        var excluded: Set<String> = []
        var lastError = ""
        for attempt in 1...maxAttempts {
            if attempt > 1 { metrics.retried(service: request.service) }
            let lease: Lease
            switch await request.gate.acquire(priority: request.priority, key: request.key, excluding: excluded, retry: attempt > 1) {
            case .admitted(let admitted):
                lease = admitted
            case .shed(let seconds):
                metrics.shed(service: request.service, priority: request.priority)
                return answer(OpenAIError.shed(service: request.service, priority: request.priority.description, retryAfter: seconds), request)
            case .timedOut:
                return answer(OpenAIError.timedOut(service: request.service, seconds: request.queueTimeoutSeconds,
                                                   readyReplicas: request.gate.statistics.routableReplicas), request)
            case .cancelled:
                return answer(.clientClosed, request)
            }
            metrics.routed(service: request.service, replica: lease.replica, reason: lease.reason)

            let upstream: HTTPClientResponse
            do {
                upstream = try await http.execute(outgoing(request, to: lease), deadline: .now() + .nanoseconds(timeout.nanoseconds))
            } catch where Task.isCancelled {
                // The client hung up (the request was cancelled), not the replica's fault.
                lease.release()
                return answer(.clientClosed, request)
            } catch {
                lease.release(failed: true)
                excluded.insert(lease.replica)
                lastError = "\(lease.replica): \(error)"
                continue
            }
            lease.started()
            if upstream.status == .serviceUnavailable, attempt < maxAttempts {
                // Draining (or not ready): no harm done, another replica can take it.
                lease.release()
                excluded.insert(lease.replica)
                lastError = "\(lease.replica) answered 503"
                continue
            }
            return stream(upstream, lease: lease, request)
        }
        return answer(OpenAIError.upstreamFailed(service: request.service, attempts: maxAttempts, error: lastError), request)
    }

    private func outgoing(_ request: Routed, to lease: Lease) -> HTTPClientRequest {
        var outgoing = HTTPClientRequest(url: lease.endpoint + request.path)
        outgoing.method = .POST
        outgoing.headers.add(name: "Content-Type", value: "application/json")
        outgoing.headers.add(name: RequestPriority.headerName, value: request.priority.description)
        outgoing.body = .bytes(request.body)
        return outgoing
    }

    private func stream(_ upstream: HTTPClientResponse, lease: Lease, _ request: Routed) -> Response {
        var headers = HTTPFields()
        for name in ["Content-Type", "Retry-After", "Cache-Control"] {
            if let value = upstream.headers.first(name: name), let field = HTTPField.Name(name) { headers[field] = value }
        }
        headers[HTTPField.Name("X-Swell-Replica")!] = lease.replica
        let code = Int(upstream.status.code)
        let metrics = self.metrics
        return Response(status: HTTPResponse.Status(code: code), headers: headers, body: ResponseBody { writer in
            var firstByte: Double?
            var outcome = 499 // the client went away, unless the body is written to the end
            defer {
                lease.release()
                metrics.requestEnded(service: request.service, priority: request.priority, code: outcome,
                                     seconds: (ContinuousClock.now - request.arrival).inSeconds, firstByteSeconds: firstByte)
            }
            // Leaving this loop early (the client hung up) drops the upstream body, which makes
            // the HTTP client close that connection: the replica sees the disconnect and stops.
            var chunks = upstream.body.makeAsyncIterator()
            while true {
                let chunk: ByteBuffer?
                do {
                    chunk = try await chunks.next()
                } catch {
                    outcome = 502 // the replica failed mid-response
                    throw error
                }
                guard let chunk else { break }
                if firstByte == nil { firstByte = (ContinuousClock.now - request.arrival).inSeconds }
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
            outcome = code
        })
    }

    private func answer(_ error: OpenAIError, _ request: Routed) -> Response {
        metrics.requestEnded(service: request.service, priority: request.priority, code: Int(error.status.code),
                             seconds: (ContinuousClock.now - request.arrival).inSeconds, firstByteSeconds: nil)
        return error.response
    }
}
