import Foundation
import SwellAPI
import Testing

@Suite("API server over HTTP")
struct APIServerTests {
    @Test("create, get, list, update, delete round trip with server-owned metadata")
    func crud() async throws {
        try await withServer { server in
            let created = try await server.request(.POST, servicesPath, json: serviceJSON())
            #expect(created.code == 201)
            let service = try created.decode(InferenceService.self)
            #expect(service.metadata.uid?.isEmpty == false)
            #expect(service.metadata.creationTimestamp != nil)
            #expect(service.metadata.generation == 1)
            #expect(service.metadata.namespace == "default")
            #expect(service.spec.engine?.blockSize == 16, "defaults are applied on create")
            let firstVersion = try #require(service.metadata.revision)

            let fetched = try await server.request(.GET, "\(servicesPath)/chat")
            #expect(fetched.code == 200)
            #expect(try fetched.decode(InferenceService.self) == service)

            var scaled = service
            scaled.spec.replicas = 3
            let updated = try await server.request(.PUT, "\(servicesPath)/chat", body: try ResourceCodec.jsonData(scaled))
            #expect(updated.code == 200)
            let afterScale = try updated.decode(InferenceService.self)
            #expect(afterScale.metadata.generation == 2)
            #expect(try #require(afterScale.metadata.revision) > firstVersion)
            #expect(afterScale.metadata.uid == service.metadata.uid)

            var relabelled = afterScale
            relabelled.metadata.labels = ["team": "search"]
            let afterLabel = try await server.request(.PUT, "\(servicesPath)/chat", body: try ResourceCodec.jsonData(relabelled)).decode(InferenceService.self)
            #expect(afterLabel.metadata.generation == 2, "metadata changes do not bump generation")
            #expect(try #require(afterLabel.metadata.revision) > #require(afterScale.metadata.revision))

            let noop = try await server.request(.PUT, "\(servicesPath)/chat", body: try ResourceCodec.jsonData(afterLabel)).decode(InferenceService.self)
            #expect(noop.metadata.resourceVersion == afterLabel.metadata.resourceVersion, "a no-op PUT is not a write")

            let list = try await server.request(.GET, servicesPath).decode(ResourceList<InferenceService>.self)
            #expect(list.kind == "InferenceServiceList")
            #expect(list.items.map(\.metadata.name) == ["chat"])
            #expect(list.metadata.resourceVersion == afterLabel.metadata.resourceVersion)

            let deleted = try await server.request(.DELETE, "\(servicesPath)/chat")
            #expect(deleted.code == 200)
            #expect(try deleted.decode(InferenceService.self).metadata.name == "chat")
            #expect(try await server.request(.GET, "\(servicesPath)/chat").code == 404)
        }
    }

