import Foundation
import SwellAPI
import Testing
@testable import swellctl

/// The pure parts of swellctl: tables, apply planning, printers, describe text, manifest loading.
@Suite struct FormattingTests {
    static let now = Timestamp(secondsSince1970: 1_800_000_000)

    static func service(_ name: String, namespace: String = "default", replicas: Int? = 1, labels: [String: String]? = nil) -> InferenceService {
        var service = InferenceService(
            metadata: ObjectMeta(name: name, namespace: namespace, labels: labels),
            spec: InferenceServiceSpec(model: ModelSpec(path: "/models/\(name).gguf"), replicas: replicas))
        service.applyDefaults()
        return service
    }

    /// What the server adds to an object it stores.
    static func stored<R: Resource>(_ object: R, version: Int = 7) -> R {
        var live = object
        live.metadata.uid = "uid-\(object.metadata.name)"
        live.metadata.resourceVersion = "\(version)"
        live.metadata.generation = 1
        live.metadata.creationTimestamp = Timestamp(secondsSince1970: now.secondsSince1970 - 300)
        return live
    }

    @Test(arguments: [
        [["NAME", "AGE"], ["a", "1s"], ["longer-name", "10m"]],
        [["NAMESPACE", "NAME", "READY"], ["default", "chat", "1/1"], ["x", "a-very-long-service", "0/3"]],
    ])
    func tableColumnsLineUp(_ grid: [[String]]) {
        let table = TextTable(header: grid[0], rows: Array(grid.dropFirst()))
        let lines = table.render().split(separator: "\n").map(String.init)
        #expect(lines.count == grid.count)
        // Every column starts at the same offset on every line, three spaces past the widest cell.
        var offset = 0
        for column in grid[0].indices {
            for (line, row) in zip(lines, grid) {
                let start = line.index(line.startIndex, offsetBy: offset)
                #expect(line[start...].hasPrefix(row[column]), "column \(column) of \"\(line)\"")
            }
            offset += grid.map { $0[column].count }.max()! + TextTable.padding
        }
        #expect(lines.allSatisfy { !$0.hasSuffix(" ") })
    }

    @Test func applyCreatesWhatIsMissing() {
        let desired = Self.service("chat")
        #expect(ApplyPlanner.plan(desired: desired, live: nil) == .create(desired))
    }

    @Test func applyIgnoresServerOwnedFields() {
        let desired = Self.service("chat", labels: ["app": "chat"])
        var live = Self.stored(desired)
        live.status = InferenceServiceStatus(observedGeneration: 1, replicas: 1, readyReplicas: 1)
        #expect(ApplyPlanner.plan(desired: desired, live: live) == .unchanged)
    }

    @Test func applyUpdatesOnTopOfTheLiveObject() throws {
        var desired = Self.service("chat", labels: ["app": "chat"])
        var live = Self.stored(desired)
        live.status = InferenceServiceStatus(readyReplicas: 1)
        desired.spec.replicas = 3
        guard case .update(let update) = ApplyPlanner.plan(desired: desired, live: live) else {
            Issue.record("expected an update")
            return
        }
        #expect(update.spec.replicas == 3)
        #expect(update.metadata.resourceVersion == live.metadata.resourceVersion)
        #expect(update.metadata.uid == live.metadata.uid)
        #expect(update.status == live.status)
    }

    @Test func applyUpdatesWhenOnlyLabelsChange() {
        let desired = Self.service("chat", labels: ["app": "chat", "tier": "gold"])
        let live = Self.stored(Self.service("chat", labels: ["app": "chat"]))
        guard case .update(let update) = ApplyPlanner.plan(desired: desired, live: live) else {
            Issue.record("expected an update")
            return
        }
        #expect(update.metadata.labels == ["app": "chat", "tier": "gold"])
    }

    @Test func yamlOfSeveralObjectsReadsBackAsTheSameObjects() throws {
        let objects = [Self.stored(Self.service("a")), Self.stored(Self.service("b", replicas: 4))]
        let text = try ObjectPrinter<InferenceService>(format: .yaml, now: Self.now).render(objects, single: false)
        let manifests = try ManifestParser.parse(text, source: "out.yaml")
        let decoded = try manifests.map { try ResourceCodec.decode(InferenceService.self, from: $0.document) }
        #expect(decoded == objects)
    }

