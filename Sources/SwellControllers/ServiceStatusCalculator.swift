import SwellAPI

/// The status an InferenceService should show for its replicas: counts, endpoint, and the
/// `Available`, `Progressing` and `ReplicaFailure` conditions, as a Deployment reports them.
/// Pure: the reconciler writes the result only when it differs from what is stored.
public enum ServiceStatusCalculator {
    public static func status(of service: InferenceService, replicas: [Replica], desired: Int,
                              now: Timestamp) -> InferenceServiceStatus {
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
        // The first Ready replica by name, so the endpoint does not flap between equals.
        status.endpoint = ready.sorted { $0.metadata.name < $1.metadata.name }.first?.status?.endpoint

        var conditions: [Condition] = []
        let minimum = max(desired - unavailableAllowed, desired > 0 ? 1 : 0)
        if ready.count >= minimum {
            conditions.append(Condition(type: "Available", status: .true, reason: "MinimumReplicasAvailable",
                                        message: "\(ready.count)/\(desired) replicas ready"))
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
        if let first = failing.first {
            let reason = first.status?.reason ?? "ReplicaFailed"
            let detail = first.status?.message.map { ": \($0)" } ?? ""
            let more = failing.count > 1 ? " (and \(failing.count - 1) more)" : ""
            conditions.append(Condition(type: "ReplicaFailure", status: .true, reason: reason,
                                        message: "replica \(first.metadata.name)\(detail)\(more)"))
        }

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
}
