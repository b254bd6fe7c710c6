import Foundation
import SwellAPI
import Testing
@testable import SwellAgent

/// A real `sleep` child standing in for an engine; in its own process group when `leader`, as
/// the agent's engines are.
final class SleepingChild {
    let pid: pid_t

    init(leader: Bool) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if leader {
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sleep"), strdup("300"), nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, "sleep", nil, &attributes, argv, environ)
        guard result == 0 else { throw AgentError("cannot spawn sleep: \(String(cString: strerror(result)))") }
        self.pid = pid
    }

    /// The nice value of each of its threads, from /proc (field 19 of stat).
    var threadNiceValues: [Int32] {
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return threads.compactMap { thread in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(thread)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 16 ? Int32(fields[16]) : nil
        }
    }

    func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

/// A temporary directory laid out like a host's /sys/fs/cgroup and /proc.
struct FakeHost {
    let root: String
    var roots: HostQoSEnforcer.Roots { .init(cgroup: root + "/cgroup", proc: root + "/proc") }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("swell-qos-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/cgroup", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/proc/self", withIntermediateDirectories: true)
    }

    /// A v1 host whose agent sits in `/jobs/7` of the memory hierarchy and at the root of cpu's.
    static func v1() throws -> FakeHost {
        let host = try FakeHost()
        try host.write("cgroup/cpu/cpu.shares", "1024")
        try host.write("cgroup/cpu/cgroup.procs", "1")
        try host.write("cgroup/memory/memory.limit_in_bytes", "9223372036854771712")
        try host.write("cgroup/memory/jobs/7/cgroup.procs", "1")
        try host.write("proc/self/cgroup", "5:memory:/jobs/7\n2:cpu,cpuacct:/\n0::/\n")
        return host
    }

    func write(_ path: String, _ contents: String) throws {
        let url = URL(fileURLWithPath: root + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try contents.write(to: url, atomically: false, encoding: .utf8)
    }

    func read(_ path: String) -> String? {
        try? String(contentsOfFile: root + "/" + path, encoding: .utf8)
    }

    func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: root + "/" + path)
    }

    /// What a process's /proc directory needs for `oom_score_adj` to be written.
    func process(_ pid: pid_t) throws {
        try FileManager.default.createDirectory(atPath: root + "/proc/\(pid)", withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}

@Suite("QoS enforcement against a cgroup tree in a temporary directory")
struct QoSEnforcerTests {
    static let nodeMemory: Int64 = 8 << 30

    static func plan(requests: [String: String] = [:], limits: [String: String] = [:]) throws -> QoSPlan {
        QoSPlan(resources: try QoSPlanTests.resources(requests, limits), nodeMemoryBytes: nodeMemory)
    }

    @Test("cgroup v1: a cgroup per replica below the agent's own in cpu and memory, limits first, then the pid")
    func cgroupV1() throws {
        let host = try FakeHost.v1()
        defer { host.remove() }
        let enforcer = try HostQoSEnforcer.detect(mode: .auto, nodeName: "n1", roots: host.roots)
        #expect(enforcer.mechanism == .cgroupV1)
        #expect(enforcer.passedOver?.contains("no cgroup v2 hierarchy") == true)
        #expect(enforcer.hierarchies.map(\.nodeDirectory) == [host.root + "/cgroup/cpu/swell/n1", host.root + "/cgroup/memory/jobs/7/swell/n1"])

        try host.process(4242)
        let cpu = "cgroup/cpu/swell/n1/default_chat", memory = "cgroup/memory/jobs/7/swell/n1/default_chat"
        let guaranteed = enforcer.apply(try Self.plan(limits: ["cpu": "1", "memory": "1Gi"]), pid: 4242, replicaKey: "default/chat")
        #expect(guaranteed == QoSEnforcement(
            mechanism: .cgroupV1, cgroups: [host.root + "/" + cpu, host.root + "/" + memory],
            settings: ["cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "100000", "cpu.shares": "1024",
                       "memory.limit_in_bytes": "1073741824", "oom_score_adj": "-997"]))
        #expect(host.read(cpu + "/cpu.cfs_period_us") == "100000")
        #expect(host.read(cpu + "/cpu.cfs_quota_us") == "100000")
        #expect(host.read(cpu + "/cpu.shares") == "1024")
        #expect(host.read(cpu + "/cgroup.procs") == "4242")
        #expect(host.read(memory + "/memory.limit_in_bytes") == "1073741824")
        #expect(host.read(memory + "/cgroup.procs") == "4242")
        #expect(host.read("proc/4242/oom_score_adj") == "-997")

        // Applied again with other resources (an adopted engine, a resize): the same cgroup, new values.
        let burstable = enforcer.apply(try Self.plan(requests: ["cpu": "500m", "memory": "2Gi"]), pid: 4242, replicaKey: "default/chat")
        #expect(burstable.settings?["cpu.shares"] == "512" && burstable.message == nil)
        #expect(host.read(cpu + "/cpu.shares") == "512")
        #expect(host.read(cpu + "/cpu.cfs_quota_us") == "-1")
        #expect(host.read(memory + "/memory.limit_in_bytes") == "-1")
        #expect(host.read("proc/4242/oom_score_adj") == "750")

        try enforcer.release(replicaKey: "default/chat")
        #expect(!host.exists(cpu) && !host.exists(memory))
        #expect(host.exists("cgroup/cpu/swell/n1"), "the node's directory stays while the agent runs")
        try enforcer.release(replicaKey: "default/chat")  // nothing left to remove is no error
        enforcer.releaseNode()
        #expect(!host.exists("cgroup/cpu/swell/n1") && !host.exists("cgroup/memory/jobs/7/swell/n1"))
        #expect(host.read("cgroup/cpu/cgroup.procs") == "1", "the agent's own cgroup is left alone")
    }

