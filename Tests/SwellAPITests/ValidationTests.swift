import Testing
@testable import SwellAPI

/// Parses, decodes, defaults and validates a manifest the way the API server and swellctl do,
/// returning every problem as `line: field: message`.
func problems(_ yaml: String) throws -> [String] {
    let manifest = try #require(try ManifestParser.parse(yaml, source: "t.yaml").first)
    do {
        var object = try ResourceCodec.decodeAny(manifest.document)
        object.applyDefaults()
        return object.validateAll().map { "\(manifest.line(of: $0.field)): \($0.description)" }
    } catch {
        return error.errors.map { "\(manifest.line(of: $0.field)): \($0.description)" }
    }
}

/// A service whose `spec` body is indented under `spec:`.
func service(name: String = "chat", _ spec: String) -> String {
    """
    apiVersion: swell.dev/v1
    kind: InferenceService
    metadata:
      name: \(name)
    spec:
      model: {path: /models/m.gguf}
    \(spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
    """
}

@Suite("Validation")
struct ValidationTests {
    @Test("valid services have no problems", arguments: [
        "replicas: 2",
        "autoscaling: {maxReplicas: 4}",
        "autoscaling: {minReplicas: 0, maxReplicas: 2, scaleToZero: {enabled: true}}",
        "autoscaling:\n  minReplicas: 1\n  maxReplicas: 4\n  metrics:\n    - {type: CPU, targetAverageUtilization: 70}\n    - {type: QueueLength, targetPerReplica: 4}\n    - {type: KVCacheUsage, targetAverage: 0.8}",
        "autoscaling:\n  maxReplicas: 3\n  behavior:\n    scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Percent, value: 100, periodSeconds: 15}]}\n    scaleDown: {stabilizationWindowSeconds: 300, selectPolicy: Min, policies: [{type: Pods, value: 1, periodSeconds: 60}]}",
        "autoscaling:\n  maxReplicas: 3\n  behavior:\n    scaleUp: {tolerance: 0.05}\n    scaleDown: {tolerance: 0.2}",
        "resources: {requests: {cpu: 250m, memory: 512Mi}, limits: {cpu: \"1\", memory: 1Gi}}",
        "resources: {limits: {cpu: 2}}",
        "engine: {threads: 2, kvCacheTokens: 4096, blockSize: 32, maxBatchTokens: 256}",
        "rollout: {maxSurge: 25%, maxUnavailable: 0}",
        "routing: {policy: round-robin}",
        "routing: {policy: prefix-affinity, maxConcurrencyPerReplica: 4, loadFactor: 1.5, affinityPrefixBytes: 1024, queue: {timeoutSeconds: 10, limits: {critical: 10, batch: 0}}}",
        "priorityClassName: interactive",
    ])
    func valid(spec: String) throws {
        #expect(try problems(service(spec)) == [])
    }

    @Test("invalid services report each problem with its path and line", arguments: [
        ("autoscaling: {minReplicas: 3, maxReplicas: 1}", ["7: spec.autoscaling.maxReplicas: must be >= minReplicas (3)"]),
        ("autoscaling:\n  minReplicas: 2\n  maxReplicas: 1", ["9: spec.autoscaling.maxReplicas: must be >= minReplicas (2)"]),
        ("autoscaling: {minReplicas: 0, maxReplicas: 2}", ["7: spec.autoscaling.minReplicas: must be greater than or equal to 1 unless scaleToZero.enabled is true"]),
        ("autoscaling: {minReplicas: 1}", ["7: spec.autoscaling.maxReplicas: Required value"]),
        ("replicas: -1", ["7: spec.replicas: must be greater than or equal to 0"]),
        ("engine: {blockSize: 24}", ["7: spec.engine.blockSize: must be a power of two between 1 and 256"]),
        ("engine: {threads: 0, kvCacheTokens: 8}", [
            "7: spec.engine.threads: must be between 1 and 256",
            "7: spec.engine.kvCacheTokens: must be >= blockSize (16)",
        ]),
        ("resources: {requests: {cpu: 2, gpu: 1}, limits: {cpu: 1}}", [
            "7: spec.resources.requests[gpu]: Unsupported value: \"gpu\": supported values: \"cpu\", \"memory\"",
            "7: spec.resources.requests[cpu]: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
        ]),
        ("autoscaling:\n  maxReplicas: 2\n  metrics:\n    - {type: CPU}\n    - {type: QueueLength, targetPerReplica: 0, targetAverage: 0.5}", [
            "10: spec.autoscaling.metrics[0].targetAverageUtilization: Required value",
            "11: spec.autoscaling.metrics[1].targetPerReplica: must be greater than 0",
            "11: spec.autoscaling.metrics[1].targetAverage: must not be set when type is QueueLength",
        ]),
        ("autoscaling:\n  maxReplicas: 2\n  behavior:\n    scaleUp: {policies: [{type: Pods, value: 0, periodSeconds: 4000}]}", [
            "10: spec.autoscaling.behavior.scaleUp.policies[0].value: must be greater than 0",
            "10: spec.autoscaling.behavior.scaleUp.policies[0].periodSeconds: must be between 1 and 1800",
        ]),
        ("autoscaling:\n  maxReplicas: 2\n  behavior:\n    scaleUp: {tolerance: 1.5}\n    scaleDown: {tolerance: -0.1}", [
            "10: spec.autoscaling.behavior.scaleUp.tolerance: must be between 0 and 1",
            "11: spec.autoscaling.behavior.scaleDown.tolerance: must be between 0 and 1",
        ]),
        ("rollout: {maxSurge: 0, maxUnavailable: 0}", ["7: spec.rollout.maxUnavailable: may not be 0 when maxSurge is 0"]),
        ("routing:\n  maxConcurrencyPerReplica: 0\n  loadFactor: 0.5\n  affinityPrefixBytes: 8\n  queue: {timeoutSeconds: 0, limits: {batch: -1}}", [
            "8: spec.routing.maxConcurrencyPerReplica: must be between 1 and 4096",
            "9: spec.routing.loadFactor: must be between 1 and 100",
            "10: spec.routing.affinityPrefixBytes: must be between 16 and 1048576",
            "11: spec.routing.queue.timeoutSeconds: must be between 1 and 3600",
            "11: spec.routing.queue.limits.batch: must be greater than or equal to 0",
        ]),
        ("routing: {queue: {limits: {urgent: 3}}}", ["7: spec.routing.queue.limits: Unsupported value: \"urgent\": supported values: \"critical\", \"standard\", \"batch\""]),
        ("priorityClassName: Not_Valid", ["7: spec.priorityClassName: Invalid value: \"Not_Valid\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"]),
    ])
    func invalid(spec: String, expected: [String]) throws {
        #expect(try problems(service(spec)) == expected)
    }

