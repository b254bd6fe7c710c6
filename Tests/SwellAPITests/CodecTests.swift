import Foundation
import Testing
@testable import SwellAPI

@Suite("Manifest codec")
struct CodecTests {
    @Test("multi-document YAML keeps each document's first line")
    func multiDocument() throws {
        let yaml = """
        # priority classes first
        apiVersion: swell.dev/v1
        kind: PriorityClass
        metadata: {name: high}
        value: 1000
        ---
        ---
        apiVersion: swell.dev/v1
        kind: InferenceService
        metadata:
          name: chat
        spec:
          model:
            path: /m.gguf
        """
        let manifests = try ManifestParser.parse(yaml, source: "all.yaml")
        #expect(manifests.map(\.kindName) == ["PriorityClass", "InferenceService"])
        #expect(manifests.map(\.line) == [2, 8])
        #expect(manifests[1].line(of: "spec.model.path") == 14)
        #expect(manifests[1].line(of: "spec.model.contextLength") == 13)
    }

    @Test("YAML syntax errors carry file, line and column", arguments: [
        ("kind: X\nmetadata:\n  name: a\n   bad: indent\n", 4),
        ("a: [1, 2\nb: 3\n", 2),
        ("a: 1\na: 2\n", 2),
        ("- just\n- a list\n", 1),
    ])
    func syntaxErrors(yaml: String, line: Int) {
        #expect {
            _ = try ManifestParser.parse(yaml, source: "bad.yaml")
        } throws: { error in
            guard let error = error as? ManifestError else { return false }
            return error.source == "bad.yaml" && error.line == line && error.description.hasPrefix("bad.yaml:\(line)")
        }
    }

    @Test("JSON manifests parse with the same positions")
    func json() throws {
        let text = """
        {"apiVersion": "swell.dev/v1", "kind": "PriorityClass",
         "metadata": {"name": "low"},
         "value": -5}
        """
        let manifest = try #require(try ManifestParser.parse(text, source: "p.json").first)
        let object = try ResourceCodec.decode(PriorityClass.self, from: manifest.document)
        #expect(object.value == -5)
        #expect(manifest.line(of: "value") == 3)
    }

    @Test("a List expands into its items")
    func list() throws {
        let yaml = """
        apiVersion: swell.dev/v1
        kind: List
        items:
          - apiVersion: swell.dev/v1
            kind: PriorityClass
            metadata: {name: a}
            value: 1
          - apiVersion: swell.dev/v1
            kind: PriorityClass
            metadata: {name: b}
            value: oops
        """
        let manifests = try ManifestParser.parse(yaml, source: "l.yaml")
        #expect(manifests.map(\.name) == ["a", "b"])
        #expect(manifests[1].line(of: "value") == 11)
    }

    @Test("plain scalars resolve to YAML 1.1 types; quoted ones stay strings")
    func scalars() throws {
        let manifest = try #require(try ManifestParser.parse("a: 1\nb: \"1\"\nc: true\nd: 1.5\ne: ~\nf: '250m'\n", source: "s").first)
        #expect(manifest.document == .object(["a": .int(1), "b": .string("1"), "c": .bool(true), "d": .double(1.5), "e": .null, "f": .string("250m")]))
    }

    @Test("objects round-trip through JSON and YAML unchanged")
    func roundTrip() throws {
        var service = InferenceService(
            metadata: ObjectMeta(name: "chat", namespace: "ml", labels: ["team": "search"], annotations: ["note": "x: y"]),
            spec: InferenceServiceSpec(
                model: ModelSpec(path: "/m.gguf", contextLength: 2048),
                resources: ResourceRequirements(requests: ["cpu": try Quantity("250m")], limits: ["memory": try Quantity("1Gi")]),
                autoscaling: AutoscalingSpec(maxReplicas: 3, metrics: [MetricSpec(type: .queueLength, targetPerReplica: 4)]),
                rollout: RolloutSpec(maxSurge: .percent(25))))
        service.metadata.creationTimestamp = Timestamp(secondsSince1970: 1_790_000_000)
        service.metadata.ownerReferences = [OwnerReference(kind: "Thing", name: "t", uid: "u-1")]
        service.applyDefaults()
        service.status = InferenceServiceStatus(replicas: 1, conditions: [Condition(type: "Available", status: .true, reason: "MinimumReplicasAvailable", lastTransitionTime: Timestamp(secondsSince1970: 1_790_000_100))])

        let fromJSON = try JSONDecoder().decode(InferenceService.self, from: ResourceCodec.jsonData(service))
        #expect(fromJSON == service)

        let yaml = try ResourceCodec.yaml(service)
        let manifest = try #require(try ManifestParser.parse(yaml, source: "out.yaml").first)
        let fromYAML = try ResourceCodec.decode(InferenceService.self, from: manifest.document)
        #expect(fromYAML == service)
        #expect(yaml.hasPrefix("apiVersion: swell.dev/v1\nkind: InferenceService\nmetadata:"))
        #expect(yaml.contains("creationTimestamp: 2026-09-21T14:13:20Z") || yaml.contains("creationTimestamp: '2026-09-21T14:13:20Z'"))
    }

    @Test("merge patch follows RFC 7386")
    func mergePatch() throws {
        let target = try JSONValue.parse(Data(#"{"a":"b","c":{"d":"e","f":"g"},"l":[1,2]}"#.utf8))
        let patch = try JSONValue.parse(Data(#"{"a":"z","c":{"f":null,"h":1},"l":[3]}"#.utf8))
        let expected = try JSONValue.parse(Data(#"{"a":"z","c":{"d":"e","h":1},"l":[3]}"#.utf8))
        #expect(target.merging(patch: patch) == expected)
        #expect(target.merging(patch: .string("x")) == .string("x"))
    }

    @Test("generation-relevant changes exclude metadata and status")
    func specDiffers() throws {
        let base = InferenceService(metadata: ObjectMeta(name: "a"), spec: InferenceServiceSpec(model: ModelSpec(path: "/m")))
        var relabelled = base
        relabelled.metadata.labels = ["x": "y"]
        relabelled.status = InferenceServiceStatus(replicas: 3)
        #expect(!relabelled.specDiffers(from: base))
        var scaled = base
        scaled.spec.replicas = 4
        #expect(scaled.specDiffers(from: base))
    }

    @Test("timestamps format as RFC 3339 and parse back")
    func timestamps() throws {
        let stamp = Timestamp(secondsSince1970: 1_790_000_000)
        #expect(stamp.description == "2026-09-21T14:13:20Z")
        #expect(Timestamp(rfc3339: "2026-09-21T14:13:20Z") == stamp)
        #expect(Timestamp(rfc3339: "2026-09-21T14:13:20.250Z") == stamp)
        #expect(Timestamp(rfc3339: "yesterday") == nil)
        #expect(stamp.age(now: Timestamp(secondsSince1970: 1_790_000_090)) == "90s")
        #expect(stamp.age(now: Timestamp(secondsSince1970: 1_790_000_000 + 3 * 86400)) == "3d")
    }

    @Test("kinds are found by name, plural, singular and short name")
    func kindLookup() {
        #expect(ResourceKinds.named("isvc") == InferenceService.self)
        #expect(ResourceKinds.named("InferenceServices") == InferenceService.self)
        #expect(ResourceKinds.named("pc") == PriorityClass.self)
        #expect(ResourceKinds.named("rep") == Replica.self)
        #expect(ResourceKinds.named("no") == Node.self)
        #expect(ResourceKinds.named("ev") == Event.self)
        #expect(ResourceKinds.named("event") == Event.self)
        #expect(ResourceKinds.named("pods") == nil)
    }
}
