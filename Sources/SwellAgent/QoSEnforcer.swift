#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SwellAPI

/// `--qos-enforcement`: one mechanism, or `auto` for the best this host offers.
public enum QoSEnforcementMode: String, Sendable, CaseIterable {
    case auto
    case cgroupV2 = "cgroup-v2"
    case cgroupV1 = "cgroup-v1"
    case nice
    case off
}

/// Puts engine processes under their replica's QoS: the runtime's only way to touch cgroups,
/// nice values and `oom_score_adj`.
protocol QoSEnforcer: Sendable {
    /// What every replica gets, unless applying it fails for one (which then gets nice values).
    var mechanism: QoSMechanism { get }
    /// Applies `plan` to the engine `pid` of `replicaKey` and says what is in effect. Safe to
    /// repeat (an adopted engine, changed resources). Never fails: what could not be set is in
    /// the result's message.
    func apply(_ plan: QoSPlan, pid: Int32, replicaKey: String) -> QoSEnforcement
    /// Removes the replica's cgroups once its engine has ended.
    func release(replicaKey: String) throws
    /// Removes the cgroups of this node's replicas not in `replicaKeys`: engines of an earlier
    /// agent that ended while no agent ran. Cgroups still in use stay.
    func prune(keeping replicaKeys: Set<String>)
    /// Removes this node's cgroup directory once every engine has stopped (a graceful stop).
    func releaseNode()
}

/// QoS through the host's cgroup filesystem and /proc, each rooted where told: `/sys/fs/cgroup`
/// and `/proc` on a host, a temporary directory laid out like them in tests.
///
/// A cgroup mechanism is chosen once, at start-up, by preparing this node's directories (see
/// `CgroupLayout`): cgroup v2 where the unified hierarchy offers the cpu and memory controllers
/// and they can be enabled down to this node's directory; else cgroup v1 where the `cpu` and
/// `memory` hierarchies are writable; else nice values. Each engine then gets its own cgroup right after
/// it is spawned: limits first, then its pid into `cgroup.procs`.
struct HostQoSEnforcer: QoSEnforcer {
    struct Roots: Sendable, Equatable {
        var cgroup: String
        var proc: String

        static let host = Roots(cgroup: "/sys/fs/cgroup", proc: "/proc")
    }

    /// One hierarchy the replicas' cgroups go into.
    struct Hierarchy: Sendable, Equatable {
        /// The v1 controller (`cpu`, `memory`); empty for v2's single hierarchy.
        var controller: String
        /// Where the node's directory hangs: the agent's own cgroup (v1) or the root (v2). An
        /// engine whose cgroup cannot be finished goes back there.
        var base: String
        /// `<base>/swell/<node>`.
        var nodeDirectory: String
    }

    static let controllers: Set = ["cpu", "memory"]

    let mechanism: QoSMechanism
    let hierarchies: [Hierarchy]
    /// Why `auto` passed over the better mechanisms; shown with every replica's QoS when that
    /// left only nice values.
    let passedOver: String?
    let roots: Roots

    private var version: CgroupVersion? {
        switch mechanism {
        case .cgroupV2: .v2
        case .cgroupV1: .v1
        case .nice, .off: nil
        }
    }

    /// Chooses and prepares the mechanism. A mechanism named outright that this host cannot
    /// provide is an error naming the flag and the reason.
    static func detect(mode: QoSEnforcementMode, nodeName: String, roots: Roots = .host) throws -> HostQoSEnforcer {
        let own = CgroupLayout.v1Membership((try? String(contentsOfFile: roots.proc + "/self/cgroup", encoding: .utf8)) ?? "")
        func prepared(_ version: CgroupVersion, passedOver: String?) throws -> HostQoSEnforcer {
            switch version {
            case .v2:
                HostQoSEnforcer(mechanism: .cgroupV2, hierarchies: [try prepareV2(nodeName: nodeName, roots: roots)],
                                passedOver: passedOver, roots: roots)
            case .v1:
                HostQoSEnforcer(mechanism: .cgroupV1, hierarchies: try prepareV1(nodeName: nodeName, roots: roots, own: own),
                                passedOver: passedOver, roots: roots)
            }
        }
        switch mode {
        case .off:
            return HostQoSEnforcer(mechanism: .off, hierarchies: [], passedOver: nil, roots: roots)
        case .nice:
            return HostQoSEnforcer(mechanism: .nice, hierarchies: [], passedOver: nil, roots: roots)
        case .cgroupV2, .cgroupV1:
            do {
                return try prepared(mode == .cgroupV2 ? .v2 : .v1, passedOver: nil)
            } catch {
                throw AgentError("--qos-enforcement \(mode.rawValue): \(error)")
            }
        case .auto:
            var reasons: [String] = []
            for (version, name) in [(CgroupVersion.v2, "cgroup v2"), (.v1, "cgroup v1")] {
                do {
                    return try prepared(version, passedOver: reasons.isEmpty ? nil : reasons.joined(separator: "; "))
                } catch {
                    reasons.append("\(name): \(error)")
                }
            }
            return HostQoSEnforcer(mechanism: .nice, hierarchies: [], passedOver: reasons.joined(separator: "; "), roots: roots)
        }
    }

