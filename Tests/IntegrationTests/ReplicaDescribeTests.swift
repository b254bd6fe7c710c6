import Foundation
import SwellAPI
import Testing
@testable import swellctl

/// `swellctl describe rep/NAME`: the QoS class and how the node enforces it, up front.
@Suite struct ReplicaDescribeTests {
    static let now = Timestamp(secondsSince1970: 1_800_000_000)

    static func replica(status: ReplicaStatus?) throws -> Replica {
        var replica = Replica(
            metadata: ObjectMeta(name: "chat-5da4a-qpdm9", namespace: "default"),
            spec: ReplicaSpec(serviceName: "chat", nodeName: "n1", model: ModelSpec(path: "/models/chat.gguf"),
                              resources: ResourceRequirements(requests: ["cpu": try Quantity("500m")],
                                                              limits: ["cpu": try Quantity("1"), "memory": try Quantity("1Gi")])),
            status: status)
        replica.applyDefaults()
        replica.metadata.creationTimestamp = Timestamp(secondsSince1970: now.secondsSince1970 - 60)
        return replica
    }

    @Test func describeShowsTheQoSMechanismWithEveryValueAndTheCgroups() throws {
        let qos = QoSEnforcement(
            mechanism: .cgroupV1,
            cgroups: ["/sys/fs/cgroup/cpu/swell/n1/default_chat-5da4a-qpdm9", "/sys/fs/cgroup/memory/swell/n1/default_chat-5da4a-qpdm9"],
            settings: ["cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "100000", "cpu.shares": "512",
                       "memory.limit_in_bytes": "1073741824", "oom_score_adj": "-997"])
        let replica = try Self.replica(status: ReplicaStatus(phase: .ready, qosClass: .burstable, pid: 4242, qos: qos))
        let text = try Describer.describe(replica, events: [], now: Self.now)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("QoS Class:          Burstable"))
        #expect(lines.contains("QoS Enforcement:    cgroup-v1 cpu.cfs_period_us=100000 cpu.cfs_quota_us=100000 cpu.shares=512 "
            + "memory.limit_in_bytes=1073741824 oom_score_adj=-997"))
        #expect(lines.contains("Cgroups:            /sys/fs/cgroup/cpu/swell/n1/default_chat-5da4a-qpdm9"))
        #expect(lines.contains("                    /sys/fs/cgroup/memory/swell/n1/default_chat-5da4a-qpdm9"))
        #expect(!lines.contains { $0.contains("QoS Message") })
        // Shown once, in the summary, not again in the generic status section.
        let status = try #require(lines.firstIndex(of: "Status:"))
        #expect(!lines[status...].contains { $0.contains("Qos") || $0.contains("cgroup-v1") })
        #expect(lines[status...].contains { $0.hasPrefix("  Pid:") && $0.hasSuffix("4242") })
    }

    @Test func describeSaysWhyOnlyNiceValuesAreInEffect() throws {
        let qos = QoSEnforcement(mechanism: .nice, settings: ["nice": "5", "oom_score_adj": "999"],
                                 message: "no writable cgroups (cgroup v2: no cgroup v2 hierarchy at /sys/fs/cgroup)")
        let text = try Describer.describe(try Self.replica(status: ReplicaStatus(phase: .ready, qos: qos)), events: [], now: Self.now)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("QoS Enforcement:    nice nice=5 oom_score_adj=999"))
        #expect(lines.contains("QoS Message:        no writable cgroups (cgroup v2: no cgroup v2 hierarchy at /sys/fs/cgroup)"))
        #expect(!lines.contains { $0.hasPrefix("Cgroups:") })
    }

    @Test func describeBeforeTheAgentReportsShowsTheClassFromTheSpec() throws {
        let text = try Describer.describe(try Self.replica(status: nil), events: [], now: Self.now)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("QoS Class:          Burstable"))
        #expect(!lines.contains { $0.hasPrefix("QoS Enforcement:") })
    }
}
