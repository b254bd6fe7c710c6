import SwellAPI

/// Turns what the agent knows about a replica's engine into `Replica.status`, and decides when
/// that is worth a write: at once when anything but the usage figures changes, otherwise (CPU
/// seconds and RSS only) at most every `usageInterval`.
enum ReplicaStatusReport {
    struct Facts: Sendable, Equatable {
        var report: ReplicaLifecycle.Report
        /// The running engine's port, when one runs.
        var port: Int?
        /// When the running engine started.
        var startTime: Timestamp?
        var usage: ProcStat?
        var qosClass: QoSClass
        /// How the running engine's QoS is enforced.
        var qos: QoSEnforcement?
    }

    static func status(from facts: Facts, current: ReplicaStatus?, now: Timestamp) -> ReplicaStatus {
        var status = current ?? ReplicaStatus()
        let report = facts.report
        status.phase = report.phase
        status.reason = report.reason
        status.message = report.message
        status.restarts = report.restarts
        status.qosClass = facts.qosClass
        status.pid = report.pid.map(Int.init)
        status.port = report.pid == nil ? nil : facts.port
        status.endpoint = report.ready ? facts.port.map { "http://127.0.0.1:\($0)" } : nil
        status.startTime = report.pid == nil ? nil : facts.startTime ?? current?.startTime
        status.qos = report.pid == nil ? nil : facts.qos
        if let usage = facts.usage, report.pid != nil {
            status.cpuSeconds = (usage.cpuSeconds * 100).rounded() / 100
            status.memoryBytes = usage.residentBytes
        } else {
            status.cpuSeconds = nil
            status.memoryBytes = nil
        }
        var conditions = status.conditions ?? []
        conditions.set(Condition(type: "Ready", status: report.ready ? .true : .false,
                                 reason: report.ready ? "EngineReady" : report.reason ?? report.phase.rawValue,
                                 message: report.ready ? "the engine answers /ready" : report.message), now: now)
        status.conditions = conditions
        return status
    }

    static func needsWrite(current: ReplicaStatus?, next: ReplicaStatus, lastWrite: ContinuousClock.Instant?,
                           now: ContinuousClock.Instant, usageInterval: Duration) -> Bool {
        guard let current else { return true }
        var withoutUsage = next
        withoutUsage.cpuSeconds = current.cpuSeconds
        withoutUsage.memoryBytes = current.memoryBytes
        if withoutUsage != current { return true }
        guard next != current else { return false }
        guard let lastWrite else { return true }
        return now - lastWrite >= usageInterval
    }
}