    /// cgroup v2 forbids controllers below a cgroup that holds processes (the agent's own), so
    /// the replicas' cgroups hang off the hierarchy's root, as the kubelet's `kubepods.slice` does.
    private static func prepareV2(nodeName: String, roots: Roots) throws -> Hierarchy {
        // The unified hierarchy is the cgroup root itself, or `unified/` beside v1 (hybrid hosts).
        guard let base = [roots.cgroup, roots.cgroup + "/unified"].first(where: {
            FileManager.default.fileExists(atPath: $0 + "/cgroup.controllers")
        }) else {
            throw AgentError("no cgroup v2 hierarchy at \(roots.cgroup) or \(roots.cgroup)/unified")
        }
        let offered = CgroupLayout.controllers(read(base + "/cgroup.controllers") ?? "")
        guard offered.isSuperset(of: controllers) else {
            let list = offered.isEmpty ? "no controllers" : offered.sorted().joined(separator: ", ")
            throw AgentError("\(base) offers \(list), not cpu and memory")
        }
        let parent = base + "/" + CgroupLayout.parentName
        let node = parent + "/" + nodeName
        try enableControllers(below: base)
        try makeDirectory(parent)
        try enableControllers(below: parent)
        try makeDirectory(node)
        try enableControllers(below: node)
        return Hierarchy(controller: "", base: base, nodeDirectory: node)
    }

    private static func prepareV1(nodeName: String, roots: Roots, own: [String: String]) throws -> [Hierarchy] {
        try [("cpu", "cpu.shares"), ("memory", "memory.limit_in_bytes")].map { controller, marker in
            let mount = roots.cgroup + "/" + controller
            guard FileManager.default.fileExists(atPath: mount + "/" + marker) else {
                throw AgentError("no cgroup v1 \(controller) hierarchy at \(mount)")
            }
            let base = Self.base(mount: mount, path: own[controller])
            let parent = base + "/" + CgroupLayout.parentName
            let node = parent + "/" + nodeName
            try makeDirectory(parent)
            try makeDirectory(node)
            return Hierarchy(controller: controller, base: base, nodeDirectory: node)
        }
    }

    /// The agent's own cgroup under a v1 `mount`. Where the mount shows only the agent's part of
    /// the tree (a container without its own cgroup namespace), /proc's path is not below it, and
    /// the mount itself is the agent's cgroup.
    private static func base(mount: String, path: String?) -> String {
        let own = CgroupLayout.join(mount, path ?? "/")
        return FileManager.default.fileExists(atPath: own) ? own : mount
    }

    private static func enableControllers(below directory: String) throws {
        let enabled = CgroupLayout.controllers(read(directory + "/cgroup.subtree_control") ?? "")
        guard !enabled.isSuperset(of: controllers) else { return }
        do {
            try write(directory + "/cgroup.subtree_control", "+cpu +memory")
        } catch {
            throw AgentError("cannot enable the cpu and memory controllers below \(directory): \(error.reason)")
        }
    }

    // MARK: Replicas

    func apply(_ plan: QoSPlan, pid: Int32, replicaKey: String) -> QoSEnforcement {
        guard mechanism != .off else {
            return QoSEnforcement(mechanism: .off, message: "QoS enforcement is off on this node (--qos-enforcement off)")
        }
        var applied = mechanism
        var cgroups: [String]?
        var settings: [String: String] = [:]
        var problems = mechanism == .nice ? passedOver.map { ["no writable cgroups (\($0))"] } ?? [] : []
        if let version {
            do {
                cgroups = try join(plan, version: version, pid: pid, replicaKey: replicaKey, settings: &settings)
            } catch {
                leave(pid: pid, replicaKey: replicaKey)
                problems.append("\(error); using nice values instead")
                applied = .nice
                settings = [:]
            }
        }
        if applied == .nice {
            do {
                try renice(pid: pid, to: plan.nice)
                settings["nice"] = "\(plan.nice)"
            } catch {
                problems.append("\(error)")
            }
        }
        do {
            try Self.write(roots.proc + "/\(pid)/oom_score_adj", "\(plan.oomScoreAdj)")
            settings["oom_score_adj"] = "\(plan.oomScoreAdj)"
        } catch {
            problems.append("\(error)")
        }
        return QoSEnforcement(mechanism: applied, cgroups: cgroups, settings: settings.isEmpty ? nil : settings,
                              message: problems.isEmpty ? nil : problems.joined(separator: "; "))
    }

