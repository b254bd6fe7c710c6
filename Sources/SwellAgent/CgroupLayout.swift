import Foundation

/// The two cgroup interfaces a host may offer.
enum CgroupVersion: Sendable, Equatable {
    case v1
    case v2
}

/// Where the agent keeps its replicas' cgroups, and what /proc says about cgroup membership.
///
/// Each replica's cgroup is `<hierarchy><the agent's own cgroup>/swell/<node>/<namespace>_<name>`
/// on cgroup v1: below the agent's own cgroup, so an agent confined by a container, a service
/// manager or a CI job keeps its engines inside that confinement (and its accounting). cgroup v2
/// allows no controllers below a cgroup with processes in it, so there it is
/// `<hierarchy>/swell/<node>/<namespace>_<name>`. Per node, so two agents on one host (tests, a
/// demo beside a server) never share a directory.
enum CgroupLayout {
    static let parentName = "swell"

    /// `default/chat` → `default_chat`: namespaces and names are DNS labels, so `_` cannot
    /// occur in either and the name is unambiguous.
    static func directoryName(replicaKey: String) -> String {
        replicaKey.replacingOccurrences(of: "/", with: "_")
    }

    /// A process's cgroup in each v1 controller's hierarchy, from `/proc/PID/cgroup`
    /// (`ID:CONTROLLERS:PATH` per line; `cpu,cpuacct` counts for both, and the unified
    /// hierarchy's `0::PATH` for none).
    static func v1Membership(_ text: String) -> [String: String] {
        var membership: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            for controller in fields[1].split(separator: ",") {
                membership[String(controller)] = String(fields[2])
            }
        }
        return membership
    }

    /// `mount` + `path`, where a path of `/` is the mount itself.
    static func join(_ mount: String, _ path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        return trimmed.isEmpty ? mount : mount + (trimmed.hasPrefix("/") ? trimmed : "/" + trimmed)
    }

    /// The controllers a `cgroup.controllers` or `cgroup.subtree_control` file lists (written
    /// `+cpu +memory`, read back as `cpu memory`).
    static func controllers(_ text: String) -> Set<String> {
        Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { $0.hasPrefix("+") ? String($0.dropFirst()) : String($0) })
    }
}
