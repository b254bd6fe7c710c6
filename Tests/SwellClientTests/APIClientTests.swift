import Foundation
import SwellAPI
import SwellClient
import Testing

@Suite("API client against a real server")
struct APIClientTests {
    @Test("create, get, list, update, status, patch and delete round trip")
    func roundTrip() async throws {
        try await withLiveServer { server in
            let client = server.client()
            let created = try await client.create(service("chat", labels: ["team": "search"]))
            #expect(created.metadata.namespace == "default")
            #expect(created.metadata.generation == 1)
            #expect(created.metadata.uid != nil)

            let fetched = try await client.get(InferenceService.self, namespace: "default", name: "chat")
            #expect(fetched == created)

            var desired = fetched
            desired.spec.replicas = 3
            let updated = try await client.update(desired)
            #expect(updated.spec.replicas == 3)
            #expect(updated.metadata.generation == 2)

            var reported = updated
            reported.status = InferenceServiceStatus(observedGeneration: 2, replicas: 3)
            let withStatus = try await client.updateStatus(reported)
            #expect(withStatus.status?.replicas == 3)
            #expect(withStatus.metadata.generation == 2, "status writes do not bump generation")

            let patched = try await client.patch(InferenceService.self, namespace: "default", name: "chat",
                                                 mergePatch: .object(["spec": .object(["replicas": .int(5)])]))
            #expect(patched.spec.replicas == 5)
            #expect(patched.status?.replicas == 3, "a main-resource patch keeps the status")

            let statusPatched = try await client.patchStatus(InferenceService.self, namespace: "default", name: "chat",
                                                             mergePatch: .object(["status": .object(["readyReplicas": .int(2)])]))
            #expect(statusPatched.status?.readyReplicas == 2)
            #expect(statusPatched.status?.replicas == 3)

            let list = try await client.list(InferenceService.self, namespace: "default")
            #expect(list.items == [statusPatched])
            #expect(list.metadata.resourceVersion == statusPatched.metadata.resourceVersion)

            let deleted = try await client.delete(InferenceService.self, namespace: "default", name: "chat")
            #expect(deleted.metadata.name == "chat")
            #expect(try await client.list(InferenceService.self, namespace: nil).items.isEmpty)
        }
    }

