import Foundation
import SwellAPI

/// What an InferenceService's replicas are made from, and the hash that tells a replica of the
/// current template from one of an older spec (the analogue of pod-template-hash).
public struct ReplicaTemplate: Sendable, Hashable {
    public static let serviceLabel = "swell.dev/service"
    public static let templateHashLabel = "swell.dev/template-hash"

    public var model: ModelSpec
    public var engine: EngineSpec?
    public var resources: ResourceRequirements?
    public var priorityClassName: String?

    public init(service: InferenceService) {
        model = service.spec.model
        engine = service.spec.engine
        resources = service.spec.resources
        priorityClassName = service.spec.priorityClassName
    }

    /// Ten hex digits of FNV-1a over the canonical JSON of what a rollout must replace: model,
    /// engine and resources (a new priority class applies to new replicas without a rollout).
    public var hash: String {
        struct Hashed: Encodable {
            var model: ModelSpec
            var engine: EngineSpec?
            var resources: ResourceRequirements?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(Hashed(model: model, engine: engine, resources: resources))) ?? Data()
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
        return String(String(value, radix: 16).suffix(10))
    }

    /// A new Replica of `service` (not yet scheduled), named `<service>-<hash5>-<random5>`, with
    /// the priority its class resolved to (the class name filled in when it came from the
    /// global default).
    public func makeReplica(for service: InferenceService, priority: ResolvedPriority,
                            suffix: String = ReplicaTemplate.randomSuffix()) -> Replica {
        let hash = self.hash
        var labels = service.metadata.labels ?? [:]
        labels[Self.serviceLabel] = service.metadata.name
        labels[Self.templateHashLabel] = hash
        let owner = OwnerReference(kind: InferenceService.kind, name: service.metadata.name,
                                   uid: service.metadata.uid ?? "", controller: true, blockOwnerDeletion: true)
        let metadata = ObjectMeta(name: "\(service.metadata.name)-\(hash.prefix(5))-\(suffix)",
                                  namespace: service.metadata.namespace, labels: labels, ownerReferences: [owner])
        let spec = ReplicaSpec(serviceName: service.metadata.name, model: model, engine: engine, resources: resources,
                               priorityClassName: priority.className, priority: priority.value,
                               preemptionPolicy: priority.preemptionPolicy, templateHash: hash)
        return Replica(metadata: metadata, spec: spec, status: ReplicaStatus(phase: .pending))
    }

    /// Five characters from an alphabet without vowels or look-alikes, as Kubernetes uses.
    public static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }
}