    @Test("every failure is a Status with the right code and reason")
    func errorCodes() async throws {
        try await withServer(maxBodySize: 64 << 10) { server in
            #expect(try await server.request(.POST, servicesPath, json: serviceJSON()).code == 201)

            let malformed = try await server.request(.POST, servicesPath, json: "{\"apiVersion\": ")
            #expect(malformed.code == 400)
            #expect(malformed.status?.reason == .badRequest)
            #expect(malformed.headers.first(name: "Content-Type") == "application/json")

            let unknown = try await server.request(.POST, servicesPath, json: serviceJSON(name: "x", extra: ",\"replica\":2"))
            #expect(unknown.code == 400)
            #expect(unknown.status?.details?.causes?.map(\.field) == ["spec.replica"])
            #expect(unknown.status?.message.contains("unknown field") == true)

            let missing = try await server.request(.GET, "\(servicesPath)/nope")
            #expect(missing.code == 404)
            #expect(missing.status?.reason == .notFound)
            #expect(missing.status?.message == "inferenceservice \"nope\" not found")

            let duplicate = try await server.request(.POST, servicesPath, json: serviceJSON())
            #expect(duplicate.code == 409)
            #expect(duplicate.status?.reason == .alreadyExists)

            let current = try await server.request(.GET, "\(servicesPath)/chat").decode(InferenceService.self)
            var first = current
            first.spec.replicas = 2
            #expect(try await server.request(.PUT, "\(servicesPath)/chat", body: ResourceCodec.jsonData(first)).code == 200)
            var stale = current
            stale.spec.replicas = 5
            let conflict = try await server.request(.PUT, "\(servicesPath)/chat", body: ResourceCodec.jsonData(stale))
            #expect(conflict.code == 409)
            #expect(conflict.status?.reason == .conflict)

            var unversioned = current
            unversioned.metadata.resourceVersion = nil
            #expect(try await server.request(.PUT, "\(servicesPath)/chat", body: ResourceCodec.jsonData(unversioned)).code == 422)

            let huge = serviceJSON(name: "big", labels: "{\"a\":\"\(String(repeating: "x", count: 63))\"}").replacingOccurrences(of: "\"spec\"", with: "\"junk\":\"\(String(repeating: "y", count: 70_000))\",\"spec\"")
            let tooLarge = try await server.request(.POST, servicesPath, json: huge)
            #expect(tooLarge.code == 413)
            #expect(tooLarge.status?.reason == .requestEntityTooLarge)

            let yamlPatch = try await server.request(.PATCH, "\(servicesPath)/chat", json: "replicas: 2", contentType: "application/yaml")
            #expect(yamlPatch.code == 415)

            let invalid = try await server.request(.POST, servicesPath, json: serviceJSON(name: "bad", extra: ",\"autoscaling\":{\"minReplicas\":3,\"maxReplicas\":1}"))
            #expect(invalid.code == 422)
            #expect(invalid.status?.reason == .invalid)
            #expect(invalid.status?.details?.causes == [.init(field: "spec.autoscaling.maxReplicas", message: "must be >= minReplicas (3)", reason: "FieldValueInvalid")])

            let wrongNamespace = try await server.request(.POST, servicesPath, json: #"{"apiVersion":"swell.dev/v1","kind":"InferenceService","metadata":{"name":"n","namespace":"other"},"spec":{"model":{"path":"/m"}}}"#)
            #expect(wrongNamespace.code == 400)

            let wrongKind = try await server.request(.POST, servicesPath, json: #"{"apiVersion":"swell.dev/v1","kind":"Replica","metadata":{"name":"n"}}"#)
            #expect(wrongKind.code == 400)

            #expect(try await server.request(.POST, "/apis/swell.dev/v1/inferenceservices", json: serviceJSON(name: "y")).code == 405)
            #expect(try await server.request(.GET, "/apis/swell.dev/v1/widgets").code == 404)
            #expect(try await server.request(.GET, "/apis/swell.dev/v1/namespaces/default/priorityclasses").code == 404)
            #expect(try await server.request(.PUT, servicesPath, json: serviceJSON()).status?.code == 405)
            let options = try await server.request(.OPTIONS, "\(servicesPath)/chat")
            #expect(options.code == 405)
            #expect(options.status?.reason == .methodNotAllowed)
            let elsewhere = try await server.request(.GET, "/nowhere")
            #expect(elsewhere.code == 404)
            #expect(elsewhere.status?.reason == .notFound, "even paths outside the API answer with a Status")
            #expect(elsewhere.headers.first(name: "Content-Type") == "application/json")

            let stored = try await server.store.list(InferenceService.self, namespace: nil, selector: .everything)
            #expect(stored.items.map(\.metadata.name) == ["chat"], "failed requests store nothing")
        }
    }

    @Test("the status subresource and the main resource change separate halves")
    func statusSubresource() async throws {
        try await withServer { server in
            let created = try await server.request(.POST, servicesPath, json: serviceJSON()).decode(InferenceService.self)

            var withStatus = created
            withStatus.status = InferenceServiceStatus(replicas: 1, readyReplicas: 1)
            withStatus.spec.replicas = 9
            let statusReply = try await server.request(.PUT, "\(servicesPath)/chat/status", body: ResourceCodec.jsonData(withStatus))
            #expect(statusReply.code == 200)
            let afterStatus = try statusReply.decode(InferenceService.self)
            #expect(afterStatus.status?.readyReplicas == 1)
            #expect(afterStatus.spec.replicas == 1, "PUT /status ignores spec")
            #expect(afterStatus.metadata.generation == 1)

            var withSpec = afterStatus
            withSpec.spec.replicas = 2
            withSpec.status = InferenceServiceStatus(replicas: 7)
            let afterSpec = try await server.request(.PUT, "\(servicesPath)/chat", body: ResourceCodec.jsonData(withSpec)).decode(InferenceService.self)
            #expect(afterSpec.spec.replicas == 2)
            #expect(afterSpec.status?.readyReplicas == 1, "PUT ignores status")
            #expect(afterSpec.status?.replicas == 1)

            let patched = try await server.request(.PATCH, "\(servicesPath)/chat/status", json: #"{"status":{"readyReplicas":2,"endpoint":"http://127.0.0.1:8080"}}"#, contentType: "application/merge-patch+json")
            #expect(patched.code == 200)
            let afterPatch = try patched.decode(InferenceService.self)
            #expect(afterPatch.status?.readyReplicas == 2)
            #expect(afterPatch.status?.replicas == 1)
            #expect(afterPatch.status?.endpoint == "http://127.0.0.1:8080")
        }
    }

    @Test("merge patch changes only what it names and bumps generation for spec")
    func mergePatch() async throws {
        try await withServer { server in
            _ = try await server.request(.POST, servicesPath, json: serviceJSON(labels: #"{"a":"1","b":"2"}"#))
            let reply = try await server.request(.PATCH, "\(servicesPath)/chat", json: #"{"metadata":{"labels":{"a":null,"c":"3"}},"spec":{"replicas":4}}"#, contentType: "application/merge-patch+json")
            #expect(reply.code == 200)
            let service = try reply.decode(InferenceService.self)
            #expect(service.metadata.labels == ["b": "2", "c": "3"])
            #expect(service.spec.replicas == 4)
            #expect(service.spec.model.path == "/models/m.gguf")
            #expect(service.metadata.generation == 2)

            let invalid = try await server.request(.PATCH, "\(servicesPath)/chat", json: #"{"spec":{"replicas":-1}}"#, contentType: "application/merge-patch+json")
            #expect(invalid.code == 422)
            let pinned = try await server.request(.PATCH, "\(servicesPath)/chat", json: #"{"metadata":{"resourceVersion":"1"},"spec":{"replicas":5}}"#, contentType: "application/merge-patch+json")
            #expect(pinned.code == 409)
        }
    }

    @Test("finalizers turn a delete into a mark; removing the last one deletes")
    func finalizers() async throws {
        try await withServer { server in
            let body = #"{"apiVersion":"swell.dev/v1","kind":"InferenceService","metadata":{"name":"held","finalizers":["swell.dev/cleanup"]},"spec":{"model":{"path":"/m"}}}"#
            #expect(try await server.request(.POST, servicesPath, json: body).code == 201)
            let marked = try await server.request(.DELETE, "\(servicesPath)/held").decode(InferenceService.self)
            #expect(marked.metadata.deletionTimestamp != nil)
            let stillThere = try await server.request(.GET, "\(servicesPath)/held")
            #expect(stillThere.code == 200)
            let again = try await server.request(.DELETE, "\(servicesPath)/held").decode(InferenceService.self)
            #expect(again.metadata.deletionTimestamp == marked.metadata.deletionTimestamp)

            let released = try await server.request(.PATCH, "\(servicesPath)/held", json: #"{"metadata":{"finalizers":null}}"#, contentType: "application/merge-patch+json")
            #expect(released.code == 200)
            #expect(try await server.request(.GET, "\(servicesPath)/held").code == 404)
        }
    }

    @Test("label selectors, namespaces and cluster-scoped kinds")
    func listing() async throws {
        try await withServer { server in
            _ = try await server.request(.POST, servicesPath, json: serviceJSON(name: "a", labels: #"{"team":"search","tier":"gold"}"#))
            _ = try await server.request(.POST, servicesPath, json: serviceJSON(name: "b", labels: #"{"team":"ads"}"#))
            _ = try await server.request(.POST, "/apis/swell.dev/v1/namespaces/ml/inferenceservices", json: serviceJSON(name: "c", labels: #"{"team":"search"}"#))

            func names(_ path: String) async throws -> [String] {
                try await server.request(.GET, path).decode(ResourceList<InferenceService>.self).items.map(\.metadata.name)
            }
            #expect(try await names("\(servicesPath)?labelSelector=team%3Dsearch") == ["a"])
            #expect(try await names("/apis/swell.dev/v1/inferenceservices?labelSelector=team%3Dsearch") == ["a", "c"])
            #expect(try await names("/apis/swell.dev/v1/inferenceservices?labelSelector=team%20in%20(ads,search),!tier") == ["b", "c"])
            #expect(try await names("/apis/swell.dev/v1/namespaces/ml/inferenceservices") == ["c"])
            #expect(try await server.request(.GET, "\(servicesPath)?labelSelector=team%20in%20search").code == 400)

            let pc = #"{"apiVersion":"swell.dev/v1","kind":"PriorityClass","metadata":{"name":"critical"},"value":1000000}"#
            let created = try await server.request(.POST, "/apis/swell.dev/v1/priorityclasses", json: pc)
            #expect(created.code == 201)
            let priorityClass = try created.decode(PriorityClass.self)
            #expect(priorityClass.metadata.namespace == nil)
            #expect(priorityClass.preemptionPolicy == .preemptLowerPriority)
            #expect(try await server.request(.GET, "/apis/swell.dev/v1/priorityclasses/critical").code == 200)
        }
    }

    @Test("watch replays from a resourceVersion, then streams live changes")
    func watchReplay() async throws {
        try await withServer { server in
            let first = try await server.request(.POST, servicesPath, json: serviceJSON(name: "a")).decode(InferenceService.self)
            _ = try await server.request(.POST, servicesPath, json: serviceJSON(name: "b"))
            _ = try await server.request(.PATCH, "\(servicesPath)/a", json: #"{"spec":{"replicas":2}}"#, contentType: "application/merge-patch+json")

            var reader = try await server.watch("\(servicesPath)?watch=true&resourceVersion=\(first.metadata.resourceVersion!)")
            #expect(reader.code == 200)
            let replayed1 = try #require(try await reader.next())
            #expect(replayed1["type"] == .string("ADDED"))
            #expect(replayed1["object"]?["metadata"]?["name"] == .string("b"))
            let replayed2 = try #require(try await reader.next())
            #expect(replayed2["type"] == .string("MODIFIED"))
            #expect(replayed2["object"]?["spec"]?["replicas"] == .int(2))

            _ = try await server.request(.DELETE, "\(servicesPath)/b")
            let live = try #require(try await reader.next())
            #expect(live["type"] == .string("DELETED"))
            #expect(live["object"]?["metadata"]?["name"] == .string("b"))
        }
    }

    @Test("watch without a resourceVersion starts with the current objects; selectors add and remove")
    func watchSynthetic() async throws {
        try await withServer { server in
            _ = try await server.request(.POST, servicesPath, json: serviceJSON(name: "a", labels: #"{"team":"search"}"#))
            _ = try await server.request(.POST, servicesPath, json: serviceJSON(name: "b", labels: #"{"team":"ads"}"#))
            var reader = try await server.watch("\(servicesPath)?watch=1&labelSelector=team%3Dsearch")
            let initial = try #require(try await reader.next())
            #expect(initial["type"] == .string("ADDED"))
            #expect(initial["object"]?["metadata"]?["name"] == .string("a"))

            _ = try await server.request(.PATCH, "\(servicesPath)/b", json: #"{"metadata":{"labels":{"team":"search"}}}"#, contentType: "application/merge-patch+json")
            let joined = try #require(try await reader.next())
            #expect(joined["type"] == .string("ADDED"))
            #expect(joined["object"]?["metadata"]?["name"] == .string("b"))

            _ = try await server.request(.PATCH, "\(servicesPath)/a", json: #"{"metadata":{"labels":{"team":"ads"}}}"#, contentType: "application/merge-patch+json")
            let left = try #require(try await reader.next())
            #expect(left["type"] == .string("DELETED"))
            #expect(left["object"]?["metadata"]?["name"] == .string("a"))
        }
    }

    @Test("a watch from compacted history gets a 410 ERROR event")
    func watchExpired() async throws {
        try await withServer(historyLimit: 5) { server in
            for index in 0..<30 {
                _ = try await server.request(.POST, servicesPath, json: serviceJSON(name: "s\(index)"))
            }
            var reader = try await server.watch("\(servicesPath)?watch=true&resourceVersion=1")
            let event = try #require(try await reader.next())
            #expect(event["type"] == .string("ERROR"))
            #expect(event["object"]?["code"] == .int(410))
            #expect(try await reader.next() == nil, "the stream ends after the error")
        }
    }

    @Test("a watch ends when its timeout passes")
    func watchTimeout() async throws {
        try await withServer { server in
            var reader = try await server.watch("\(servicesPath)?watch=true&timeoutSeconds=1")
            #expect(try await reader.next() == nil)
        }
    }

    @Test("open watches are counted and graceful shutdown ends them")
    func watchShutdown() async throws {
        let server = try await TestServer()
        var reader = try await server.watch("\(servicesPath)?watch=true")
        _ = try await server.request(.POST, servicesPath, json: serviceJSON())
        #expect(try await reader.next()?["type"] == .string("ADDED"))
        let metrics = String(decoding: try await server.request(.GET, "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"swell_apiserver_watches{resource="inferenceservices"} 1"#))
        try await server.stop()
        #expect(try await reader.next() == nil, "shutdown closes the stream instead of hanging")
    }

    @Test("a client that goes away ends its watch and releases the store watch")
    func watchDisconnect() async throws {
        try await withServer { server in
            _ = try await server.request(.POST, servicesPath, json: serviceJSON())
            let (firstEvent, signal) = AsyncStream.makeStream(of: Void.self)
            let client = Task {
                var reader = try await server.watch("\(servicesPath)?watch=true")
                _ = try await reader.next()
                signal.yield()
                while try await reader.next() != nil {}
            }
            var iterator = firstEvent.makeAsyncIterator()
            await iterator.next()
            #expect(server.store.watcherCount == 1)
            client.cancel()
            _ = try? await client.value
            let deadline = ContinuousClock.now + .seconds(30)
            while server.store.watcherCount > 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(server.store.watcherCount == 0, "the store watch is released when the client disconnects")
            let metrics = String(decoding: try await server.request(.GET, "/metrics").body, as: UTF8.self)
            #expect(metrics.contains(#"swell_apiserver_watches{resource="inferenceservices"} 0"#))
        }
    }

    @Test("health, readiness, version and metrics endpoints")
    func endpoints() async throws {
        try await withServer { server in
            #expect(try await server.request(.GET, "/healthz").code == 200)
            #expect(try await server.request(.GET, "/readyz").code == 200)
            let version = try await server.request(.GET, "/version").decode(VersionInfo.self)
            #expect(version == VersionInfo.current)

            _ = try await server.request(.POST, servicesPath, json: serviceJSON())
            _ = try await server.request(.GET, "\(servicesPath)/missing")
            let metrics = String(decoding: try await server.request(.GET, "/metrics").body, as: UTF8.self)
            #expect(metrics.contains(#"swell_apiserver_requests_total{verb="create",resource="inferenceservices",code="201"} 1"#))
            #expect(metrics.contains(#"swell_apiserver_requests_total{verb="get",resource="inferenceservices",code="404"} 1"#))
            #expect(metrics.contains("swell_apiserver_request_duration_seconds_bucket"))
            #expect(metrics.contains("swell_store_revision 1"))
        }
    }
}