    @Test("cgroup v2: cpu and memory enabled down to the node's directory, then cpu.max, cpu.weight, memory.max and the pid")
    func cgroupV2() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.write("cgroup/cgroup.controllers", "cpuset cpu io memory pids")
        try host.write("cgroup/cgroup.subtree_control", "cpu io memory")
        try host.write("proc/self/cgroup", "0::/\n")
        let enforcer = try HostQoSEnforcer.detect(mode: .auto, nodeName: "n1", roots: host.roots)
        #expect(enforcer.mechanism == .cgroupV2 && enforcer.passedOver == nil)
        #expect(host.read("cgroup/cgroup.subtree_control") == "cpu io memory", "already enabled: not written again")
        #expect(host.read("cgroup/swell/cgroup.subtree_control") == "+cpu +memory")
        #expect(host.read("cgroup/swell/n1/cgroup.subtree_control") == "+cpu +memory")

        try host.process(77)
        let plan = try Self.plan(requests: ["cpu": "250m"], limits: ["cpu": "500m", "memory": "64Mi"])
        let applied = enforcer.apply(plan, pid: 77, replicaKey: "batch/summarize-1")
        let cgroup = "cgroup/swell/n1/batch_summarize-1"
        #expect(applied == QoSEnforcement(
            mechanism: .cgroupV2, cgroups: [host.root + "/" + cgroup],
            settings: ["cpu.max": "50000 100000", "cpu.weight": "10", "memory.max": "67108864", "oom_score_adj": "993"]))
        #expect(host.read(cgroup + "/cpu.max") == "50000 100000")
        #expect(host.read(cgroup + "/cpu.weight") == "10")
        #expect(host.read(cgroup + "/memory.max") == "67108864")
        #expect(host.read(cgroup + "/cgroup.procs") == "77")
        #expect(host.read("proc/77/oom_score_adj") == "993")
        try enforcer.release(replicaKey: "batch/summarize-1")
        #expect(!host.exists(cgroup))
    }

    @Test("a unified hierarchy without cpu and memory is passed over for v1; asking for v2 outright is an error naming the flag")
    func hybrid() throws {
        let host = try FakeHost.v1()
        defer { host.remove() }
        try host.write("cgroup/unified/cgroup.controllers", "hugetlb\n")
        let enforcer = try HostQoSEnforcer.detect(mode: .auto, nodeName: "n1", roots: host.roots)
        #expect(enforcer.mechanism == .cgroupV1)
        #expect(enforcer.passedOver == "cgroup v2: \(host.root)/cgroup/unified offers hugetlb, not cpu and memory")
        let error = #expect(throws: AgentError.self) {
            try HostQoSEnforcer.detect(mode: .cgroupV2, nodeName: "n1", roots: host.roots)
        }
        #expect(error?.description == "--qos-enforcement cgroup-v2: \(host.root)/cgroup/unified offers hugetlb, not cpu and memory")
        #expect(try HostQoSEnforcer.detect(mode: .cgroupV1, nodeName: "n1", roots: host.roots).mechanism == .cgroupV1)
    }

    @Test("no cgroups: nice values by class on every thread, oom_score_adj, and the reason in the message")
    func niceValues() throws {
        let host = try FakeHost()
        defer { host.remove() }
        let enforcer = try HostQoSEnforcer.detect(mode: .auto, nodeName: "n1", roots: host.roots)
        #expect(enforcer.mechanism == .nice)
        let error = #expect(throws: AgentError.self) {
            try HostQoSEnforcer.detect(mode: .cgroupV1, nodeName: "n1", roots: host.roots)
        }
        #expect(error?.description == "--qos-enforcement cgroup-v1: no cgroup v1 cpu hierarchy at \(host.root)/cgroup/cpu")

        // The engine's case (it leads its process group) and a process that does not.
        for leader in [true, false] {
            let child = try SleepingChild(leader: leader)
            defer { child.stop() }
            try host.process(child.pid)
            let applied = enforcer.apply(try Self.plan(), pid: child.pid, replicaKey: "default/idle")
            #expect(applied.mechanism == .nice && applied.cgroups == nil)
            #expect(applied.settings == ["nice": "19", "oom_score_adj": "1000"])
            #expect(applied.message?.hasPrefix("no writable cgroups (cgroup v2: no cgroup v2 hierarchy at") == true)
            #expect(!child.threadNiceValues.isEmpty && child.threadNiceValues.allSatisfy { $0 == 19 }, "leader: \(leader)")
            #expect(host.read("proc/\(child.pid)/oom_score_adj") == "1000")
        }

        let named = try HostQoSEnforcer.detect(mode: .nice, nodeName: "n1", roots: host.roots)
        let child = try SleepingChild(leader: true)
        defer { child.stop() }
        try host.process(child.pid)
        let burstable = named.apply(try Self.plan(requests: ["cpu": "100m"]), pid: child.pid, replicaKey: "default/b")
        #expect(burstable == QoSEnforcement(mechanism: .nice, settings: ["nice": "5", "oom_score_adj": "999"]))
        #expect(child.threadNiceValues.allSatisfy { $0 == 5 })
    }

    @Test("off: nothing is touched, and the status says so")
    func off() throws {
        let host = try FakeHost.v1()
        defer { host.remove() }
        let enforcer = try HostQoSEnforcer.detect(mode: .off, nodeName: "n1", roots: host.roots)
        try host.process(4242)
        let applied = enforcer.apply(try Self.plan(limits: ["cpu": "1", "memory": "1Gi"]), pid: 4242, replicaKey: "default/chat")
        #expect(applied == QoSEnforcement(mechanism: .off, message: "QoS enforcement is off on this node (--qos-enforcement off)"))
        #expect(!host.exists("cgroup/cpu/swell") && !host.exists("proc/4242/oom_score_adj"))
    }

    @Test("a cgroup that cannot be finished: the engine goes back to the agent's cgroup, its own goes, nice values instead")
    func fallback() throws {
        let host = try FakeHost.v1()
        defer { host.remove() }
        let enforcer = try HostQoSEnforcer.detect(mode: .cgroupV1, nodeName: "n1", roots: host.roots)
        // Something in the way of the memory cgroup.
        try host.write("cgroup/memory/jobs/7/swell/n1/default_chat", "not a directory")
        let child = try SleepingChild(leader: true)
        defer { child.stop() }
        try host.process(child.pid)
        let applied = enforcer.apply(try Self.plan(requests: ["cpu": "1"]), pid: child.pid, replicaKey: "default/chat")
        #expect(applied.mechanism == .nice && applied.cgroups == nil)
        #expect(applied.settings == ["nice": "5", "oom_score_adj": "999"])
        #expect(applied.message == "cannot open \(host.root)/cgroup/memory/jobs/7/swell/n1/default_chat/memory.limit_in_bytes: "
            + "Not a directory; using nice values instead")
        #expect(!host.exists("cgroup/cpu/swell/n1/default_chat"), "the half-made cpu cgroup is removed")
        #expect(host.read("cgroup/cpu/cgroup.procs") == "\(child.pid)", "the engine is back in the agent's own cgroup")
        #expect(child.threadNiceValues.allSatisfy { $0 == 5 })
    }

    @Test("pruning removes the cgroups of replicas that ended while no agent ran, and keeps the adopted ones")
    func prune() throws {
        let host = try FakeHost.v1()
        defer { host.remove() }
        let enforcer = try HostQoSEnforcer.detect(mode: .cgroupV1, nodeName: "n1", roots: host.roots)
        try host.write("cgroup/cpu/swell/n1/default_old/cpu.shares", "2")
        try host.write("cgroup/cpu/swell/n1/default_kept/cpu.shares", "1024")
        try host.write("cgroup/cpu/swell/n1/cgroup.procs", "")
        try host.write("cgroup/memory/jobs/7/swell/n1/default_old/memory.limit_in_bytes", "-1")
        enforcer.prune(keeping: ["default/kept"])
        #expect(!host.exists("cgroup/cpu/swell/n1/default_old") && !host.exists("cgroup/memory/jobs/7/swell/n1/default_old"))
        #expect(host.read("cgroup/cpu/swell/n1/default_kept/cpu.shares") == "1024")
        #expect(host.exists("cgroup/cpu/swell/n1/cgroup.procs"), "the node directory's own files are not replicas")
    }
}

