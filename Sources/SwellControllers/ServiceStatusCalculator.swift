import SwellAPI

/// The status an InferenceService should show for its replicas: counts, endpoint, and the
/// `Available`, `Progressing` and `ReplicaFailure` conditions, as a Deployment reports them,
/// plus `Preempted` once the scheduler has evicted one of its replicas for higher-priority work.
/// Pure: the reconciler writes the result only when it differs from what is stored.
public enum ServiceStatusCalculator {
    /// The condition the scheduler puts on a replica it preempts before deleting it, as
    /// kube-scheduler marks a victim pod.
    public static let disruptionTarget = "DisruptionTarget"
    public static let preemptionReason = "PreemptionByScheduler"

    /// - Parameters:
    ///   - replicas: the service's replicas, including those being deleted.
    ///   - creationProblem: why replicas the service needs cannot be created (an unknown
    ///     priority class), shown as `ReplicaFailure` with reason `FailedCreate`.
    /// - Parameter routerURL: where the service is served when a router runs; without one, the
    ///   endpoint is a Ready replica's.
    public static func status(of service: InferenceService, replicas: [Replica], desired: Int,
                              creationProblem: String? = nil, routerURL: String? = nil, now: Timestamp) -> InferenceServiceStatus {
        let hash = ReplicaTemplate(service: service).hash
        let live = replicas.filter { !$0.metadata.isBeingDeleted }
        let ready = live.filter { $0.status?.phase == .ready }
        let current = live.filter { $0.spec.templateHash == hash }
        let unavailableAllowed = (service.spec.rollout?.maxUnavailable ?? .count(0)).resolve(total: desired, roundUp: false)
        let previous = service.status ?? InferenceServiceStatus()

        var status = previous
        status.observedGeneration = service.metadata.generation
        status.replicas = live.count
        status.readyReplicas = ready.count
        status.updatedReplicas = current.count
        status.desiredReplicas = desired
        // Else the first Ready replica by name, so the endpoint does not flap between equals.
        status.endpoint = routerURL ?? ready.sorted { $0.metadata.name < $1.metadata.name }.first?.status?.endpoint

        var conditions: [Condition] = []
        let preempted = preemptedCondition(previous: previous.conditions?[type: "Preempted"], replicas: replicas, live: live)
        let minimum = max(desired - unavailableAllowed, desired > 0 ? 1 : 0)
        if ready.count >= minimum {
            conditions.append(Condition(type: "Available", status: .true, reason: "MinimumReplicasAvailable",
                                        message: "\(ready.count)/\(desired) replicas ready"))
        } else if preempted?.status == .true {
            conditions.append(Condition(type: "Available", status: .false, reason: "Preempted",
                                        message: "\(ready.count)/\(desired) replicas ready, at least \(minimum) needed; "
                                            + "higher-priority work holds the capacity"))
        } else {
            conditions.append(Condition(type: "Available", status: .false, reason: "MinimumReplicasUnavailable",
                                        message: "\(ready.count)/\(desired) replicas ready, at least \(minimum) needed"))
        }

        let currentReady = current.filter { $0.status?.phase == .ready }.count
        let outdated = live.count - current.count
        if outdated == 0, current.count == desired, currentReady == desired {
            conditions.append(Condition(type: "Progressing", status: .true, reason: "NewReplicasAvailable",
                                        message: "all \(desired) replicas run the current spec and are ready"))
        } else if outdated > 0 {
            conditions.append(Condition(type: "Progressing", status: .true, reason: "RollingUpdate",
                                        message: "\(current.count) of \(desired) replicas updated, \(outdated) old remaining"))
        } else {
            conditions.append(Condition(type: "Progressing", status: .true, reason: "ReplicasUpdating",
                                        message: "\(currentReady) of \(desired) replicas ready"))
        }

        let failing = live.filter { replica in
            replica.status?.phase == .failed || replica.status?.reason == "Unschedulable"
                || replica.status?.reason == "CrashLoopBackOff"
        }.sorted { $0.metadata.name < $1.metadata.name }
        if let creationProblem {
            conditions.append(Condition(type: "ReplicaFailure", status: .true, reason: "FailedCreate", message: creationProblem))
        } else if let first = failing.first {
            let reason = first.status?.reason ?? "ReplicaFailed"
            let detail = first.status?.message.map { ": \($0)" } ?? ""
            let more = failing.count > 1 ? " (and \(failing.count - 1) more)" : ""
            conditions.append(Condition(type: "ReplicaFailure", status: .true, reason: reason,
                                        message: "replica \(first.metadata.name)\(detail)\(more)"))
        }

        if let preempted { conditions.append(preempted) }

        // A condition keeps its transition time until its status flips.
        status.conditions = conditions.map { condition in
            var condition = condition
            condition.observedGeneration = service.metadata.generation
            if let old = previous.conditions?[type: condition.type], old.status == condition.status {
                condition.lastTransitionTime = old.lastTransitionTime ?? now
            } else {
                condition.lastTransitionTime = now
            }
            return condition
        }
        return status
    }

    /// True while a replica carries the scheduler's preemption mark, and afterwards for as long
    /// as replicas wait unscheduled (the capacity is still taken); False once all are placed
    /// again. Absent for a service that was never preempted.
    static func preemptedCondition(previous: Condition?, replicas: [Replica], live: [Replica]) -> Condition? {
        let victims = replicas.filter { replica in
            replica.status?.conditions?[type: disruptionTarget].map { $0.status == .true && $0.reason == preemptionReason } ?? false
        }.sorted { $0.metadata.name < $1.metadata.name }
        if let first = victims.first, let mark = first.status?.conditions?[type: disruptionTarget] {
            let more = victims.count > 1 ? " (and \(victims.count - 1) more)" : ""
            return Condition(type: "Preempted", status: .true, reason: "PreemptedByHigherPriority",
                             message: "replica \(first.metadata.name): \(mark.message ?? "preempted")\(more)")
        }
        guard let previous else { return nil }
        if previous.status == .true, live.contains(where: { $0.spec.nodeName == nil }) {
            return Condition(type: "Preempted", status: .true, reason: previous.reason, message: previous.message)
        }
        return Condition(type: "Preempted", status: .false, reason: "Rescheduled",
                         message: "every replica is placed on a node again")
    }
}