    @Test("failures throw the server's Status")
    func errors() async throws {
        try await withLiveServer { server in
            let client = server.client()
            let missing = try await #require(throws: Status.self) { try await client.get(InferenceService.self, namespace: "default", name: "nope") }
            #expect(missing.code == 404)
            #expect(missing.reason == .notFound)

            let first = try await client.create(service("chat"))
            let duplicate = try await #require(throws: Status.self) { try await client.create(service("chat")) }
            #expect(duplicate.code == 409)
            #expect(duplicate.reason == .alreadyExists)

            var winner = first
            winner.spec.replicas = 2
            _ = try await client.update(winner)
            var stale = first
            stale.spec.replicas = 4
            let conflict = try await #require(throws: Status.self) { try await client.update(stale) }
            #expect(conflict.code == 409)
            #expect(conflict.reason == .conflict)

            let precondition = try await #require(throws: Status.self) {
                try await client.delete(InferenceService.self, namespace: "default", name: "chat", resourceVersion: first.metadata.resourceVersion)
            }
            #expect(precondition.code == 409)

            var invalid = service("bad")
            invalid.spec.model.path = ""
            invalid.spec.replicas = -1
            let rejected = try await #require(throws: Status.self) { try await client.create(invalid) }
            #expect(rejected.code == 422)
            #expect(rejected.reason == .invalid)
            #expect(Set(rejected.details?.causes?.compactMap(\.field) ?? []) == ["spec.model.path", "spec.replicas"])

            let badSelector = try await #require(throws: Status.self) {
                try await client.list(InferenceService.self, namespace: nil, labelSelector: "a in (")
            }
            #expect(badSelector.code == 400)
        }
    }

    @Test("a server that is not there is a transport error, not a Status")
    func unreachable() async throws {
        // A port that was just in use and is now closed.
        let server = try await LiveServer()
        let client = server.client(.init(requestTimeout: .seconds(10)))
        try await server.stop()
        let error = try await #require(throws: APIClientError.self) { try await client.version() }
        guard case .requestFailed(let method, let url, _) = error else {
            Issue.record("expected requestFailed, got \(error)")
            return
        }
        #expect(method == "GET")
        #expect(url == server.baseURL + "/version")
        #expect(error.isConnectionFailure)
        #expect(error.description.hasPrefix("cannot reach the Swell API server at \(server.baseURL): connection refused"), "\(error)")
    }

    @Test("open watches do not starve ordinary calls of connections")
    func manyWatches() async throws {
        try await withLiveServer { server in
            let client = server.client(.init(requestTimeout: .seconds(20)))
            _ = try await client.create(service("a"))
            // More watches than AsyncHTTPClient's default of 8 connections per host.
            let watchCount = 12
            let (established, signal) = AsyncStream.makeStream(of: Void.self)
            let watches = Task {
                // A watch that never gets a connection fails at the request timeout and ends
                // the signals, so a regression fails the test instead of hanging it.
                defer { signal.finish() }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<watchCount {
                        group.addTask {
                            for try await _ in client.watch(InferenceService.self, namespace: nil, resourceVersion: nil) { signal.yield() }
                        }
                    }
                    // Any watch ending early is a failure: end them all, which ends the signals.
                    defer { group.cancelAll() }
                    try await group.next()
                }
            }
            defer { watches.cancel() }
            var iterator = established.makeAsyncIterator()
            for started in 0..<watchCount {
                guard await iterator.next() != nil else {
                    Issue.record("only \(started) of \(watchCount) watches started: \(String(describing: await watches.result))")
                    return
                }
            }
            #expect(server.store.watcherCount == watchCount)

            #expect(try await client.get(InferenceService.self, namespace: "default", name: "a").metadata.name == "a")
            #expect(try await client.version() == VersionInfo.current)

            watches.cancel()
            _ = try? await watches.value
            try await eventually("every watch is released") { server.store.watcherCount == 0 }
        }
    }

    @Test("cluster-scoped kinds, namespaces and label selectors")
    func scopes() async throws {
        try await withLiveServer { server in
            let client = server.client()
            _ = try await client.create(PriorityClass(metadata: ObjectMeta(name: "interactive"), value: 1000))
            #expect(try await client.get(PriorityClass.self, namespace: "ignored", name: "interactive").value == 1000)
            #expect(try await client.list(PriorityClass.self, namespace: nil).items.map(\.metadata.name) == ["interactive"])

            _ = try await client.create(service("a", namespace: "team-a", labels: ["tier": "web"]))
            _ = try await client.create(service("b", namespace: "team-b", labels: ["tier": "batch"]))
            _ = try await client.create(service("c", namespace: "team-b"))
            #expect(try await client.list(InferenceService.self, namespace: nil).items.map(\.metadata.key) == ["team-a/a", "team-b/b", "team-b/c"])
            #expect(try await client.list(InferenceService.self, namespace: "team-b").items.map(\.metadata.name) == ["b", "c"])
            #expect(try await client.list(InferenceService.self, namespace: nil, labelSelector: "tier in (web,batch)").items.map(\.metadata.name) == ["a", "b"])
            #expect(try await client.list(InferenceService.self, namespace: nil, labelSelector: "!tier").items.map(\.metadata.name) == ["c"])
            #expect(try await client.list(InferenceService.self, namespace: nil, labelSelector: "tier!=web").items.map(\.metadata.name) == ["b", "c"])

            let raw = try await client.getJSON(InferenceService.self, namespace: "team-a", name: "a")
            #expect(raw["metadata"]?["namespace"]?.stringValue == "team-a")
            #expect(raw["kind"]?.stringValue == "InferenceService")
            let rawList = try await client.listJSON(PriorityClass.self, namespace: nil)
            #expect(rawList["kind"]?.stringValue == "PriorityClassList")

            #expect(try await client.version() == VersionInfo.current)
        }
    }

    @Test("watch replays from a resourceVersion, then streams live changes")
    func watch() async throws {
        try await withLiveServer { server in
            let client = server.client()
            let start = try await client.list(InferenceService.self, namespace: "default").metadata.resourceVersion
            let a = try await client.create(service("a"))
            var events = client.watch(InferenceService.self, namespace: "default", resourceVersion: start).makeAsyncIterator()
            let replayed = try #require(try await events.next())
            #expect(replayed.type == .added)
            #expect(replayed.object == a)

            var changed = a
            changed.spec.replicas = 2
            let updated = try await client.update(changed)
            let modified = try #require(try await events.next())
            #expect(modified.type == .modified)
            #expect(modified.object == updated)

            _ = try await client.delete(InferenceService.self, namespace: "default", name: "a")
            let deleted = try #require(try await events.next())
            #expect(deleted.type == .deleted)
            #expect(deleted.object.metadata.name == "a")
        }
    }

    @Test("watch without a resourceVersion starts with the current objects and honours the selector")
    func watchFromNow() async throws {
        try await withLiveServer { server in
            let client = server.client()
            _ = try await client.create(service("web", labels: ["tier": "web"]))
            _ = try await client.create(service("batch", labels: ["tier": "batch"]))
            var events = client.watch(InferenceService.self, namespace: nil, labelSelector: "tier=web", resourceVersion: nil).makeAsyncIterator()
            let initial = try #require(try await events.next())
            #expect(initial.type == .added)
            #expect(initial.object.metadata.name == "web")

            _ = try await client.patch(InferenceService.self, namespace: "default", name: "batch", mergePatch: .object(["metadata": .object(["labels": .object(["tier": .string("web")])])]))
            let joined = try #require(try await events.next())
            #expect(joined.type == .added, "an object that starts matching is ADDED")
            #expect(joined.object.metadata.name == "batch")
        }
    }

    @Test("a watch from compacted history throws a 410 Status")
    func watchExpired() async throws {
        try await withLiveServer(historyLimit: 4) { server in
            let client = server.client()
            _ = try await client.create(service("a"))
            for replicas in 2...20 {
                _ = try await client.patch(InferenceService.self, namespace: "default", name: "a", mergePatch: .object(["spec": .object(["replicas": .int(Int64(replicas))])]))
            }
            let error = try await #require(throws: Status.self) {
                for try await _ in client.watch(InferenceService.self, namespace: "default", resourceVersion: "1") {}
            }
            #expect(error.code == 410)
            #expect(error.reason == .expired)
        }
    }

    @Test("cancelling the consumer closes the watch on the server")
    func watchCancellation() async throws {
        try await withLiveServer { server in
            let client = server.client()
            _ = try await client.create(service("a"))
            let (started, signal) = AsyncStream.makeStream(of: Void.self)
            let consumer = Task {
                for try await _ in client.watch(InferenceService.self, namespace: nil, resourceVersion: nil) {
                    signal.yield()
                }
            }
            var iterator = started.makeAsyncIterator()
            await iterator.next()
            #expect(server.store.watcherCount == 1)
            try await eventually("the server counts the open watch") {
                sample(try await server.metrics(), #"swell_apiserver_watches{resource="inferenceservices"}"#) == 1
            }
            consumer.cancel()
            _ = try? await consumer.value
            try await eventually("the server's watch ends") {
                sample(try await server.metrics(), #"swell_apiserver_watches{resource="inferenceservices"}"#) == 0
            }
            try await eventually("the store watch is released") { server.store.watcherCount == 0 }
        }
    }
}
