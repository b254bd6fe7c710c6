import SwellAPI
import Testing
@testable import SwellControllers

@Suite("Horizontal scaler: the autoscaler's evaluation")
struct HorizontalScalerTests {
    static let origin = ContinuousClock.now

    static func at(_ seconds: Double) -> ContinuousClock.Instant {
        origin + .milliseconds(Int(seconds * 1000))
    }

    static func ready(_ waiting: [Double]) -> [ReplicaMetrics] {
        waiting.enumerated().map { ReplicaMetrics(name: "r\($0.offset)", isReady: true, waitingRequests: $0.element) }
    }

    static func queueSpec(target: Double = 4, min: Int = 1, max: Int = 10, up: ScalingRules? = nil, down: ScalingRules? = nil,
                          scaleToZero: ScaleToZeroSpec? = nil) -> AutoscalingSpec {
        AutoscalingSpec(minReplicas: min, maxReplicas: max, metrics: [MetricSpec(type: .queueLength, targetPerReplica: target)],
                        behavior: ScalingBehavior(scaleUp: up, scaleDown: down), scaleToZero: scaleToZero)
    }

    @Test("the issue's example, word for word")
    func example() {
        var scaler = HorizontalScaler()
        let spec = Self.queueSpec(up: ScalingRules(policies: [ScalingPolicy(type: .percent, value: 100, periodSeconds: 15)]))
        let evaluation = scaler.evaluate(spec: spec, current: 3, inputs: AutoscalerInputs(replicas: Self.ready([6, 6, 6])), now: Self.origin)
        #expect(evaluation.desiredReplicas == 5)
        #expect(evaluation.rule == .desiredWithinRange)
        #expect(evaluation.message
            == "3 → 5: QueueLength 18 waiting across 3 ready replicas, target 4 per replica → ceil(3×6/4)=5; scale-up policy Percent 100/15s allows 6")
        #expect(evaluation.metricValues == [MetricValue(type: .queueLength, current: 6, target: 4, proposedReplicas: 5)])
        let decision = evaluation.decision(at: Timestamp(secondsSince1970: 1_700_000_000))
        #expect(decision.fromReplicas == 3 && decision.toReplicas == 5 && decision.reason == "DesiredWithinRange")
    }

    @Test("a policy that limits is the rule and says what it allows")
    func policyLimit() {
        var scaler = HorizontalScaler()
        let spec = Self.queueSpec(up: ScalingRules(policies: [ScalingPolicy(type: .pods, value: 1, periodSeconds: 60)]))
        let evaluation = scaler.evaluate(spec: spec, current: 2, inputs: AutoscalerInputs(replicas: Self.ready([7, 7])), now: Self.origin)
        #expect(evaluation.desiredReplicas == 3)
        #expect(evaluation.rule == .scaleUpPolicy)
        #expect(evaluation.message.hasSuffix("→ ceil(2×7/4)=4; scale-up policy Pods 1/60s allows 3"))
    }

    @Test("inside the tolerance the count stays and the rule says so")
    func tolerance() {
        var scaler = HorizontalScaler()
        let evaluation = scaler.evaluate(spec: Self.queueSpec(), current: 2, inputs: AutoscalerInputs(replicas: Self.ready([4, 4.2])),
                                         now: Self.origin)
        #expect(evaluation.desiredReplicas == 2)
        #expect(evaluation.rule == .tolerance)
        #expect(evaluation.message.contains("is within 10% of the target, stays 2"))
    }

    @Test("the highest metric wins")
    func maxOverMetrics() {
        var scaler = HorizontalScaler()
        let spec = AutoscalingSpec(minReplicas: 1, maxReplicas: 10, metrics: [
            MetricSpec(type: .cpu, targetAverageUtilization: 50),
            MetricSpec(type: .queueLength, targetPerReplica: 4),
        ])
        let replicas = [ReplicaMetrics(name: "a", isReady: true, cpuUtilization: 100, waitingRequests: 1),
                        ReplicaMetrics(name: "b", isReady: true, cpuUtilization: 100, waitingRequests: 1)]
        let evaluation = scaler.evaluate(spec: spec, current: 2, inputs: AutoscalerInputs(replicas: replicas), now: Self.origin)
        #expect(evaluation.metrics.map(\.proposedReplicas) == [4, 1])
        #expect(evaluation.desiredReplicas == 4)
        #expect(evaluation.message.contains("CPU 100% average across 2 ready replicas, target 50% → ceil(2×100/50)=4"))
    }

    @Test("without data the count stays; with one metric missing it may rise but not fall")
    func missingMetrics() {
        var scaler = HorizontalScaler()
        let cpuOnly = AutoscalingSpec(minReplicas: 1, maxReplicas: 10, metrics: [MetricSpec(type: .cpu, targetAverageUtilization: 50)])
        let blind = scaler.evaluate(spec: cpuOnly, current: 3,
                                    inputs: AutoscalerInputs(replicas: [ReplicaMetrics(name: "a", isReady: true)]), now: Self.origin)
        #expect(blind.desiredReplicas == 3)
        #expect(blind.rule == .metricsUnavailable)

        let spec = AutoscalingSpec(minReplicas: 1, maxReplicas: 10, metrics: [
            MetricSpec(type: .cpu, targetAverageUtilization: 50), MetricSpec(type: .queueLength, targetPerReplica: 4),
        ], behavior: ScalingBehavior(scaleDown: ScalingRules(stabilizationWindowSeconds: 0)))
        var partial = HorizontalScaler()
        let idle = [ReplicaMetrics(name: "a", isReady: true, waitingRequests: 0), ReplicaMetrics(name: "b", isReady: true, waitingRequests: 0)]
        let down = partial.evaluate(spec: spec, current: 2, inputs: AutoscalerInputs(replicas: idle), now: Self.origin)
        #expect(down.desiredReplicas == 2)
        #expect(down.rule == .metricsUnavailable)
        let busy = [ReplicaMetrics(name: "a", isReady: true, waitingRequests: 6), ReplicaMetrics(name: "b", isReady: true, waitingRequests: 6)]
        let up = partial.evaluate(spec: spec, current: 2, inputs: AutoscalerInputs(replicas: busy), now: Self.at(6))
        #expect(up.desiredReplicas == 3)
    }

    @Test("a count outside the bounds is brought inside first")
    func bounds() {
        var scaler = HorizontalScaler()
        let above = scaler.evaluate(spec: Self.queueSpec(min: 1, max: 3), current: 5, inputs: AutoscalerInputs(replicas: Self.ready([9, 9])),
                                    now: Self.origin)
        #expect(above.desiredReplicas == 3)
        #expect(above.rule == .maxReplicas)
        var other = HorizontalScaler()
        let below = other.evaluate(spec: Self.queueSpec(min: 2, max: 3), current: 0, inputs: AutoscalerInputs(replicas: []), now: Self.origin)
        #expect(below.desiredReplicas == 2)
        #expect(below.rule == .minReplicas)
    }

    @Test("the normal path scales on the stable window's mean, so one busy tick under the burst threshold does not scale")
    func stableWindowSmooths() {
        var scaler = HorizontalScaler()
        let spec = Self.queueSpec(min: 1, max: 5)
        for tick in 0..<4 {
            _ = scaler.evaluate(spec: spec, current: 1, inputs: AutoscalerInputs(replicas: Self.ready([2])), now: Self.at(Double(tick)))
        }
        // 7 alone would ask for 2; the mean over 5 s is (2+2+2+2+7)/5 = 3.
        let evaluation = scaler.evaluate(spec: spec, current: 1, inputs: AutoscalerInputs(replicas: Self.ready([7])), now: Self.at(4))
        #expect(evaluation.metrics.first?.current == 3)
        #expect(evaluation.desiredReplicas == 1)
        #expect(!evaluation.isBurst)
    }

    @Test("burst: over 2× the target the short window scales up at once, skipping the scale-up window")
    func burstScalesUpAtOnce() {
        let spec = Self.queueSpec(target: 2, min: 1, max: 4, up: ScalingRules(stabilizationWindowSeconds: 60))
        let calm = AutoscalerInputs(replicas: Self.ready([1]), routerQueue: 0)
        let spike = AutoscalerInputs(replicas: Self.ready([5]), routerQueue: 5)
        var scaler = HorizontalScaler()
        for tick in 0..<5 { _ = scaler.evaluate(spec: spec, current: 1, inputs: calm, now: Self.at(Double(tick))) }
        let evaluation = scaler.evaluate(spec: spec, current: 1, inputs: spike, now: Self.at(5))
        // Short window: 10 per replica → ceil(10/2) = 5, capped by maxReplicas; the stable mean
        // (2.8 waiting) alone would ask for 2.
        #expect(evaluation.isBurst)
        #expect(evaluation.desiredReplicas == 4)
        #expect(evaluation.rule == .maxReplicas)
        #expect(evaluation.message.contains(
            "burst: 10 waiting per ready replica now is over 2× the target → 5, without the scale-up stabilization window"))

        // The same spike without the burst path waits out the 60 s scale-up window.
        var slow = HorizontalScaler(configuration: .init(burstThreshold: 1000))
        for tick in 0..<5 { _ = slow.evaluate(spec: spec, current: 1, inputs: calm, now: Self.at(Double(tick))) }
        let held = slow.evaluate(spec: spec, current: 1, inputs: spike, now: Self.at(5))
        #expect(held.desiredReplicas == 1)
        #expect(held.rule == .scaleUpStabilized)
    }

    @Test("burst: no scale-down until the queue has been calm for the hold time, then the normal path resumes")
    func burstHoldsScaleDown() {
        let spec = Self.queueSpec(target: 2, min: 1, max: 10, down: ScalingRules(stabilizationWindowSeconds: 0))
        var scaler = HorizontalScaler()
        for tick in 0..<4 {
            _ = scaler.evaluate(spec: spec, current: 1, inputs: AutoscalerInputs(replicas: Self.ready([1])), now: Self.at(Double(tick)))
        }
        // Stable mean 2.6 asks for 2; the short window's 9 asks for 5.
        let spike = scaler.evaluate(spec: spec, current: 1, inputs: AutoscalerInputs(replicas: Self.ready([9])), now: Self.at(4))
        #expect(spike.isBurst)
        #expect(spike.desiredReplicas == 5)
        #expect(spike.rule == .burst)
        // The queue empties at 5 s; until 15 s the count holds although the metrics ask for 1.
        let empty = AutoscalerInputs(replicas: Self.ready([0, 0, 0, 0, 0]))
        for second in 5..<15 {
            let evaluation = scaler.evaluate(spec: spec, current: 5, inputs: empty, now: Self.at(Double(second)))
            #expect(evaluation.desiredReplicas == 5, "held at \(second)s")
            #expect(evaluation.isBurst)
            #expect(evaluation.rule == .burst)
        }
        let calm = scaler.evaluate(spec: spec, current: 5, inputs: empty, now: Self.at(15))
        #expect(!calm.isBurst)
        #expect(calm.desiredReplicas == 1)
    }

    @Test("burst: the scale-up policies still cap the step")
    func burstRespectsPolicies() {
        let spec = Self.queueSpec(target: 2, min: 1, max: 10,
                                  up: ScalingRules(policies: [ScalingPolicy(type: .pods, value: 1, periodSeconds: 60)]))
        var scaler = HorizontalScaler()
        let evaluation = scaler.evaluate(spec: spec, current: 1, inputs: AutoscalerInputs(replicas: Self.ready([20])), now: Self.origin)
        #expect(evaluation.isBurst)
        #expect(evaluation.desiredReplicas == 2)
        #expect(evaluation.rule == .scaleUpPolicy)
    }

    @Test("scale to zero after idleSeconds without requests, and back to one on demand")
    func scaleToZeroAndWake() {
        let spec = Self.queueSpec(min: 0, max: 3, scaleToZero: ScaleToZeroSpec(enabled: true, idleSeconds: 60))
        var scaler = HorizontalScaler()
        let lastRequest = Self.at(0)
        let quiet = AutoscalerInputs(replicas: Self.ready([0]), routerQueue: 0, lastRequestAt: lastRequest)
        // Idle but not for long enough: the metrics alone never go below one.
        let early = scaler.evaluate(spec: spec, current: 1, inputs: quiet, now: Self.at(30))
        #expect(early.desiredReplicas == 1)
        let idle = scaler.evaluate(spec: spec, current: 1, inputs: quiet, now: Self.at(60))
        #expect(idle.desiredReplicas == 0)
        #expect(idle.rule == .scaleToZero)
        #expect(idle.message == "1 → 0: no request for 60s and nothing queued (scaleToZero.idleSeconds 60)")
        let still = scaler.evaluate(spec: spec, current: 0, inputs: AutoscalerInputs(replicas: [], routerQueue: 0, lastRequestAt: lastRequest),
                                    now: Self.at(70))
        #expect(still.desiredReplicas == 0)
        #expect(still.rule == .scaleToZero)
        // The router holds a request: one replica at once.
        let woken = scaler.evaluate(spec: spec, current: 0, inputs: AutoscalerInputs(replicas: [], routerQueue: 2, lastRequestAt: lastRequest),
                                    now: Self.at(80))
        #expect(woken.desiredReplicas == 1)
        #expect(woken.rule == .wakeUp)
        #expect(woken.message == "0 → 1: woken from zero: 2 request(s) queued in the router")
    }

    @Test("a fresh request wakes a service at zero even when the router's queue has drained")
    func freshRequestWakes() {
        let spec = Self.queueSpec(min: 0, max: 3, scaleToZero: ScaleToZeroSpec(enabled: true, idleSeconds: 60))
        var scaler = HorizontalScaler()
        let evaluation = scaler.evaluate(spec: spec, current: 0,
                                         inputs: AutoscalerInputs(replicas: [], routerQueue: 0, lastRequestAt: Self.at(99)), now: Self.at(100))
        #expect(evaluation.desiredReplicas == 1)
        #expect(evaluation.rule == .wakeUp)
    }

    @Test("a service that never saw a request waits idleSeconds from when the autoscaler first saw it")
    func neverUsed() {
        let spec = Self.queueSpec(min: 0, max: 3, scaleToZero: ScaleToZeroSpec(enabled: true, idleSeconds: 60))
        var scaler = HorizontalScaler()
        let inputs = AutoscalerInputs(replicas: Self.ready([0]), routerQueue: 0)
        #expect(scaler.evaluate(spec: spec, current: 1, inputs: inputs, now: Self.at(0)).desiredReplicas == 1)
        #expect(scaler.evaluate(spec: spec, current: 1, inputs: inputs, now: Self.at(59)).desiredReplicas == 1)
        #expect(scaler.evaluate(spec: spec, current: 1, inputs: inputs, now: Self.at(60)).desiredReplicas == 0)
    }

    @Test("without scaleToZero enabled nothing goes to zero, however idle")
    func scaleToZeroDisabled() {
        let spec = Self.queueSpec(min: 1, max: 3, down: ScalingRules(stabilizationWindowSeconds: 0))
        var scaler = HorizontalScaler()
        let inputs = AutoscalerInputs(replicas: Self.ready([0, 0]), routerQueue: 0, lastRequestAt: Self.at(0))
        let evaluation = scaler.evaluate(spec: spec, current: 2, inputs: inputs, now: Self.at(10_000))
        #expect(evaluation.desiredReplicas == 1)
        #expect(evaluation.rule == .minReplicas)
    }

    @Test("queued requests keep a service from going to zero")
    func queuedKeepsAlive() {
        let spec = Self.queueSpec(min: 0, max: 3, scaleToZero: ScaleToZeroSpec(enabled: true, idleSeconds: 60))
        var scaler = HorizontalScaler()
        let inputs = AutoscalerInputs(replicas: Self.ready([1]), routerQueue: 0, lastRequestAt: Self.at(0))
        #expect(scaler.evaluate(spec: spec, current: 1, inputs: inputs, now: Self.at(120)).desiredReplicas == 1)
    }

    @Test("a wake-up just after a calm tick sees the queue as it is: the burst path is not diluted by the tick before")
    func wakeUpBetweenTicks() {
        let spec = Self.queueSpec(target: 2, max: 4, up: ScalingRules(stabilizationWindowSeconds: 60))
        var scaler = HorizontalScaler()
        for tick in 0..<5 {
            _ = scaler.evaluate(spec: spec, current: 1, inputs: AutoscalerInputs(replicas: Self.ready([0]), routerQueue: 0),
                                now: Self.at(Double(tick)))
        }
        // 50 ms after the calm tick at 4 s: 7 waiting on one replica is over 2 × 2; averaged with
        // the calm tick it would be 3.5 and wait for the 60 s window.
        let woken = scaler.evaluate(spec: spec, current: 1, inputs: AutoscalerInputs(replicas: Self.ready([0]), routerQueue: 7),
                                    now: Self.at(4.05))
        #expect(woken.isBurst)
        #expect(woken.desiredReplicas == 4)
    }
}