    @Test("names must be DNS-1123 labels", arguments: ["Chat", "chat_1", "-chat", "chat-", String(repeating: "a", count: 64)])
    func badNames(name: String) throws {
        let found = try problems(service(name: name, "replicas: 1"))
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("4: metadata.name: Invalid value: \"\(name)\"") == true)
    }

    @Test("a missing name and a missing model path are both reported")
    func everyProblem() throws {
        let yaml = """
        apiVersion: swell.dev/v1
        kind: InferenceService
        metadata:
          labels: {team: search}
        spec:
          replicas: 1
        """
        #expect(try problems(yaml) == ["3: metadata.name: Required value", "5: spec.model.path: Required value"])
    }

    @Test("unknown fields are rejected with their path and line, like --validate=strict")
    func unknownFields() throws {
        let found = try problems(service("replicas: 1\nautoscaling:\n  maxReplicas: 2\n  maxReplica: 3\nfoo: bar"))
        #expect(found == [
            "10: spec.autoscaling.maxReplica: unknown field \"maxReplica\"",
            "11: spec.foo: unknown field \"foo\"",
        ])
    }

    @Test("mistyped values name the field and the expected type")
    func typeMismatch() throws {
        #expect(try problems(service("replicas: three")) == ["7: spec.replicas: Invalid value: \"three\": must be an integer"])
        #expect(try problems(service("resources: {requests: {cpu: lots}}")).first?.hasPrefix("7: spec.resources.requests.cpu: quantities must match") == true)
        #expect(try problems(service("autoscaling: {maxReplicas: 2, metrics: [{type: GPU}]}")) == [
            "7: spec.autoscaling.metrics[0].type: Unsupported value: \"GPU\": supported values: \"CPU\", \"QueueLength\", \"KVCacheUsage\"",
        ])
    }

    @Test("unknown kinds and versions are refused")
    func kindsAndVersions() throws {
        #expect(try problems("apiVersion: swell.dev/v1\nkind: Deployment\nmetadata: {name: x}\n") == [
            "2: kind: Unsupported value: \"Deployment\": supported values: \"InferenceService\", \"Replica\", \"PriorityClass\", \"Node\", \"Event\"",
        ])
        #expect(try problems("apiVersion: apps/v1\nkind: InferenceService\nmetadata: {name: x}\nspec: {model: {path: /m}}\n") == [
            "1: apiVersion: Unsupported value: \"apps/v1\": supported values: \"swell.dev/v1\"",
        ])
        #expect(try problems("kind: PriorityClass\nmetadata: {name: x}\nvalue: 1\n") == ["1: apiVersion: Required value"])
    }

    @Test("labels and annotations follow Kubernetes rules")
    func labels() throws {
        let yaml = """
        apiVersion: swell.dev/v1
        kind: PriorityClass
        metadata:
          name: high
          namespace: default
          labels: {"example.com/team": search, "bad key": x, ok: "has space"}
        value: 2000000000
        """
        #expect(try problems(yaml) == [
            "5: metadata.namespace: not allowed on this type",
            "6: metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')",
            "6: metadata.labels[ok]: Invalid value: \"has space\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345')",
            "7: value: must be <= 1000000000",
        ])
    }
}

