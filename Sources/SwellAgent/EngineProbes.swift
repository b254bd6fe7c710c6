import AsyncHTTPClient
import Foundation
import NIOCore

/// The agent's HTTP calls to its engines: `/ready`, `/health`, `POST /drain`, `GET /drain`.
///
/// Probes fail fast: a refused connection is an answer ("not listening yet"), not something to
/// retry until a timeout, and a hung engine costs at most `timeout` per call.
struct EngineProbes: Sendable {
    let http: HTTPClient
    var timeout: TimeAmount = .seconds(2)

    static func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(1), read: .seconds(2))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// `ready`: `/ready` answered 200. `healthy`: `/health` answered 200 (not asked when ready).
    func check(_ engine: EngineProcess) async -> (ready: Bool, healthy: Bool) {
        if await status(engine.endpoint + "/ready") == 200 { return (true, true) }
        return (false, await status(engine.endpoint + "/health") == 200)
    }

    func requestDrain(_ engine: EngineProcess) async {
        _ = await status(engine.endpoint + "/drain", post: true)
    }

    /// `GET /drain` says `drained: true`; an engine that no longer answers has nothing in flight.
    func drained(_ engine: EngineProcess) async -> Bool {
        var request = HTTPClientRequest(url: engine.endpoint + "/drain")
        request.method = .GET
        guard let response = try? await http.execute(request, timeout: timeout) else { return !engine.isAlive }
        guard let body = try? await response.body.collect(upTo: 1 << 16), response.status == .ok else { return false }
        struct DrainState: Decodable { var drained: Bool }
        return (try? JSONDecoder().decode(DrainState.self, from: Data(body.readableBytesView)))?.drained ?? false
    }

    private func status(_ url: String, post: Bool = false) async -> Int? {
        var request = HTTPClientRequest(url: url)
        request.method = post ? .POST : .GET
        guard let response = try? await http.execute(request, timeout: timeout) else { return nil }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }
}
