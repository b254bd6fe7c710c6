import SwellAPI
import Testing
@testable import SwellAgent

/// The QoS values a replica's resources call for, as the kubelet computes them (`MilliCPUToShares`,
/// `MilliCPUToQuota`, runc's shares-to-weight conversion, `GetContainerOOMScoreAdjust`), ported
/// as numbers for a node of 8Gi.
@Suite("QoS plan")
struct QoSPlanTests {
    static let nodeMemory: Int64 = 8 << 30

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var requests: [String: String] = [:]
        var limits: [String: String] = [:]
        var qosClass: QoSClass
        var shares: Int64
        var quota: Int64?
        var weight: Int64
        var oomScoreAdj: Int
        var nice: Int32

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "nothing asked: BestEffort, 2 shares, no quota, OOM-killed first",
             qosClass: .bestEffort, shares: 2, quota: nil, weight: 1, oomScoreAdj: 1000, nice: 19),
        Case(name: "limits alone imply equal requests: Guaranteed", limits: ["cpu": "1", "memory": "1Gi"],
             qosClass: .guaranteed, shares: 1024, quota: 100_000, weight: 39, oomScoreAdj: -997, nice: 0),
        Case(name: "requests equal to limits: Guaranteed",
             requests: ["cpu": "2", "memory": "2Gi"], limits: ["cpu": "2000m", "memory": "2Gi"],
             qosClass: .guaranteed, shares: 2048, quota: 200_000, weight: 79, oomScoreAdj: -997, nice: 0),
        Case(name: "requests only: Burstable, oom_score_adj from the share of node memory",
             requests: ["cpu": "500m", "memory": "1Gi"],
             qosClass: .burstable, shares: 512, quota: nil, weight: 20, oomScoreAdj: 875, nice: 5),
        Case(name: "a CPU limit above the request, memory request implied by its limit",
             requests: ["cpu": "250m"], limits: ["cpu": "2", "memory": "512Mi"],
             qosClass: .burstable, shares: 256, quota: 200_000, weight: 10, oomScoreAdj: 938, nice: 5),
        Case(name: "1m: shares and quota at their minimums", requests: ["cpu": "1m"], limits: ["cpu": "1m"],
             qosClass: .burstable, shares: 2, quota: 1000, weight: 1, oomScoreAdj: 999, nice: 5),
        Case(name: "a small memory request rounds down to 999, never BestEffort's 1000", requests: ["memory": "10Mi"],
             qosClass: .burstable, shares: 2, quota: nil, weight: 1, oomScoreAdj: 999, nice: 5),
        Case(name: "32Mi of 8Gi: 1000 - floor(3.9)", requests: ["memory": "32Mi"],
             qosClass: .burstable, shares: 2, quota: nil, weight: 1, oomScoreAdj: 997, nice: 5),
        Case(name: "all the node's memory: floored at 3, above every Guaranteed replica", requests: ["memory": "8Gi"],
             qosClass: .burstable, shares: 2, quota: nil, weight: 1, oomScoreAdj: 3, nice: 5),
        Case(name: "more than the node has: still 3", requests: ["memory": "64Gi"],
             qosClass: .burstable, shares: 2, quota: nil, weight: 1, oomScoreAdj: 3, nice: 5),
        Case(name: "300 cores: shares capped at 262144, weight at 10000", requests: ["cpu": "300"],
             qosClass: .burstable, shares: 262_144, quota: nil, weight: 10_000, oomScoreAdj: 999, nice: 5),
        Case(name: "zero limits are no limits", limits: ["cpu": "0", "memory": "0"],
             qosClass: .bestEffort, shares: 2, quota: nil, weight: 1, oomScoreAdj: 1000, nice: 19),
        Case(name: "fractional millicores round up, as MilliValue does", requests: ["cpu": "0.0005"],
             qosClass: .burstable, shares: 2, quota: nil, weight: 1, oomScoreAdj: 999, nice: 5),
    ]

    static func resources(_ requests: [String: String], _ limits: [String: String]) throws -> ResourceRequirements {
        func quantities(_ values: [String: String]) throws -> [String: Quantity]? {
            values.isEmpty ? nil : try values.mapValues { try Quantity($0) }
        }
        return ResourceRequirements(requests: try quantities(requests), limits: try quantities(limits))
    }

    @Test(arguments: cases)
    func values(_ expected: Case) throws {
        let plan = QoSPlan(resources: try Self.resources(expected.requests, expected.limits), nodeMemoryBytes: Self.nodeMemory)
        #expect(plan.qosClass == expected.qosClass)
        #expect(plan.cpuShares == expected.shares)
        #expect(plan.cpuQuota == expected.quota)
        #expect(plan.cpuWeight == expected.weight)
        #expect(plan.oomScoreAdj == expected.oomScoreAdj)
        #expect(plan.nice == expected.nice)
    }

    @Test("no resources at all is BestEffort")
    func noResources() {
        let plan = QoSPlan(resources: nil, nodeMemoryBytes: Self.nodeMemory)
        #expect(plan.qosClass == .bestEffort && plan.cpuShares == 2 && plan.oomScoreAdj == 1000)
    }

    @Test("a Burstable replica on a node of unknown memory is treated as requesting none")
    func unknownNodeMemory() throws {
        let plan = QoSPlan(resources: try Self.resources(["memory": "1Gi"], [:]), nodeMemoryBytes: 0)
        #expect(plan.oomScoreAdj == 999)
    }

    @Test("cgroup v1 files: CFS period and quota and shares in cpu, the limit in memory; -1 for none")
    func v1Files() throws {
        let limited = QoSPlan(resources: try Self.resources(["cpu": "250m"], ["cpu": "500m", "memory": "64Mi"]),
                              nodeMemoryBytes: Self.nodeMemory)
        #expect(limited.cgroupFiles(.v1) == [
            .init(controller: "cpu", name: "cpu.cfs_period_us", value: "100000"),
            .init(controller: "cpu", name: "cpu.cfs_quota_us", value: "50000"),
            .init(controller: "cpu", name: "cpu.shares", value: "256"),
            .init(controller: "memory", name: "memory.limit_in_bytes", value: "67108864"),
        ])
        let unlimited = QoSPlan(resources: nil, nodeMemoryBytes: Self.nodeMemory)
        #expect(unlimited.cgroupFiles(.v1).map(\.value) == ["100000", "-1", "2", "-1"])
    }

    @Test("cgroup v2 files: cpu.max as quota and period, cpu.weight, memory.max; max for none")
    func v2Files() throws {
        let limited = QoSPlan(resources: try Self.resources([:], ["cpu": "1500m", "memory": "1Gi"]),
                              nodeMemoryBytes: Self.nodeMemory)
        #expect(limited.cgroupFiles(.v2) == [
            .init(controller: "", name: "cpu.max", value: "150000 100000"),
            .init(controller: "", name: "cpu.weight", value: "59"),
            .init(controller: "", name: "memory.max", value: "1073741824"),
        ])
        let unlimited = QoSPlan(resources: try Self.resources(["cpu": "1"], [:]), nodeMemoryBytes: Self.nodeMemory)
        #expect(unlimited.cgroupFiles(.v2).map(\.value) == ["max 100000", "39", "max"])
    }

    @Test("v1 cgroup membership from /proc/PID/cgroup, joined controllers too")
    func membership() {
        let text = """
            12:pids:/
            4:memory:/process_api/366e
            2:cpu,cpuacct:/user.slice
            1:name=systemd:/
            0::/user.slice/session-1.scope
            """
        let membership = CgroupLayout.v1Membership(text)
        #expect(membership["memory"] == "/process_api/366e")
        #expect(membership["cpu"] == "/user.slice" && membership["cpuacct"] == "/user.slice")
        #expect(membership["pids"] == "/" && membership["name=systemd"] == "/")
        #expect(membership.count == 5, "the unified hierarchy's line names no controller")
        #expect(CgroupLayout.v1Membership("0::/\n").isEmpty)
    }

    @Test("paths and names", arguments: [
        ("/sys/fs/cgroup/cpu", "/", "/sys/fs/cgroup/cpu"),
        ("/sys/fs/cgroup/memory", "/process_api/366e", "/sys/fs/cgroup/memory/process_api/366e"),
        ("/sys/fs/cgroup", "/a/b/", "/sys/fs/cgroup/a/b"),
    ])
    func join(mount: String, path: String, joined: String) {
        #expect(CgroupLayout.join(mount, path) == joined)
    }

    @Test("replica directory names and controller lists")
    func names() {
        #expect(CgroupLayout.directoryName(replicaKey: "default/chat-5da4a-qpdm9") == "default_chat-5da4a-qpdm9")
        #expect(CgroupLayout.controllers("+cpu +memory") == ["cpu", "memory"])
        #expect(CgroupLayout.controllers("cpuset cpu io memory pids\n") == ["cpuset", "cpu", "io", "memory", "pids"])
        #expect(CgroupLayout.controllers("").isEmpty)
    }
}