@Suite("Defaulting")
struct DefaultingTests {
    func defaulted(_ yaml: String) throws -> InferenceService {
        let manifest = try #require(try ManifestParser.parse(yaml, source: "d.yaml").first)
        var service = try ResourceCodec.decode(InferenceService.self, from: manifest.document)
        service.applyDefaults()
        return service
    }

    @Test("fixed services get one replica, the engine and rollout defaults")
    func fixed() throws {
        let service = try defaulted(service("{}".isEmpty ? "" : ""))
        #expect(service.metadata.namespace == "default")
        #expect(service.spec.replicas == 1)
        #expect(service.spec.engine == EngineSpec(threads: 1, kvCacheTokens: 16384, blockSize: 16, maxBatchTokens: 512))
        #expect(service.spec.rollout == RolloutSpec(maxSurge: .count(1), maxUnavailable: .count(0)))
        #expect(service.spec.routing == RoutingSpec(
            policy: .prefixAffinity, maxConcurrencyPerReplica: 8, loadFactor: 1.25, affinityPrefixBytes: 4096,
            queue: RouterQueueSpec(timeoutSeconds: 60, limits: [.critical: 256, .standard: 128, .batch: 64])))
        #expect(service.spec.autoscaling == nil)
    }

    @Test("autoscaled services get HPA v2 behaviour defaults and no fixed replica count")
    func autoscaled() throws {
        let service = try defaulted(service("autoscaling: {maxReplicas: 5}"))
        let autoscaling = try #require(service.spec.autoscaling)
        #expect(service.spec.replicas == nil)
        #expect(autoscaling.minReplicas == 1)
        #expect(autoscaling.tolerance == 0.1)
        #expect(autoscaling.metrics == [MetricSpec(type: .cpu, targetAverageUtilization: 80)])
        #expect(autoscaling.behavior?.scaleUp?.stabilizationWindowSeconds == 0)
        #expect(autoscaling.behavior?.scaleDown?.stabilizationWindowSeconds == 300)
        #expect(autoscaling.behavior?.scaleUp?.policies?.count == 2)
        #expect(autoscaling.scaleToZero == ScaleToZeroSpec(enabled: false, idleSeconds: 300))
    }

    @Test("defaulting is idempotent")
    func idempotent() throws {
        var service = try defaulted(service("autoscaling: {maxReplicas: 5}\nresources: {limits: {cpu: 1, memory: 1Gi}}"))
        let once = service
        service.applyDefaults()
        #expect(service == once)
    }

    @Test("limits without requests imply equal requests, giving Guaranteed QoS", arguments: [
        ("resources: {limits: {cpu: 1, memory: 1Gi}}", QoSClass.guaranteed),
        ("resources: {requests: {cpu: 1000m, memory: 1Gi}, limits: {cpu: 1, memory: 1024Mi}}", .guaranteed),
        ("resources: {requests: {cpu: 500m}, limits: {cpu: 1, memory: 1Gi}}", .burstable),
        ("resources: {requests: {cpu: 1}}", .burstable),
        ("resources: {requests: {memory: 1Gi}}", .burstable),
        ("resources: {limits: {cpu: 1}}", .burstable),
        ("resources: {requests: {cpu: 1, memory: 1Gi}}", .burstable),
        ("resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 2, memory: 1Gi}}", .burstable),
        ("replicas: 1", .bestEffort),
        ("resources: {}", .bestEffort),
        // Zero quantities count as unset, as in Kubernetes.
        ("resources: {requests: {cpu: 0, memory: 0}}", .bestEffort),
        ("resources: {limits: {cpu: 0, memory: 1Gi}}", .burstable),
        ("resources: {requests: {cpu: 0}, limits: {cpu: 1, memory: 1Gi}}", .burstable),
    ])
    func qos(spec: String, expected: QoSClass) throws {
        let service = try defaulted(service(spec))
        #expect((service.spec.resources ?? ResourceRequirements()).qosClass == expected)
    }

    @Test("the QoS class needs no defaulting: limits imply requests", arguments: [
        (ResourceRequirements(limits: ["cpu": Quantity(millis: 1000), "memory": Quantity(bytes: 1 << 30)]), QoSClass.guaranteed),
        (ResourceRequirements(requests: ["cpu": Quantity(millis: 500)],
                              limits: ["cpu": Quantity(millis: 500), "memory": Quantity(bytes: 1 << 30)]), .guaranteed),
        (ResourceRequirements(requests: ["memory": Quantity(bytes: 1 << 20)],
                              limits: ["cpu": Quantity(millis: 500), "memory": Quantity(bytes: 1 << 30)]), .burstable),
        (ResourceRequirements(requests: [:], limits: [:]), .bestEffort),
    ])
    func qosWithoutDefaults(resources: ResourceRequirements, expected: QoSClass) {
        #expect(resources.qosClass == expected)
    }
}
