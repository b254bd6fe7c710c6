import Foundation
import Hummingbird
import Logging
import NIOCore
import SwellAPI
import SwellStore

/// Serves `/apis/swell.dev/v1/…` for every kind: decodes the path, opens the kind's generic
/// `Registry`, and turns every outcome — success or failure — into a JSON response.
struct APIHandler: Sendable {
    let store: any ResourceStore
    let metrics: APIMetrics
    let watches: WatchRegistry
    let maxBodySize: Int
    let defaultWatchTimeout: Duration
    let logger: Logger

    func handle(_ request: Request) async -> Response {
        let started = ContinuousClock.now
        let path: APIPath
        let type: any Resource.Type
        do {
            (path, type) = try APIPath.parse(request.uri.path)
        } catch {
            let status: Status = switch error {
            case .notAnAPIPath, .unknownResource:
                Status(code: 404, reason: .notFound, message: "the server could not find the requested resource (\(request.method) \(request.uri.path))")
            case .malformed(let message):
                Status(code: 404, reason: .notFound, message: message)
            }
            return respond(status, verb: verb(request, path: nil), resource: "unknown", started: started)
        }
        return await serve(type, request: request, path: path, started: started)
    }

    private func serve<R: Resource>(_ type: R.Type, request: Request, path: APIPath, started: ContinuousClock.Instant) async -> Response {
        let registry = Registry<R>(store: store)
        let verb = verb(request, path: path)
        let query = request.uri.queryParameters
        do {
            let selector = try LabelSelector(parsing: query["labelSelector"].map(String.init) ?? "")
            switch (request.method, path.name) {
            case (.get, nil) where ["true", "1"].contains(query["watch"].map(String.init) ?? ""):
                let response = try await watch(registry, request: request, path: path, selector: selector,
                                               resourceVersion: query["resourceVersion"].map(String.init),
                                               timeoutSeconds: query["timeoutSeconds"].flatMap { Int($0) })
                record(verb: "watch", resource: path.plural, code: 200, started: started)
                return response
            case (.get, nil):
                return try respond(await registry.list(namespace: path.namespace, selector: selector), code: 200, verb: verb, path: path, started: started)
            case (.get, let name?):
                return try respond(await registry.get(namespace: path.namespace, name: name), code: 200, verb: verb, path: path, started: started)
            case (.post, nil):
                guard path.namespace != nil || !R.isNamespaced else {
                    throw Status(code: 405, reason: .methodNotAllowed, message: "create \(path.plural) in a namespace: POST \(APIPath.prefix)/namespaces/{namespace}/\(path.plural)")
                }
                let body = try await readJSON(request)
                return try respond(await registry.create(body, namespace: path.namespace), code: 201, verb: verb, path: path, started: started)
            case (.put, let name?):
                let body = try await readJSON(request)
                let updated = path.subresource == "status"
                    ? try await registry.updateStatus(body, namespace: path.namespace, name: name)
                    : try await registry.update(body, namespace: path.namespace, name: name)
                return try respond(updated, code: 200, verb: verb, path: path, started: started)
            case (.patch, let name?):
                let contentType = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
                guard ["application/merge-patch+json", "application/json"].contains(contentType) else {
                    throw Status(code: 415, reason: .unsupportedMediaType,
                                 message: "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/json (got \"\(contentType)\")")
                }
                let patch = try await readJSON(request)
                return try respond(await registry.patch(patch, namespace: path.namespace, name: name, statusOnly: path.subresource == "status"),
                                   code: 200, verb: verb, path: path, started: started)
            case (.delete, let name?) where path.subresource == nil:
                return try respond(await registry.delete(namespace: path.namespace, name: name,
                                                         expectedResourceVersion: query["resourceVersion"].map(String.init)),
                                   code: 200, verb: verb, path: path, started: started)
            default:
                throw Status(code: 405, reason: .methodNotAllowed, message: "\(request.method) is not supported on \(path)")
            }
        } catch let error as LabelSelector.ParseError {
            return respond(.badRequest("unable to parse requirement: \(error.message)"), verb: verb, resource: path.plural, started: started)
        } catch {
            let status = StatusMapping.status(for: error, kind: R.kind)
            if status.code >= 500 {
                logger.error("request failed", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
            }
            return respond(status, verb: verb, resource: path.plural, started: started)
        }
    }

    // MARK: Watch

    private func watch<R: Resource>(_ registry: Registry<R>, request: Request, path: APIPath, selector: LabelSelector, resourceVersion: String?, timeoutSeconds: Int?) async throws -> Response {
        var initial = [R]()
        var filter = WatchFilter<R>(selector: selector)
        let fromRevision: Int64
        if let resourceVersion, !resourceVersion.isEmpty, resourceVersion != "0" {
            guard let revision = Int64(resourceVersion), revision >= 0 else {
                throw Status.badRequest("resourceVersion must be a non-negative integer, got \"\(resourceVersion)\"")
            }
            fromRevision = revision
            if !selector.isEverything {
                let current = try await registry.list(namespace: path.namespace, selector: selector)
                filter = WatchFilter(selector: selector, visible: Set(current.items.map(\.metadata.key)))
            }
        } else {
            // Without a resourceVersion the client first learns the current state, as synthetic ADDED events.
            let current = try await registry.list(namespace: path.namespace, selector: selector)
            initial = current.items
            filter = WatchFilter(selector: selector, visible: Set(initial.map(\.metadata.key)))
            fromRevision = Int64(current.metadata.resourceVersion ?? "0") ?? 0
        }

        let events = store.watch(R.self, namespace: path.namespace, fromRevision: fromRevision)
        let timeout = timeoutSeconds.map { Duration.seconds(max(1, $0)) } ?? defaultWatchTimeout
        let lines = WatchLines(events: events, initial: initial, filter: filter, timeout: timeout, watches: watches)
        let metrics = self.metrics
        let resource = path.plural
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            metrics.watchOpened(resource: resource)
            defer { metrics.watchClosed(resource: resource) }
            // A watch that waits for the next event never writes, so it would not notice a client
            // that went away; ending it when the connection's inbound side closes releases the
            // store watch at once.
            do {
                try await request.body.consumeWithCancellationOnInboundClose { _ in
                    for try await line in lines.stream() {
                        try await writer.write(ByteBuffer(bytes: line))
                    }
                }
            } catch is CancellationError {
                return
            }
            try await writer.finish(nil)
        })
    }

    // MARK: Bodies

    private func readJSON(_ request: Request) async throws -> JSONValue {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodySize)
        } catch is NIOTooManyBytesError {
            throw Status(code: 413, reason: .requestEntityTooLarge, message: "the request body is larger than the limit of \(maxBodySize) bytes")
        }
        guard buffer.readableBytes > 0 else { throw Status.badRequest("the request body is empty; expected a JSON object") }
        do {
            return try JSONValue.parse(Data(buffer.readableBytesView))
        } catch {
            throw Status.badRequest("the request body is not valid JSON: \(Self.describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return (context.underlyingError.map { "\($0)" } ?? context.debugDescription)
        }
        return "\(error)"
    }

    // MARK: Responses

    private func respond(_ value: some Encodable, code: Int, verb: String, path: APIPath, started: ContinuousClock.Instant) throws -> Response {
        record(verb: verb, resource: path.plural, code: code, started: started)
        return try Self.json(value, code: code)
    }

    private func respond(_ status: Status, verb: String, resource: String, started: ContinuousClock.Instant) -> Response {
        record(verb: verb, resource: resource, code: status.code, started: started)
        return Self.statusResponse(status)
    }

    static func json(_ value: some Encodable, code: Int) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .init(code: code), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try ResourceCodec.jsonData(value))))
    }

    static func statusResponse(_ status: Status) -> Response {
        (try? json(status, code: status.code)) ?? Response(status: .internalServerError)
    }

    private func record(verb: String, resource: String, code: Int, started: ContinuousClock.Instant) {
        metrics.recordRequest(verb: verb, resource: resource, code: code, duration: ContinuousClock.now - started)
    }

    /// The Kubernetes verb for audit and metrics.
    private func verb(_ request: Request, path: APIPath?) -> String {
        switch request.method {
        case .get:
            guard let path else { return "get" }
            if path.name != nil { return "get" }
            return ["true", "1"].contains(request.uri.queryParameters["watch"].map(String.init) ?? "") ? "watch" : "list"
        case .post: return "create"
        case .put: return "update"
        case .patch: return "patch"
        case .delete: return "delete"
        default: return request.method.rawValue.lowercased()
        }
    }
}
