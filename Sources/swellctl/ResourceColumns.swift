import Foundation
import SwellAPI

/// A kind `swellctl` can print: the columns `get` shows and the summary `describe` leads with.
protocol CLIResource: Resource {
    static func tableColumns(wide: Bool) -> [String]
    func tableCells(wide: Bool, now: Timestamp) -> [String]
    /// Lines `describe` prints right after the metadata, before the generic sections.
    func describeSummary() -> [(label: String, value: String)]
    /// Status fields the summary already shows, left out of the generic Status section.
    static var summarizedStatusFields: Set<String> { get }
    /// Where `get` lists put this object; by name unless a kind reads better otherwise.
    static func listOrder(_ left: Self, _ right: Self) -> Bool
}

extension CLIResource {
    func describeSummary() -> [(label: String, value: String)] { [] }

    static var summarizedStatusFields: Set<String> { [] }

    static func listOrder(_ left: Self, _ right: Self) -> Bool {
        (left.metadata.namespace ?? "", left.metadata.name) < (right.metadata.namespace ?? "", right.metadata.name)
    }

    func age(now: Timestamp) -> String {
        metadata.creationTimestamp?.age(now: now) ?? "<unknown>"
    }
}

enum CLIKinds {
    /// Resolves `isvc`, `inferenceservices`, `InferenceService`… to a printable kind.
    static func named(_ name: String) -> (any CLIResource.Type)? {
        ResourceKinds.named(name) as? any CLIResource.Type
    }
}

extension InferenceService: CLIResource {
    static func tableColumns(wide: Bool) -> [String] {
        ["NAME", "READY", "REPLICAS", "MIN", "MAX", "AGE"] + (wide ? ["MODEL", "ENDPOINT", "PRIORITY"] : [])
    }

    /// What the controller is working towards, falling back to the spec before it has reported.
    var desiredReplicaCount: Int {
        status?.desiredReplicas ?? spec.replicas ?? spec.autoscaling?.minReplicas ?? 1
    }

    func tableCells(wide: Bool, now: Timestamp) -> [String] {
        var cells = [
            metadata.name,
            "\(status?.readyReplicas ?? 0)/\(desiredReplicaCount)",
            "\(status?.replicas ?? 0)",
            spec.autoscaling.map { "\($0.minReplicas ?? 1)" } ?? "-",
            spec.autoscaling.map { "\($0.maxReplicas)" } ?? "-",
            age(now: now),
        ]
        if wide {
            let model = spec.model.path.split(separator: "/").last.map(String.init) ?? spec.model.path
            cells += [model, status?.endpoint ?? "<none>", spec.priorityClassName ?? "<none>"]
        }
        return cells
    }

    func describeSummary() -> [(label: String, value: String)] {
        var lines = [(label: "Replicas", value: "\(desiredReplicaCount) desired | \(status?.readyReplicas ?? 0) ready | \(status?.replicas ?? 0) total")]
        if let autoscaling = spec.autoscaling {
            lines.append((label: "Autoscaling", value: "\(autoscaling.minReplicas ?? 1)..\(autoscaling.maxReplicas) replicas on "
                + (autoscaling.metrics ?? []).map(\.type.rawValue).joined(separator: ", ")))
        }
        guard let autoscaler = status?.autoscaler else { return lines }
        if let metrics = autoscaler.currentMetrics, !metrics.isEmpty {
            lines.append((label: "Scaling Metrics", value: metrics.map(Self.describe).joined(separator: "\n")))
        }
        if autoscaler.burst == true {
            lines.append((label: "Burst", value: "yes: the short-window queue is over twice its target"))
        }
        if let time = autoscaler.lastScaleTime {
            lines.append((label: "Last Scale Time", value: time.description))
        }
        if let decisions = autoscaler.recentDecisions ?? autoscaler.lastDecision.map({ [$0] }), !decisions.isEmpty {
            // Newest first, as someone asking "why this count?" reads them.
            lines.append((label: "Scaling Decisions",
                          value: decisions.reversed().map { "\($0.time)  [\($0.reason)] \($0.message)" }.joined(separator: "\n")))
        }
        return lines
    }

    static var summarizedStatusFields: Set<String> { ["autoscaler"] }

    /// `QueueLength 6 (target 4 per replica) → 5 replicas`.
    private static func describe(_ metric: MetricValue) -> String {
        let unit = switch metric.type {
        case .cpu: "% of the CPU request"
        case .queueLength: " per replica"
        case .kvCacheUsage: " of the KV cache"
        }
        let current = metric.current.map { number($0) } ?? "<unknown>"
        let target = metric.target.map { number($0) } ?? "?"
        let proposal = metric.proposedReplicas.map { " → \($0) replica\($0 == 1 ? "" : "s")" } ?? ""
        return "\(metric.type.rawValue) \(current) (target \(target)\(unit))\(proposal)"
    }

