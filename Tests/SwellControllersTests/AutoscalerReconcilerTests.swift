import SwellAPI
import Testing
@testable import SwellControllers

/// The autoscaler controller's own rules: which count the InferenceService controller follows,
/// and which evaluations become recorded decisions.
@Suite("Autoscaler controller rules")
struct AutoscalerReconcilerTests {
    static func service(autoscaling: AutoscalingSpec?, replicas: Int? = nil, decided: Int? = nil, previous: Int? = nil) -> InferenceService {
        var service = InferenceService(metadata: ObjectMeta(name: "chat", namespace: "default"),
                                       spec: InferenceServiceSpec(model: ModelSpec(path: "/m.gguf"), replicas: replicas, autoscaling: autoscaling))
        if decided != nil || previous != nil {
            service.status = InferenceServiceStatus(desiredReplicas: previous,
                                                    autoscaler: decided.map { AutoscalerStatus(desiredReplicas: $0) })
        }
        return service
    }

    static let oneToFour = AutoscalingSpec(minReplicas: 1, maxReplicas: 4)
    static let zeroToTwo = AutoscalingSpec(minReplicas: 0, maxReplicas: 2, scaleToZero: ScaleToZeroSpec(enabled: true))

    @Test("the count the InferenceService controller follows", arguments: [
        (nil as AutoscalingSpec?, 3 as Int?, nil as Int?, nil as Int?, 3),  // not autoscaled: spec.replicas
        (oneToFour, nil, nil, nil, 1),            // new service: minReplicas
        (oneToFour, nil, 3, nil, 3),              // the autoscaler's decision
        (oneToFour, nil, nil, 3, 3),              // autoscaling just turned on: keeps the count it had
        (oneToFour, nil, 9, nil, 4),              // a decision above a lowered maxReplicas is capped
        (oneToFour, nil, 0, nil, 1),              // ... and below minReplicas raised
        (zeroToTwo, nil, 0, nil, 0),              // scaled to zero
        (zeroToTwo, nil, nil, nil, 0),            // a scale-to-zero service starts at its minReplicas, 0
    ])
    func desiredCount(autoscaling: AutoscalingSpec?, replicas: Int?, decided: Int?, previous: Int?, expected: Int) {
        #expect(AutoscaledReplicas().desiredReplicas(for: Self.service(autoscaling: autoscaling, replicas: replicas,
                                                                       decided: decided, previous: previous)) == expected)
    }

    static func queue(min: Int = 1, max: Int = 3, downWindow: Int = 0) -> AutoscalingSpec {
        var spec = AutoscalingSpec(minReplicas: min, maxReplicas: max, metrics: [MetricSpec(type: .queueLength, targetPerReplica: 2)],
                                   behavior: ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: downWindow)))
        spec.applyDefaults()
        return spec
    }

    static func evaluate(_ spec: AutoscalingSpec, current: Int, waiting: [Double]) -> ScalingEvaluation {
        var scaler = HorizontalScaler()
        let replicas = waiting.enumerated().map { ReplicaMetrics(name: "r\($0.offset)", isReady: true, waitingRequests: $0.element) }
        return scaler.evaluate(spec: spec, current: current, inputs: AutoscalerInputs(replicas: replicas), now: .now)
    }

    @Test("a change of count is always recorded")
    func changes() throws {
        let evaluation = Self.evaluate(Self.queue(), current: 1, waiting: [6])
        #expect(evaluation.desiredReplicas == 3)
        let decision = try #require(AutoscalerReconciler.decisionWorthRecording(evaluation, spec: Self.queue(), after: nil))
        #expect(decision.fromReplicas == 1 && decision.toReplicas == 3)
    }

    @Test("idle at minReplicas, or inside the tolerance, is not a decision")
    func quiet() {
        let idle = Self.evaluate(Self.queue(), current: 1, waiting: [0])
        #expect(idle.desiredReplicas == 1)
        #expect(AutoscalerReconciler.decisionWorthRecording(idle, spec: Self.queue(), after: nil) == nil)
        let steady = Self.evaluate(Self.queue(), current: 2, waiting: [2, 2.1])
        #expect(steady.rule == .tolerance)
        #expect(AutoscalerReconciler.decisionWorthRecording(steady, spec: Self.queue(), after: nil) == nil)
    }

    @Test("a rule holding the count against the metrics is recorded once per (from, to, rule)")
    func refusals() throws {
        // Wants 5 but capped at maxReplicas 3.
        let capped = Self.evaluate(Self.queue(), current: 3, waiting: [3, 3, 4])
        #expect(capped.desiredReplicas == 3 && capped.rule == .maxReplicas)
        let first = try #require(AutoscalerReconciler.decisionWorthRecording(capped, spec: Self.queue(), after: nil))
        #expect(first.reason == "MaxReplicas")
        #expect(AutoscalerReconciler.decisionWorthRecording(capped, spec: Self.queue(), after: first) == nil)
        // Wants 1 but the scale-down window holds 3 (a new scaler remembers the current count).
        let held = Self.evaluate(Self.queue(downWindow: 300), current: 3, waiting: [0, 0, 0])
        #expect(held.desiredReplicas == 3 && held.rule == .scaleDownStabilized)
        let holding = try #require(AutoscalerReconciler.decisionWorthRecording(held, spec: Self.queue(downWindow: 300), after: first))
        #expect(holding.reason == "ScaleDownStabilized")
    }
}
