import SwellAPI
import Testing
@testable import SwellControllers

/// The number cases of Kubernetes' replica_calculator_test.go (TestReplicaCalc*), ported as
/// numbers: CPU levels are percent of a one-core request, pod metrics are queue lengths.
@Suite("Replica calculator")
struct ReplicaCalculatorTests {
    /// `spec` lists replicas as `r:<value>` (Ready) or `u:<value>` (not Ready), `-` for no value.
    static func replicas(_ spec: String, _ metric: MetricSpec.MetricType) -> [ReplicaMetrics] {
        spec.split(separator: " ").enumerated().map { index, item in
            let parts = item.split(separator: ":").map(String.init)
            let value = Double(parts[1])
            var replica = ReplicaMetrics(name: "r\(index)", isReady: parts[0] == "r")
            switch metric {
            case .cpu: replica.cpuUtilization = value
            case .queueLength: replica.waitingRequests = value
            case .kvCacheUsage: replica.kvCacheUsage = value
            }
            return replica
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var metric: MetricSpec
        var current: Int
        var replicas: String
        var routerQueue: Double? = nil
        var tolerances = Tolerances(scaleUp: 0.1, scaleDown: 0.1)
        var expected: Int?
        var testDescription: String { name }
    }

    static func cpu(_ target: Int) -> MetricSpec { MetricSpec(type: .cpu, targetAverageUtilization: target) }
    static func queue(_ target: Double) -> MetricSpec { MetricSpec(type: .queueLength, targetPerReplica: target) }
    static func kv(_ target: Double) -> MetricSpec { MetricSpec(type: .kvCacheUsage, targetAverage: target) }

    static let kubernetesCPUCases: [Case] = [
        Case(name: "scale up", metric: cpu(30), current: 3, replicas: "r:30 r:50 r:70", expected: 5),
        Case(name: "scale up: unready pod scales less", metric: cpu(30), current: 3, replicas: "u:30 r:50 r:70", expected: 4),
        Case(name: "no scale: unready pods ignored", metric: cpu(30), current: 3, replicas: "r:40 u:50 u:70", expected: 3),
        Case(name: "scale up: failed and deleted pods are not passed in", metric: cpu(30), current: 2, replicas: "r:50 r:70", expected: 4),
        Case(name: "scale down", metric: cpu(50), current: 5, replicas: "r:10 r:30 r:50 r:25 r:25", expected: 3),
        Case(name: "scale down: exclude unready pods", metric: cpu(50), current: 5, replicas: "r:10 r:30 r:50 u:25 u:25", expected: 2),
        Case(name: "scale down: exclude unscheduled pods", metric: cpu(50), current: 5, replicas: "r:10 u:- u:- u:- u:-", expected: 1),
        Case(name: "within default tolerance", metric: cpu(100), current: 3, replicas: "r:101 r:103 r:102", expected: 3),
        Case(name: "outside 0% tolerance", metric: cpu(100), current: 3, replicas: "r:101 r:101 r:101",
             tolerances: Tolerances(scaleUp: 0, scaleDown: 0), expected: 4),
        Case(name: "within 90% scale-up tolerance", metric: cpu(100), current: 3, replicas: "r:185 r:187 r:186",
             tolerances: Tolerances(scaleUp: 0.9, scaleDown: 0.1), expected: 3),
        Case(name: "outside 8% scale-up tolerance (superfluous scale-down tolerance)", metric: cpu(100), current: 3,
             replicas: "r:110 r:108 r:109", tolerances: Tolerances(scaleUp: 0.08, scaleDown: 1), expected: 4),
        Case(name: "within 36% scale-down tolerance", metric: cpu(100), current: 3, replicas: "r:66 r:64 r:65",
             tolerances: Tolerances(scaleUp: 0.1, scaleDown: 0.36), expected: 3),
        Case(name: "outside 34% scale-down tolerance", metric: cpu(100), current: 3, replicas: "r:66 r:64 r:65",
             tolerances: Tolerances(scaleUp: 0.1, scaleDown: 0.34), expected: 2),
        Case(name: "some pods missing metrics scales down", metric: cpu(100), current: 4, replicas: "r:40 r:9.5 r:- r:-", expected: 3),
        Case(name: "no change: metric equal to target", metric: cpu(100), current: 2, replicas: "r:100 r:-", expected: 2),
        Case(name: "no change: metric above target", metric: cpu(100), current: 2, replicas: "r:190 r:-", expected: 2),
        Case(name: "no change: metric below target", metric: cpu(100), current: 2, replicas: "r:60 r:-", expected: 2),
        Case(name: "no change: unready pod metric missing", metric: cpu(50), current: 3, replicas: "u:10 r:45 r:-", expected: 3),
        Case(name: "scale up: unready pod metric missing", metric: cpu(50), current: 3, replicas: "u:10 r:200 r:-", expected: 4),
        Case(name: "scale down: unready pod metric missing", metric: cpu(50), current: 4, replicas: "u:10 r:10 r:10 r:-", expected: 3),
        Case(name: "scale down: target over 100 counts a missing pod at the target", metric: cpu(300), current: 4,
             replicas: "u:20 r:10 r:5 r:-", expected: 2),
        Case(name: "rolling update with maxSurge: extra pod missing metric", metric: cpu(50), current: 2,
             replicas: "r:10 r:10 r:-", expected: 2),
        // TestReplicaCalcComputedToleranceAlgImplementation: 10 pods at 50% of their request.
        Case(name: "computed tolerance: just outside scales down", metric: cpu(56), current: 10,
             replicas: "r:50 r:50 r:50 r:50 r:50 r:50 r:50 r:50 r:50 r:50", expected: 9),
        Case(name: "computed tolerance: just inside stays", metric: cpu(55), current: 10,
             replicas: "r:50 r:50 r:50 r:50 r:50 r:50 r:50 r:50 r:50 r:50", expected: 10),
        Case(name: "no metrics at all", metric: cpu(50), current: 3, replicas: "r:- r:- u:-", expected: nil),
    ]

    static let kubernetesPodMetricCases: [Case] = [
        Case(name: "scale up", metric: queue(15), current: 3, replicas: "r:20 r:10 r:30", expected: 4),
        Case(name: "scale down", metric: queue(20), current: 5, replicas: "r:12 r:12 r:12 r:12 r:12", expected: 3),
        Case(name: "within default tolerance", metric: queue(20), current: 3, replicas: "r:20 r:21 r:21", expected: 3),
        Case(name: "outside configurable 1% tolerance", metric: queue(20), current: 3, replicas: "r:20 r:21 r:21",
             tolerances: Tolerances(scaleUp: 0.01, scaleDown: 0.1), expected: 4),
        Case(name: "no change: fewer replicas than the count, on target", metric: queue(20), current: 5,
             replicas: "r:20 r:19 r:21", expected: 5),
        Case(name: "rolling update with maxSurge: extra pod missing metric", metric: queue(17), current: 2,
             replicas: "r:10 r:10 r:-", expected: 2),
    ]

    static let queueCases: [Case] = [
        Case(name: "the issue's example: 18 waiting across 3, target 4", metric: queue(4), current: 3, replicas: "r:6 r:6 r:6", expected: 5),
        Case(name: "the router's queue counts with the engines'", metric: queue(4), current: 2, replicas: "r:2 r:2",
             routerQueue: 8, expected: 3),
        Case(name: "not-ready replicas count as 0 on a scale-up", metric: queue(15), current: 3, replicas: "r:50 r:10 u:30", expected: 4),
        Case(name: "scale from zero: one queued request proposes one replica", metric: queue(4), current: 0, replicas: "",
             routerQueue: 1, expected: 1),
        Case(name: "scale from zero: queued demand over the target", metric: queue(4), current: 0, replicas: "",
             routerQueue: 9, expected: 3),
        Case(name: "nothing ready yet: demand may add replicas", metric: queue(4), current: 1, replicas: "u:-",
             routerQueue: 10, expected: 3),
        Case(name: "nothing ready yet: small demand never removes the starting one", metric: queue(4), current: 2,
             replicas: "u:- u:-", routerQueue: 1, expected: 2),
        Case(name: "nothing ready and nothing queued: no data", metric: queue(4), current: 1, replicas: "u:-",
             routerQueue: 0, expected: nil),
        Case(name: "at zero with nothing queued: zero", metric: queue(4), current: 0, replicas: "", routerQueue: 0, expected: 0),
        Case(name: "no router report and nothing ready: no data", metric: queue(4), current: 1, replicas: "u:-", expected: nil),
        Case(name: "kv cache over target scales up", metric: kv(0.6), current: 2, replicas: "r:0.9 r:0.9", expected: 3),
        Case(name: "kv cache: a missing replica counts at the target on a scale-down", metric: kv(0.6), current: 2,
             replicas: "r:0.3 r:-", expected: 2),
    ]

    @Test(arguments: kubernetesCPUCases + kubernetesPodMetricCases + queueCases)
    func proposal(_ item: Case) {
        let proposal = ReplicaCalculator.proposal(for: item.metric, current: item.current,
                                                  replicas: Self.replicas(item.replicas, item.metric.type),
                                                  routerQueue: item.routerQueue, tolerances: item.tolerances)
        #expect(proposal.proposedReplicas == item.expected)
    }

    @Test("the proposal carries the figures its explanation needs")
    func figures() {
        let proposal = ReplicaCalculator.proposal(for: Self.queue(4), current: 3, replicas: Self.replicas("r:5 r:5 r:- u:-", .queueLength),
                                                  routerQueue: 2, tolerances: Tolerances(scaleUp: 0.1, scaleDown: 0.1))
        #expect(proposal.reporting == 2)
        #expect(proposal.missing == 1)
        #expect(proposal.notReady == 1)
        #expect(proposal.totalWaiting == 12)
        #expect(proposal.current == 6)
        // Scale-up: the missing and the not-ready replica count as 0 → 12 over 4.
        #expect(proposal.counted == 4)
        #expect(proposal.adjustedCurrent == 3)
        #expect(proposal.basis == .directionChange)
        #expect(proposal.proposedReplicas == 3)
    }

    @Test("tolerances come from the direction's rules, then the spec, then 0.1")
    func tolerancesResolution() {
        #expect(Tolerances(spec: AutoscalingSpec(maxReplicas: 3)) == Tolerances(scaleUp: 0.1, scaleDown: 0.1))
        #expect(Tolerances(spec: AutoscalingSpec(maxReplicas: 3, tolerance: 0.2)) == Tolerances(scaleUp: 0.2, scaleDown: 0.2))
        let spec = AutoscalingSpec(maxReplicas: 3, behavior: ScalingBehavior(scaleUp: ScalingRules(tolerance: 0.05)), tolerance: 0.3)
        #expect(Tolerances(spec: spec) == Tolerances(scaleUp: 0.05, scaleDown: 0.3))
    }
}
