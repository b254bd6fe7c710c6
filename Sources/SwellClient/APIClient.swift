import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwellAPI

/// A typed client for the Swell REST API (DESIGN.md §4).
///
/// Failing calls throw the server's `Status` (synthesised from the HTTP code when the body is
/// not one); a request that never got a response throws `APIClientError.requestFailed`, which
/// wraps the transport error.
public struct APIClient: Sendable {
    public struct Configuration: Sendable {
        /// The whole call (connect, response head and body) for everything but watches; for a
        /// watch only until the response head arrives, since its body lasts as long as the watch.
        public var requestTimeout: Duration
        /// Larger response bodies fail rather than exhaust memory.
        public var maxResponseSize: Int
        /// Server-side lifetime of one watch request (`timeoutSeconds`); nil leaves it to the
        /// server. A watch that ends this way simply finishes; informers re-watch.
        public var watchTimeout: Duration?
        public var userAgent: String

        public init(
            requestTimeout: Duration = .seconds(30),
            maxResponseSize: Int = 64 << 20,
            watchTimeout: Duration? = nil,
            userAgent: String = "swell-client/\(swellVersion)"
        ) {
            self.requestTimeout = requestTimeout
            self.maxResponseSize = maxResponseSize
            self.watchTimeout = watchTimeout
            self.userAgent = userAgent
        }
    }

    /// `http://127.0.0.1:7070`, without a trailing slash.
    public let baseURL: String
    public let configuration: Configuration
    private let httpClient: HTTPClient