/// For real: this host's /sys/fs/cgroup and /proc, a real child process, values read back from
/// the kernel. The machines Swell is built and tested on have writable cgroup v1 `cpu` and
/// `memory` hierarchies; a host without writable cgroups fails here, loudly, rather than skip.
@Suite("QoS enforcement on this host's cgroups", .serialized)
struct HostQoSEnforcerTests {
    static func requireCgroups(_ enforcer: HostQoSEnforcer) throws {
        try #require(enforcer.mechanism == .cgroupV1 || enforcer.mechanism == .cgroupV2,
                     "no writable cgroups on this host (\(enforcer.passedOver ?? "")): QoS enforcement needs cgroup v1 or v2 at /sys/fs/cgroup, writable by root")
    }

    @Test("the child's cgroup holds its limits and its pid, its oom_score_adj is set, and all of it goes when it ends")
    func realCgroups() throws {
        let node = "qos-test-\(UUID().uuidString.prefix(6).lowercased())"
        let enforcer = try HostQoSEnforcer.detect(mode: .auto, nodeName: node)
        try Self.requireCgroups(enforcer)
        let child = try SleepingChild(leader: true)
        var running = true
        defer { if running { child.stop() } }

        let plan = QoSPlan(resources: try QoSPlanTests.resources(["cpu": "250m", "memory": "32Mi"], ["cpu": "500m", "memory": "64Mi"]),
                           nodeMemoryBytes: HostCapacity.memoryBytes)
        let applied = enforcer.apply(plan, pid: child.pid, replicaKey: "default/qos-probe")
        #expect(applied.mechanism == enforcer.mechanism)
        #expect(applied.message == nil)
        let cgroups = try #require(applied.cgroups)
        #expect(cgroups.count == (enforcer.mechanism == .cgroupV1 ? 2 : 1))

        func kernel(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let expected: [String: String] = enforcer.mechanism == .cgroupV1
            ? ["cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "50000", "cpu.shares": "256", "memory.limit_in_bytes": "67108864"]
            : ["cpu.max": "50000 100000", "cpu.weight": "10", "memory.max": "67108864"]
        for (file, value) in expected {
            let holder = cgroups.first { FileManager.default.fileExists(atPath: $0 + "/" + file) }
            #expect(holder.flatMap { kernel($0 + "/" + file) } == value, "\(file)")
        }
        for cgroup in cgroups {
            #expect(kernel(cgroup + "/cgroup.procs")?.split(separator: "\n").contains("\(child.pid)") == true, "\(cgroup)")
        }
        let membership = try #require(kernel("/proc/\(child.pid)/cgroup"))
        #expect(membership.split(separator: "\n").filter { $0.hasSuffix("/swell/\(node)/default_qos-probe") }.count == cgroups.count)
        #expect(kernel("/proc/\(child.pid)/oom_score_adj") == "\(plan.oomScoreAdj)")

        #expect(throws: AgentError.self, "a cgroup with a process in it cannot go") {
            try enforcer.release(replicaKey: "default/qos-probe")
        }
        child.stop()
        running = false
        try enforcer.release(replicaKey: "default/qos-probe")
        #expect(cgroups.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        enforcer.releaseNode()
        #expect(enforcer.hierarchies.allSatisfy { !FileManager.default.fileExists(atPath: $0.nodeDirectory) })
    }
}
