import SwellAPI

/// What a replica's resources call for on its node, for every mechanism: the kubelet's maths,
/// with no I/O, so each number is a table test.
///
/// - `cpu.shares` from the CPU request as `MilliCPUToShares` computes it: 1024 per core, at least
///   2 (so BestEffort, with no request, gets 2), at most 262144.
/// - The CFS quota from the CPU limit over a 100 ms period, at least 1 ms; no limit, no quota.
/// - cgroup v2's `cpu.weight` from those shares as runc converts them:
///   `1 + (shares - 2) × 9999 / 262142` (so 1 core → 39, 2 shares → 1).
/// - `oom_score_adj` as the kubelet sets it: Guaranteed -997, BestEffort 1000, Burstable
///   `1000 - 1000 × memoryRequest / nodeMemory`, kept within 3...999 — above any Guaranteed
///   process and below any BestEffort one.
/// - A nice value by class, for hosts without writable cgroups (see `nice`).
struct QoSPlan: Sendable, Equatable {
    var qosClass: QoSClass
    /// 0 when none is asked for (a limit alone implies an equal request).
    var cpuRequestMillis: Int64
    /// nil: no limit.
    var cpuLimitMillis: Int64?
    var memoryRequestBytes: Int64
    var memoryLimitBytes: Int64?
    /// The node's memory capacity, which a Burstable replica's request is weighed against.
    var nodeMemoryBytes: Int64

    static let minShares: Int64 = 2
    static let maxShares: Int64 = 262_144
    static let sharesPerCore: Int64 = 1024
    /// The CFS period, in microseconds.
    static let cfsPeriod: Int64 = 100_000
    static let minCFSQuota: Int64 = 1000
    static let guaranteedOOMScoreAdj = -997
    static let bestEffortOOMScoreAdj = 1000

    init(resources: ResourceRequirements?, nodeMemoryBytes: Int64) {
        let resources = resources ?? ResourceRequirements()
        qosClass = resources.qosClass
        cpuRequestMillis = max(0, resources.cpuRequest?.millis ?? 0)
        memoryRequestBytes = max(0, resources.memoryRequest?.integerValue ?? 0)
        // A zero limit is no limit, as in Kubernetes.
        cpuLimitMillis = (resources.limits?["cpu"]?.millis).flatMap { $0 > 0 ? $0 : nil }
        memoryLimitBytes = (resources.limits?["memory"]?.integerValue).flatMap { $0 > 0 ? $0 : nil }
        self.nodeMemoryBytes = nodeMemoryBytes
    }

    var cpuShares: Int64 {
        min(max(cpuRequestMillis * Self.sharesPerCore / 1000, Self.minShares), Self.maxShares)
    }

    /// Microseconds of CPU per `cfsPeriod`; nil: unlimited.
    var cpuQuota: Int64? {
        cpuLimitMillis.map { max($0 * Self.cfsPeriod / 1000, Self.minCFSQuota) }
    }

    var cpuWeight: Int64 {
        1 + (cpuShares - 2) * 9999 / 262_142
    }

    var oomScoreAdj: Int {
        switch qosClass {
        case .guaranteed:
            return Self.guaranteedOOMScoreAdj
        case .bestEffort:
            return Self.bestEffortOOMScoreAdj
        case .burstable:
            let floor = 1000 + Self.guaranteedOOMScoreAdj
            // An unknown capacity says nothing about the request's share: as for no request.
            guard nodeMemoryBytes > 0 else { return Self.bestEffortOOMScoreAdj - 1 }
            guard memoryRequestBytes < nodeMemoryBytes else { return floor }
            // Exact integer division, as the kubelet's, without overflowing 1000 × bytes.
            let share = Int(nodeMemoryBytes.dividingFullWidth(Int64(1000).multipliedFullWidth(by: memoryRequestBytes)).quotient)
            let adjust = 1000 - share
            if adjust < floor { return floor }
            return adjust == Self.bestEffortOOMScoreAdj ? adjust - 1 : adjust
        }
    }

    /// Where only nice values are available. Guaranteed keeps the default 0: never above the
    /// agent and the API server, which must stay responsive. Burstable runs at 5, about a third
    /// of a Guaranteed thread's CPU weight; BestEffort at 19, the lowest, so it gets what is left
    /// over — what its 2 cpu.shares give it under cgroups.
    var nice: Int32 {
        switch qosClass {
        case .guaranteed: 0
        case .burstable: 5
        case .bestEffort: 19
        }
    }

    /// One control file of a replica's cgroup and what goes into it.
    struct CgroupFile: Sendable, Equatable {
        /// The v1 hierarchy it lives in (`cpu`, `memory`); v2 has a single directory.
        var controller: String
        var name: String
        var value: String
    }

    /// The files to write, in order, before the engine joins its cgroup.
    func cgroupFiles(_ version: CgroupVersion) -> [CgroupFile] {
        switch version {
        case .v1:
            [
                CgroupFile(controller: "cpu", name: "cpu.cfs_period_us", value: "\(Self.cfsPeriod)"),
                CgroupFile(controller: "cpu", name: "cpu.cfs_quota_us", value: cpuQuota.map { "\($0)" } ?? "-1"),
                CgroupFile(controller: "cpu", name: "cpu.shares", value: "\(cpuShares)"),
                CgroupFile(controller: "memory", name: "memory.limit_in_bytes", value: memoryLimitBytes.map { "\($0)" } ?? "-1"),
            ]
        case .v2:
            [
                CgroupFile(controller: "", name: "cpu.max", value: "\(cpuQuota.map { "\($0)" } ?? "max") \(Self.cfsPeriod)"),
                CgroupFile(controller: "", name: "cpu.weight", value: "\(cpuWeight)"),
                CgroupFile(controller: "", name: "memory.max", value: memoryLimitBytes.map { "\($0)" } ?? "max"),
            ]
        }
    }
}