    /// `httpClient` defaults to `APIClient.sharedHTTPClient`, which suits watches (see there).
    public init(baseURL: String, httpClient: HTTPClient = APIClient.sharedHTTPClient, configuration: Configuration = Configuration()) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.httpClient = httpClient
        self.configuration = configuration
    }

    /// The process-wide client every `APIClient` uses unless given another. Unlike
    /// `HTTPClient.shared` it has no read timeout — a watch may rightly be silent for minutes —
    /// and fails a refused connection at once instead of retrying until the request times out,
    /// so `swellctl` against a stopped server answers immediately; informers retry with their
    /// own backoff. Its per-host connection limit is high because every open watch holds a
    /// connection: with the default of 8, a process running a few informers would queue its
    /// ordinary requests behind watches that never end.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: nil)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = maxConnectionsPerHost
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Concurrent connections `sharedHTTPClient` opens to one server (watches included).
    public static let maxConnectionsPerHost = 256

    // MARK: Typed calls

    /// A namespaced kind without a namespace is looked up in `default`.
    public func get<R: Resource>(_ type: R.Type, namespace: String?, name: String) async throws -> R {
        try decode(R.self, from: await send(.GET, ResourcePath.object(R.self, namespace: namespace, name: name)))
    }

    /// `namespace: nil` lists across all namespaces (or a cluster-scoped kind).
    public func list<R: Resource>(_ type: R.Type, namespace: String?, labelSelector: String? = nil) async throws -> ResourceList<R> {
        let path = ResourcePath.collection(R.self, namespace: namespace) + ResourcePath.query([("labelSelector", nonEmpty(labelSelector))])
        return try decode(ResourceList<R>.self, from: await send(.GET, path))
    }

    /// POST to the object's namespace (`default` when it names none).
    public func create<R: Resource>(_ object: R) async throws -> R {
        let path = ResourcePath.collection(R.self, namespace: R.isNamespaced ? object.metadata.namespace ?? ResourcePath.defaultNamespace : nil)
        return try decode(R.self, from: await send(.POST, path, body: ResourceCodec.jsonData(object)))
    }

    /// PUT; 409 `Status` with reason Conflict when `metadata.resourceVersion` is stale.
    public func update<R: Resource>(_ object: R) async throws -> R {
        let path = ResourcePath.object(R.self, namespace: object.metadata.namespace, name: object.metadata.name)
        return try decode(R.self, from: await send(.PUT, path, body: ResourceCodec.jsonData(object)))
    }

    /// PUT to the `/status` subresource: only the status is taken; CAS on resourceVersion when set.
    public func updateStatus<R: Resource>(_ object: R) async throws -> R {
        let path = ResourcePath.object(R.self, namespace: object.metadata.namespace, name: object.metadata.name, subresource: "status")
        return try decode(R.self, from: await send(.PUT, path, body: ResourceCodec.jsonData(object)))
    }

    /// PATCH with `application/merge-patch+json`.
    public func patch<R: Resource>(_ type: R.Type, namespace: String?, name: String, mergePatch: JSONValue) async throws -> R {
        let path = ResourcePath.object(R.self, namespace: namespace, name: name)
        return try decode(R.self, from: await send(.PATCH, path, body: mergePatch.encodedData(), contentType: "application/merge-patch+json"))
    }

    /// Merge-patches the `/status` subresource; the server retries conflicts unless the patch
    /// pins `metadata.resourceVersion`.
    public func patchStatus<R: Resource>(_ type: R.Type, namespace: String?, name: String, mergePatch: JSONValue) async throws -> R {
        let path = ResourcePath.object(R.self, namespace: namespace, name: name, subresource: "status")
        return try decode(R.self, from: await send(.PATCH, path, body: mergePatch.encodedData(), contentType: "application/merge-patch+json"))
    }

    /// DELETE; returns the object as the server last had it (with deletionTimestamp set when
    /// finalizers keep it around). `resourceVersion`, when given, is a precondition (409 if stale).
    public func delete<R: Resource>(_ type: R.Type, namespace: String?, name: String, resourceVersion: String? = nil) async throws -> R {
        let path = ResourcePath.object(R.self, namespace: namespace, name: name) + ResourcePath.query([("resourceVersion", nonEmpty(resourceVersion))])
        return try decode(R.self, from: await send(.DELETE, path))
    }

    /// `?watch=true&resourceVersion=N`; nil resourceVersion starts with ADDED for every current object.
    ///
    /// The stream ends when the server ends the watch (its timeout, or shutdown), throws the
    /// `Status` of an ERROR event (410 Expired: re-list), and closes the connection when the
    /// consuming task is cancelled or stops iterating.
    public func watch<R: Resource>(_ type: R.Type, namespace: String?, labelSelector: String? = nil, resourceVersion: String?) -> AsyncThrowingStream<WatchEvent<R>, any Error> {
        var query: [(String, String?)] = [("watch", "true"), ("resourceVersion", nonEmpty(resourceVersion)), ("labelSelector", nonEmpty(labelSelector))]
        if let timeout = configuration.watchTimeout {
            query.append(("timeoutSeconds", String(max(1, timeout.components.seconds))))
        }
        let path = ResourcePath.collection(R.self, namespace: namespace) + ResourcePath.query(query)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent<R>.self, throwing: (any Error).self)
        let task = Task {
            do {
                try await streamWatch(R.self, path: path) { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    public func version() async throws -> VersionInfo {
        try decode(VersionInfo.self, from: await send(.GET, "/version"))
    }

    // MARK: Untyped calls

    /// One object of any kind as the server sent it, for printing (`swellctl get -o json`).
    public func getJSON(_ type: any Resource.Type, namespace: String?, name: String) async throws -> JSONValue {
        try JSONValue.parse(await send(.GET, ResourcePath.object(type, namespace: namespace, name: name)))
    }

    /// A list of any kind as the server sent it.
    public func listJSON(_ type: any Resource.Type, namespace: String?, labelSelector: String? = nil) async throws -> JSONValue {
        let path = ResourcePath.collection(type, namespace: namespace) + ResourcePath.query([("labelSelector", nonEmpty(labelSelector))])
        return try JSONValue.parse(await send(.GET, path))
    }

    // MARK: Transport

    private func send(_ method: HTTPMethod, _ pathAndQuery: String, body: Data? = nil, contentType: String = "application/json") async throws -> Data {
        let deadline = ContinuousClock.now + configuration.requestTimeout
        let (status, data) = try await withDeadline(deadline, method: method, pathAndQuery: pathAndQuery) {
            let response = try await execute(method, pathAndQuery, body: body, contentType: contentType)
            let bytes: ByteBuffer
            do {
                bytes = try await response.body.collect(upTo: configuration.maxResponseSize)
            } catch {
                throw transportError(error, method: method, pathAndQuery: pathAndQuery)
            }
            return (response.status, Data(bytes.readableBytesView))
        }
        guard (200..<300).contains(status.code) else {
            throw ErrorBody.status(code: Int(status.code), reasonPhrase: status.reasonPhrase, body: data)
        }
        return data
    }

    /// Runs `operation`, cancelling it at `deadline`: AsyncHTTPClient's own deadline stops at the
    /// response head, and a server that stalls mid-body must not hang a call forever.
    private func withDeadline<T: Sendable>(
        _ deadline: ContinuousClock.Instant, method: HTTPMethod, pathAndQuery: String,
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                if Task.isCancelled { throw CancellationError() }
                throw APIClientError.requestFailed(method: method.rawValue, url: baseURL + pathAndQuery, underlying: HTTPClientError.deadlineExceeded)
            }
            return result
        }
    }

    private func execute(_ method: HTTPMethod, _ pathAndQuery: String, body: Data?, contentType: String) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + pathAndQuery)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            return try await httpClient.execute(request, timeout: TimeAmount(configuration.requestTimeout))
        } catch {
            throw transportError(error, method: method, pathAndQuery: pathAndQuery)
        }
    }

    private func transportError(_ error: any Error, method: HTTPMethod, pathAndQuery: String) -> any Error {
        if error is CancellationError || Task.isCancelled { return CancellationError() }
        return APIClientError.requestFailed(method: method.rawValue, url: baseURL + pathAndQuery, underlying: error)
    }

    private func streamWatch<R: Resource>(_ type: R.Type, path: String, yield: (WatchEvent<R>) -> Void) async throws {
        let response = try await execute(.GET, path, body: nil, contentType: "")
        guard (200..<300).contains(response.status.code) else {
            let bytes = try await response.body.collect(upTo: configuration.maxResponseSize)
            throw ErrorBody.status(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase, body: Data(bytes.readableBytesView))
        }
        var splitter = LineSplitter()
        do {
            for try await chunk in response.body {
                for line in try splitter.append(chunk.readableBytesView) {
                    if let event = try WatchLineDecoder.decode(R.self, line: Data(line)) { yield(event) }
                }
            }
        } catch let error as Status {
            throw error
        } catch let error as APIClientError {
            throw error
        } catch let error as LineSplitter.LineTooLong {
            throw APIClientError.invalidResponse(error.description)
        } catch {
            throw transportError(error, method: .GET, pathAndQuery: path)
        }
        if let line = splitter.finish(), let event = try WatchLineDecoder.decode(R.self, line: Data(line)) {
            yield(event)
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw APIClientError.invalidResponse("cannot decode \(T.self) from the server's response: \(error)")
        }
    }

    private func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

/// Failures that are not the server's answer.
public enum APIClientError: Error, CustomStringConvertible {
    /// No (complete) response: connection refused, timeout, reset.
    case requestFailed(method: String, url: String, underlying: any Error)
    /// A response that is not what the API promises.
    case invalidResponse(String)

    /// True when no connection to the server could be made at all (nothing listening, no
    /// route, connect timeout), as opposed to a call that failed once connected.
    public var isConnectionFailure: Bool {
        guard case .requestFailed(_, _, let underlying) = self else { return false }
        return TransportFailure.connectionProblem(underlying) != nil
    }

    public var description: String {
        switch self {
        case .requestFailed(let method, let url, let underlying):
            if let problem = TransportFailure.connectionProblem(underlying) {
                return "cannot reach the Swell API server at \(TransportFailure.origin(of: url)): \(problem) (\(method) \(url))"
            }
            return "\(method) \(url) failed: \(TransportFailure.summary(underlying))"
        case .invalidResponse(let message):
            return message
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
