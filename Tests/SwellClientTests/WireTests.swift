import Foundation
import SwellAPI
@testable import SwellClient
import Testing

@Suite("Request paths, watch lines and error bodies")
struct WireTests {
    @Test("paths follow the kind's scope", arguments: [
        (InferenceService.self as any Resource.Type, "team-a" as String?, "chat" as String?, "/apis/swell.dev/v1/namespaces/team-a/inferenceservices/chat"),
        (InferenceService.self, nil, "chat", "/apis/swell.dev/v1/namespaces/default/inferenceservices/chat"),
        (InferenceService.self, "team-a", nil, "/apis/swell.dev/v1/namespaces/team-a/inferenceservices"),
        (InferenceService.self, nil, nil, "/apis/swell.dev/v1/inferenceservices"),
        (PriorityClass.self, "team-a", "high", "/apis/swell.dev/v1/priorityclasses/high"),
        (Node.self, nil, nil, "/apis/swell.dev/v1/nodes"),
        (Replica.self, "", "r 1", "/apis/swell.dev/v1/namespaces/default/replicas/r%201"),
    ])
    func paths(type: any Resource.Type, namespace: String?, name: String?, expected: String) {
        let path = name.map { ResourcePath.object(type, namespace: namespace, name: $0) } ?? ResourcePath.collection(type, namespace: namespace)
        #expect(path == expected)
    }

    @Test("query values are percent-encoded and nil values left out")
    func query() {
        #expect(ResourcePath.query([("watch", "true"), ("resourceVersion", nil), ("labelSelector", "app=chat,tier notin (a,b),!canary")])
            == "?watch=true&labelSelector=app%3Dchat%2Ctier%20notin%20%28a%2Cb%29%2C%21canary")
        #expect(ResourcePath.query([("resourceVersion", nil)]) == "")
    }

    @Test("lines are cut at newlines whatever the chunking", arguments: [
        (["{\"a\":1}\n{\"b\":2}\n"], ["{\"a\":1}", "{\"b\":2}"], nil as String?),
        (["{\"a\"", ":1}\n{\"b", "\":2}\n"], ["{\"a\":1}", "{\"b\":2}"], nil),
        (["x\r\n", "\n", "y\r\n"], ["x", "y"], nil),
        (["one\ntw", "o"], ["one"], "two"),
        (["", "\n\n"], [], nil),
    ])
    func lines(chunks: [String], expected: [String], tail: String?) throws {
        var splitter = LineSplitter()
        var lines = [String]()
        for chunk in chunks {
            lines += try splitter.append(Array(chunk.utf8)).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(lines == expected)
        #expect(splitter.finish().map { String(decoding: $0, as: UTF8.self) } == tail)
    }

    @Test("a line over the limit is an error, not unbounded buffering")
    func lineTooLong() {
        var splitter = LineSplitter(maxLineLength: 8)
        #expect(throws: LineSplitter.LineTooLong.self) { try splitter.append(Array("0123456789".utf8)) }
    }

    @Test("a Status body is passed through; anything else becomes a Status for the code", arguments: [
        (404, "Not Found", "", Status.Reason.notFound, "the server responded with 404 Not Found"),
        (502, "Bad Gateway", "<html>bad gateway</html>", .internalError, "the server responded with 502 Bad Gateway: <html>bad gateway</html>"),
        (409, "Conflict", "{\"message\":\"not a status\"}", .conflict, "the server responded with 409 Conflict: {\"message\":\"not a status\"}"),
        (418, "I'm a teapot", "", .unknown, "the server responded with 418 I'm a teapot"),
    ])
    func synthesisedStatus(code: Int, phrase: String, body: String, reason: Status.Reason, message: String) {
        let status = ErrorBody.status(code: code, reasonPhrase: phrase, body: Data(body.utf8))
        #expect(status.code == code)
        #expect(status.reason == reason)
        #expect(status.message == message)
    }

    @Test("the server's own Status is kept with its details")
    func serverStatus() throws {
        let original = Status.invalid(ValidationError(kind: "InferenceService", name: "chat", errors: [.required("spec.model.path")]))
        let status = ErrorBody.status(code: 422, reasonPhrase: "Unprocessable Entity", body: try ResourceCodec.jsonData(original))
        #expect(status == original)
    }

    @Test("watch lines decode to events; ERROR throws its Status; garbage is a clear error")
    func watchLines() throws {
        let object = InferenceService(metadata: ObjectMeta(name: "chat", namespace: "default"), spec: InferenceServiceSpec(model: ModelSpec(path: "/m")))
        let line = try ResourceCodec.jsonData(WatchEvent(type: .modified, object: object))
        #expect(try WatchLineDecoder.decode(InferenceService.self, line: line) == WatchEvent(type: .modified, object: object))

        let error = try ResourceCodec.jsonData(WatchEvent(type: .error, object: Status.gone("too old resource version: 3 (9)")))
        #expect(throws: Status.gone("too old resource version: 3 (9)")) { try WatchLineDecoder.decode(InferenceService.self, line: error) }

        #expect(throws: APIClientError.self) { try WatchLineDecoder.decode(InferenceService.self, line: Data("{\"type\":\"ADDED\"".utf8)) }
        #expect(throws: APIClientError.self) { try WatchLineDecoder.decode(InferenceService.self, line: Data("{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}".utf8)) }
    }
}
