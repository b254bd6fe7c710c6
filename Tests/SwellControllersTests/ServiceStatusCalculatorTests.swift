import SwellAPI
import Testing
@testable import SwellControllers

@Suite("Service status: preemption and creation problems")
struct ServiceStatusCalculatorTests {
    static let now = Timestamp(secondsSince1970: 1_700_000_000)
    static let service: InferenceService = {
        var service = chatService("batch", replicas: 1)
        service.metadata.uid = "uid-batch"
        service.metadata.generation = 1
        return service
    }()

    static func replica(_ name: String, node: String?, phase: ReplicaStatus.Phase = .pending, preempted: Bool = false,
                        deleting: Bool = false) -> Replica {
        var replica = ReplicaTemplate(service: service).makeReplica(for: service, priority: .zero, suffix: name)
        replica.spec.nodeName = node
        var status = ReplicaStatus(phase: phase)
        if preempted {
            status.conditions = [Condition(type: ServiceStatusCalculator.disruptionTarget, status: .true,
                                           reason: ServiceStatusCalculator.preemptionReason,
                                           message: "preempted by default/critical-x (priority 1000) on node n1")]
        }
        replica.status = status
        if deleting { replica.metadata.deletionTimestamp = now }
        return replica
    }

    @Test("a preempted replica sets Preempted and Available=False reason Preempted")
    func preempted() {
        let status = ServiceStatusCalculator.status(of: Self.service, replicas: [
            Self.replica("aaaaa", node: "n1", phase: .ready, preempted: true, deleting: true),
            Self.replica("bbbbb", node: nil),
        ], desired: 1, now: Self.now)
        let preempted = status.conditions?[type: "Preempted"]
        #expect(preempted?.status == .true)
        #expect(preempted?.reason == "PreemptedByHigherPriority")
        #expect(preempted?.message?.contains("preempted by default/critical-x (priority 1000) on node n1") == true)
        #expect(status.conditions?[type: "Available"]?.reason == "Preempted")
    }

    @Test("Preempted stays True while replacements wait unscheduled, then turns False once all are placed")
    func recovery() {
        var service = Self.service
        service.status = ServiceStatusCalculator.status(of: service, replicas: [
            Self.replica("aaaaa", node: "n1", phase: .ready, preempted: true, deleting: true),
        ], desired: 1, now: Self.now)
        let waiting = ServiceStatusCalculator.status(of: service, replicas: [Self.replica("bbbbb", node: nil)], desired: 1, now: Self.now)
        #expect(waiting.conditions?[type: "Preempted"]?.status == .true)
        service.status = waiting
        let placed = ServiceStatusCalculator.status(of: service, replicas: [Self.replica("bbbbb", node: "n1", phase: .ready)],
                                                    desired: 1, now: Self.now)
        #expect(placed.conditions?[type: "Preempted"]?.status == .false)
        #expect(placed.conditions?[type: "Preempted"]?.reason == "Rescheduled")
        #expect(placed.conditions?[type: "Available"]?.status == .true)
    }

    @Test("a service never preempted has no Preempted condition")
    func neverPreempted() {
        let status = ServiceStatusCalculator.status(of: Self.service, replicas: [Self.replica("aaaaa", node: nil)], desired: 1, now: Self.now)
        #expect(status.conditions?[type: "Preempted"] == nil)
        #expect(status.conditions?[type: "Available"]?.reason == "MinimumReplicasUnavailable")
    }

    @Test("a creation problem is ReplicaFailure FailedCreate with its message")
    func failedCreate() {
        let problem = PriorityResolution.unknownClass("gold").problem
        let status = ServiceStatusCalculator.status(of: Self.service, replicas: [], desired: 1, creationProblem: problem, now: Self.now)
        let failure = status.conditions?[type: "ReplicaFailure"]
        #expect(failure?.status == .true)
        #expect(failure?.reason == "FailedCreate")
        #expect(failure?.message == problem)
    }
}