    @Test func jsonOfOneObjectIsTheObjectItself() throws {
        let object = Self.stored(Self.service("a"))
        let text = try ObjectPrinter<InferenceService>(format: .json, now: Self.now).render([object], single: true)
        #expect(try ResourceCodec.decode(InferenceService.self, from: JSONValue.parse(Data(text.utf8))) == object)
    }

    @Test func nameOutputAndNamespaceColumn() throws {
        let objects = [Self.stored(Self.service("a", namespace: "team-1")), Self.stored(Self.service("b", namespace: "team-2"))]
        #expect(try ObjectPrinter<InferenceService>(format: .name).render(objects, single: false)
                == "inferenceservice/a\ninferenceservice/b")
        let table = ObjectPrinter<InferenceService>(format: .table, showNamespace: true, now: Self.now).table(objects)
        #expect(table.header.prefix(2) == ["NAMESPACE", "NAME"])
        #expect(table.rows.map { $0[0] } == ["team-1", "team-2"])
        #expect(table.rows.map { $0.last } == ["5m", "5m"])
        // Cluster-scoped kinds have no namespace to show.
        let classes = ObjectPrinter<PriorityClass>(format: .table, showNamespace: true, now: Self.now)
        #expect(classes.header.first == "NAME")
    }

    @Test(arguments: [
        ("minReplicas", "Min Replicas"),
        ("targetAverageUtilization", "Target Average Utilization"),
        ("scaleToZero", "Scale To Zero"),
        ("targetCPU", "Target CPU"),
        ("endpoint", "Endpoint"),
        ("cpuSeconds", "Cpu Seconds"),
    ])
    func describeTitleCasesKeys(_ key: String, _ expected: String) {
        #expect(DescribeWriter.titleCase(key) == expected)
    }

    @Test func describeShowsStatusConditionsAndOnlyThisObjectsEventsNewestLast() throws {
        var service = Self.stored(Self.service("chat", labels: ["app": "chat", "tier": "web"]))
        service.status = InferenceServiceStatus(replicas: 2, readyReplicas: 1, desiredReplicas: 2, conditions: [
            Condition(type: "Ready", status: .false, reason: "ReplicasStarting", message: "1 of 2 replicas ready",
                      lastTransitionTime: Timestamp(secondsSince1970: Self.now.secondsSince1970 - 30)),
        ])
        func event(_ name: String, about: String, reason: String, secondsAgo: Int64) -> Event {
            var event = Event(metadata: ObjectMeta(name: name, namespace: "default"),
                              involvedObject: ObjectReference(kind: "InferenceService", namespace: "default", name: about),
                              reason: reason, message: "\(reason) happened",
                              lastTimestamp: Timestamp(secondsSince1970: Self.now.secondsSince1970 - secondsAgo),
                              source: "inferenceservice-controller")
            event.applyDefaults()
            return event
        }
        let events = [
            event("e2", about: "chat", reason: "ScaledUp", secondsAgo: 10),
            event("e1", about: "chat", reason: "Created", secondsAgo: 100),
            event("e3", about: "other", reason: "Unrelated", secondsAgo: 5),
        ]
        let text = try Describer.describe(service, events: events, now: Self.now)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "Name:               chat")
        #expect(lines.contains("Namespace:          default"))
        #expect(lines.contains("Labels:             app=chat"))
        #expect(lines.contains("                    tier=web"))
        #expect(lines.contains("Replicas:           2 desired | 1 ready | 2 total"))
        #expect(lines.contains("Spec:"))
        #expect(lines.contains { $0.hasPrefix("    Path:") && $0.hasSuffix("/models/chat.gguf") })
        #expect(lines.contains("Status:"))
        #expect(lines.contains { $0.hasPrefix("  Ready Replicas:") && $0.hasSuffix(" 1") })
        #expect(lines.contains("  Conditions:"))
        #expect(lines.contains { $0.contains("Ready") && $0.contains("False") && $0.contains("ReplicasStarting") && $0.contains("30s") })
        let created = try #require(lines.firstIndex { $0.contains("Created") })
        let scaled = try #require(lines.firstIndex { $0.contains("ScaledUp") })
        #expect(created < scaled)
        #expect(!text.contains("Unrelated"))
    }

    @Test func serverErrorsAreLocatedInTheManifest() throws {
        let text = """
            apiVersion: swell.dev/v1
            kind: InferenceService
            metadata:
              name: chat
            spec:
              model: {path: /m.gguf}
              resources:
                requests:
                  cpu: "2"
            """
        let set = ManifestSet(sources: [ManifestSource(name: "chat.yaml", text: text)], namespace: "default")
        let item = try #require(set.objects.first)
        let status = Status(code: 422, reason: .invalid, message: "InferenceService \"chat\" is invalid", details: .init(
            name: "chat", kind: "InferenceService",
            causes: [.init(field: "spec.resources.requests[cpu]", message: "exceeds every node"), .init(field: nil, message: "try again")]))
        #expect(ErrorReport.text(for: status, verb: "applying", object: item) == """
            Error from server (Invalid): error when applying inferenceservice/chat from chat.yaml: InferenceService "chat" is invalid
            chat.yaml:8: spec.resources.requests[cpu]: exceeds every node
            chat.yaml:1: try again
            """)
    }

    @Test func describeListsObjectsAsItems() {
        var writer = DescribeWriter()
        writer.section("Metrics")
        writer.document(.object(["metrics": .array([
            .object(["type": .string("CPU"), "targetAverageUtilization": .int(70)]),
            .object(["type": .string("QueueLength"), "targetPerReplica": .double(4)]),
        ])]), lead: "  ")
        #expect(writer.render() == """
            Metrics:
              Metrics:
                - Target Average Utilization:  70
                  Type:                        CPU
                - Target Per Replica:          4
                  Type:                        QueueLength
            """)
    }

    @Test func manifestProblemsNameFileLineAndField() {
        let text = """
            apiVersion: swell.dev/v1
            kind: InferenceService
            metadata:
              name: chat
            spec:
              model: {path: /m.gguf}
              autoscaling:
                minReplicas: 3
                maxReplicas: 2
              engine:
                thread: 2
            """
        let set = ManifestSet(sources: [ManifestSource(name: "svc.yaml", text: text)], namespace: "default")
        #expect(set.objects.isEmpty)
        // Strict decoding stops at the unknown field before rule validation runs.
        #expect(set.problems == ["svc.yaml:11: spec.engine.thread: unknown field \"thread\""])

        let fixed = text.replacingOccurrences(of: "thread: 2", with: "threads: 2")
        let invalid = ManifestSet(sources: [ManifestSource(name: "svc.yaml", text: fixed)], namespace: "default")
        #expect(invalid.problems == ["svc.yaml:9: spec.autoscaling.maxReplicas: must be >= minReplicas (3)"])
    }

    @Test func manifestNamespaceComesFromTheFileThenTheFlag() throws {
        let text = """
            apiVersion: swell.dev/v1
            kind: InferenceService
            metadata: {name: a, namespace: team-1}
            spec: {model: {path: /m.gguf}}
            ---
            apiVersion: swell.dev/v1
            kind: InferenceService
            metadata: {name: b}
            spec: {model: {path: /m.gguf}}
            ---
            apiVersion: swell.dev/v1
            kind: PriorityClass
            metadata: {name: high}
            value: 10
            """
        let set = ManifestSet(sources: [ManifestSource(name: "m.yaml", text: text)], namespace: "from-flag")
        #expect(set.problems.isEmpty)
        #expect(set.objects.map(\.object.metadata.namespace) == ["team-1", "from-flag", nil])
        #expect(set.objects.map(\.reference) == ["inferenceservice/a", "inferenceservice/b", "priorityclass/high"])
    }

    @Test func yamlSyntaxErrorsNameTheLine() {
        let text = "apiVersion: swell.dev/v1\nkind: PriorityClass\nmetadata:\n  name: [unclosed\nvalue: 1\n"
        let set = ManifestSet(sources: [ManifestSource(name: "bad.yaml", text: text)], namespace: "default")
        #expect(set.objects.isEmpty)
        #expect(set.problems.count == 1)
        #expect(set.problems.first?.hasPrefix("bad.yaml:") == true)
        #expect(set.problems.first?.contains("invalid YAML") == true)
    }

    @Test func everyExampleManifestIsValid() throws {
        let sources = try ManifestFiles.read([Binaries.examples.path])
        #expect(sources.map { URL(fileURLWithPath: $0.name).lastPathComponent } == sources.map { URL(fileURLWithPath: $0.name).lastPathComponent }.sorted())
        let set = ManifestSet(sources: sources, namespace: "default")
        #expect(set.problems == [])
        let kinds = Set(set.objects.map { type(of: $0.object).kind })
        #expect(kinds == ["PriorityClass", "InferenceService"])
    }
}