    /// Makes the replica's cgroup in every hierarchy, writes its limits, then moves the engine in
    /// — only once every limit is in place, so it never runs in a half-made cgroup.
    private func join(_ plan: QoSPlan, version: CgroupVersion, pid: Int32, replicaKey: String,
                      settings: inout [String: String]) throws(QoSFileError) -> [String] {
        let files = plan.cgroupFiles(version)
        var directories: [String] = []
        for hierarchy in hierarchies {
            let directory = hierarchy.nodeDirectory + "/" + CgroupLayout.directoryName(replicaKey: replicaKey)
            try Self.makeDirectory(directory)
            for file in files where file.controller == hierarchy.controller {
                try Self.write(directory + "/" + file.name, file.value)
                settings[file.name] = file.value
            }
            directories.append(directory)
        }
        for directory in directories {
            try Self.write(directory + "/cgroup.procs", "\(pid)")
        }
        return directories
    }

    /// Undoes a half-done `join`: the engine back where the agent's cgroups hang, its own removed.
    private func leave(pid: Int32, replicaKey: String) {
        for hierarchy in hierarchies {
            try? Self.write(hierarchy.base + "/cgroup.procs", "\(pid)")
        }
        try? release(replicaKey: replicaKey)
    }

    /// The engine leads its own process group, so one call renices every thread of it (threads
    /// started later inherit the value). Another process's threads are reniced one by one.
    private func renice(pid: Int32, to value: Int32) throws(QoSFileError) {
        if getpgid(pid) == pid {
            guard setpriority(__priority_which_t(PRIO_PGRP.rawValue), id_t(pid), value) == 0 else {
                throw QoSFileError(action: "cannot set nice \(value) on process group", path: "\(pid)", errno: errno)
            }
            return
        }
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: roots.proc + "/\(pid)/task")) ?? ["\(pid)"]
        for thread in threads.compactMap({ id_t($0) }) where setpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread, value) != 0 {
            guard errno == ESRCH else {  // a thread that just ended
                throw QoSFileError(action: "cannot set nice \(value) on thread", path: "\(thread)", errno: errno)
            }
        }
    }

    func release(replicaKey: String) throws {
        var problems: [String] = []
        for hierarchy in hierarchies {
            do {
                try Self.removeDirectory(hierarchy.nodeDirectory + "/" + CgroupLayout.directoryName(replicaKey: replicaKey))
            } catch {
                problems.append("\(error)")
            }
        }
        if !problems.isEmpty { throw AgentError(problems.joined(separator: "; ")) }
    }

    func prune(keeping replicaKeys: Set<String>) {
        let kept = Set(replicaKeys.map(CgroupLayout.directoryName(replicaKey:)))
        for hierarchy in hierarchies {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: hierarchy.nodeDirectory)) ?? [] where !kept.contains(entry) {
                var isDirectory: ObjCBool = false
                let path = hierarchy.nodeDirectory + "/" + entry
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
                try? Self.removeDirectory(path)
            }
        }
    }

    func releaseNode() {
        for hierarchy in hierarchies {
            try? Self.removeDirectory(hierarchy.nodeDirectory)
        }
    }

    // MARK: Files

    private static func read(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }

    /// `echo value > path`, as for any cgroup or /proc control file.
    private static func write(_ path: String, _ value: String) throws(QoSFileError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw QoSFileError(action: "cannot open", path: path, errno: errno) }
        defer { close(descriptor) }
        let bytes = Array(value.utf8)
        guard Glibc.write(descriptor, bytes, bytes.count) == bytes.count else {
            throw QoSFileError(action: "cannot write \(value) to", path: path, errno: errno)
        }
    }

    private static func makeDirectory(_ path: String) throws(QoSFileError) {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw QoSFileError(action: "cannot create", path: path, errno: errno) }
    }

    /// rmdir, which on cgroupfs removes the control files with the directory and fails with EBUSY
    /// while a process is inside.
    private static func removeDirectory(_ path: String) throws(QoSFileError) {
        if rmdir(path) == 0 || errno == ENOENT { return }
        if errno == ENOTEMPTY {
            // Not cgroupfs, which never says this, but a plain directory tree standing in for it,
            // where the control files are ordinary files.
            for file in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                unlink(path + "/" + file)
            }
            if rmdir(path) == 0 { return }
        }
        throw QoSFileError(action: "cannot remove", path: path, errno: errno)
    }
}

/// A cgroup or /proc file operation that failed, with the system's reason.
struct QoSFileError: Error, CustomStringConvertible {
    var action: String
    var path: String
    var reason: String

    init(action: String, path: String, errno code: Int32) {
        self.action = action
        self.path = path
        self.reason = String(cString: strerror(code))
    }

    var description: String { "\(action) \(path): \(reason)" }
}