    private static func number(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(format: "%.2f", value)
    }
}

extension Replica: CLIResource {
    static func tableColumns(wide: Bool) -> [String] {
        ["NAME", "SERVICE", "PHASE", "RESTARTS", "NODE", "PORT", "AGE"] + (wide ? ["PID", "QOS", "REASON"] : [])
    }

    func tableCells(wide: Bool, now: Timestamp) -> [String] {
        var cells = [
            metadata.name,
            spec.serviceName,
            status?.phase?.rawValue ?? ReplicaStatus.Phase.pending.rawValue,
            "\(status?.restarts ?? 0)",
            spec.nodeName ?? "<none>",
            (status?.port ?? spec.port).map { "\($0)" } ?? "<none>",
            age(now: now),
        ]
        if wide {
            cells += [
                status?.pid.map { "\($0)" } ?? "<none>",
                (status?.qosClass ?? qosClass).rawValue,
                status?.reason ?? "<none>",
            ]
        }
        return cells
    }

    /// The QoS class and how the node enforces it: the mechanism, every value set, the cgroups.
    func describeSummary() -> [(label: String, value: String)] {
        var lines = [(label: "QoS Class", value: (status?.qosClass ?? qosClass).rawValue)]
        guard let qos = status?.qos else { return lines }
        let settings = (qos.settings ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        lines.append((label: "QoS Enforcement", value: ([qos.mechanism.rawValue] + settings).joined(separator: " ")))
        if let cgroups = qos.cgroups, !cgroups.isEmpty {
            lines.append((label: "Cgroups", value: cgroups.joined(separator: "\n")))
        }
        if let message = qos.message {
            lines.append((label: "QoS Message", value: message))
        }
        return lines
    }

    static var summarizedStatusFields: Set<String> { ["qosClass", "qos"] }
}

extension PriorityClass: CLIResource {
    static func tableColumns(wide: Bool) -> [String] {
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "PREEMPTION", "AGE"]
    }

    func tableCells(wide: Bool, now: Timestamp) -> [String] {
        [
            metadata.name,
            "\(value)",
            "\(globalDefault ?? false)",
            (preemptionPolicy ?? .preemptLowerPriority).rawValue,
            age(now: now),
        ]
    }

    /// Highest priority first, as the scheduler ranks them.
    static func listOrder(_ left: PriorityClass, _ right: PriorityClass) -> Bool {
        (left.value, right.metadata.name) > (right.value, left.metadata.name)
    }
}

extension Node: CLIResource {
    static func tableColumns(wide: Bool) -> [String] {
        ["NAME", "STATUS", "CPU", "MEMORY", "AGE"] + (wide ? ["ADDRESS", "VERSION"] : [])
    }

    /// `Ready`, `NotReady` or `Unknown`, plus `SchedulingDisabled` when cordoned, like kubectl.
    var readiness: String {
        let ready: String
        switch status?.conditions?[type: "Ready"]?.status {
        case .true?: ready = "Ready"
        case .false?: ready = "NotReady"
        default: ready = "Unknown"
        }
        return spec?.unschedulable == true ? "\(ready),SchedulingDisabled" : ready
    }

    func tableCells(wide: Bool, now: Timestamp) -> [String] {
        func resource(_ name: String) -> String {
            (status?.allocatable?[name] ?? status?.capacity?[name])?.description ?? "<none>"
        }
        var cells = [metadata.name, readiness, resource("cpu"), resource("memory"), age(now: now)]
        if wide {
            cells += [status?.address ?? "<none>", status?.agentVersion ?? "<none>"]
        }
        return cells
    }
}

extension Event: CLIResource {
    static func tableColumns(wide: Bool) -> [String] {
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"] + (wide ? ["SOURCE", "COUNT"] : [])
    }

    var lastSeen: Timestamp? { lastTimestamp ?? firstTimestamp ?? metadata.creationTimestamp }

    /// `inferenceservice/chat`
    var objectReference: String { "\(involvedObject.kind.lowercased())/\(involvedObject.name)" }

    func tableCells(wide: Bool, now: Timestamp) -> [String] {
        var cells = [
            lastSeen?.age(now: now) ?? "<unknown>",
            (type ?? .normal).rawValue,
            reason,
            objectReference,
            message,
        ]
        if wide {
            cells += [source ?? "<none>", "\(count ?? 1)"]
        }
        return cells
    }

    /// Oldest first, so the newest event is the last line, next to the prompt.
    static func listOrder(_ left: Event, _ right: Event) -> Bool {
        let leftTime = left.lastSeen?.secondsSince1970 ?? 0
        let rightTime = right.lastSeen?.secondsSince1970 ?? 0
        return (leftTime, left.metadata.name) < (rightTime, right.metadata.name)
    }
}
