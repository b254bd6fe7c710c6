import SwellAPI
import Testing
@testable import SwellControllers

/// The number cases of Kubernetes' horizontal_test.go behaviour tests (TestScalingWithRules,
/// TestNormalizeDesiredReplicasWithBehavior), ported as numbers.
@Suite("Scaling behaviour: stabilization windows and policies")
struct ScalingStabilizerTests {
    static let origin = ContinuousClock.now

    /// `rules(pods: 4, podsPeriod: 15, percent: 100, percentPeriod: 15)`, as horizontal_test.go's
    /// generateScalingRules; zero leaves a policy out.
    static func rules(pods: Int = 0, podsPeriod: Int = 0, percent: Int = 0, percentPeriod: Int = 0,
                      window: Int? = nil) -> ScalingRules {
        var policies: [ScalingPolicy] = []
        if pods != 0 { policies.append(ScalingPolicy(type: .pods, value: pods, periodSeconds: podsPeriod)) }
        if percent != 0 { policies.append(ScalingPolicy(type: .percent, value: percent, periodSeconds: percentPeriod)) }
        return ScalingRules(stabilizationWindowSeconds: window, selectPolicy: .max, policies: policies)
    }

    /// Events spread over the last `period` seconds as generateEventsUniformDistribution does:
    /// each in the middle of its segment, the first the oldest.
    static func events(_ changes: [Int], over period: Int) -> [ScalingStabilizer.ScaleEvent] {
        let segment = Double(period) / Double(changes.count)
        return changes.enumerated().map { index, change in
            let age = Double(period) - segment * Double(index + 1) + segment / 2
            return ScalingStabilizer.ScaleEvent(change: change, at: origin - .milliseconds(Int(age * 1000)))
        }
    }

    struct RateCase: Sendable, CustomTestStringConvertible {
        var name: String
        var current: Int
        var proposal: Int
        var min: Int
        var max: Int
        var up: ScalingRules? = nil
        var down: ScalingRules? = nil
        var upEvents: [Int] = []
        var downEvents: [Int] = []
        var expected: Int
        var rule: ScalingRule?
        var testDescription: String { name }
    }

    static let rateCases: [RateCase] = [
        RateCase(name: "prenormalized desired replicas within range", current: 5, proposal: 7, min: 3, max: 8, expected: 7, rule: nil),
        RateCase(name: "prenormalized desired replicas < minReplicas", current: 3, proposal: 1, min: 2, max: 8, expected: 2, rule: .minReplicas),
        RateCase(name: "desired within range when minReplicas is 0", current: 1, proposal: 0, min: 0, max: 10, expected: 0, rule: nil),
        RateCase(name: "maxReplicas is the limit because maxReplicas < scaleUpLimit", current: 20, proposal: 1000, min: 1, max: 10,
                 expected: 10, rule: .maxReplicas),
        RateCase(name: "desired replica count is more than the maximum replica count", current: 100, proposal: 1000, min: 100,
                 max: 150, expected: 150, rule: .maxReplicas),
        RateCase(name: "scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", current: 3,
                 proposal: 1000, min: 1, max: 2000, up: rules(percent: 1, percentPeriod: 60), expected: 4, rule: .scaleUpPolicy),
        RateCase(name: "scaleUp with default behavior", current: 10, proposal: 50, min: 1, max: 1000, expected: 20, rule: .scaleUpPolicy),
        RateCase(name: "scaleUp with pods policy larger than percent policy", current: 10, proposal: 500, min: 1, max: 1000,
                 up: rules(pods: 100, podsPeriod: 60, percent: 100, percentPeriod: 60), expected: 110, rule: .scaleUpPolicy),
        RateCase(name: "scaleUp with percent policy larger than pods policy", current: 10, proposal: 500, min: 1, max: 1000,
                 up: rules(pods: 2, podsPeriod: 60, percent: 100, percentPeriod: 60), expected: 20, rule: .scaleUpPolicy),
        RateCase(name: "scaleUp with spec MaxReplicas limitation with large pod policy", current: 10, proposal: 50, min: 1,
                 max: 1000, up: rules(pods: 100, podsPeriod: 60), expected: 50, rule: nil),
        RateCase(name: "scaleUp with pod policy limitation", current: 10, proposal: 50, min: 1, max: 1000,
                 up: rules(pods: 30, podsPeriod: 60), expected: 40, rule: .scaleUpPolicy),
        RateCase(name: "scaleUp with percent policy limitation", current: 10, proposal: 50, min: 1, max: 1000,
                 up: rules(percent: 200, percentPeriod: 60), expected: 30, rule: .scaleUpPolicy),
        RateCase(name: "scaleDown with percent policy larger than pod policy", current: 100, proposal: 2, min: 1, max: 1000,
                 down: rules(pods: 20, podsPeriod: 60, percent: 1, percentPeriod: 60, window: 0), expected: 80, rule: .scaleDownPolicy),
        RateCase(name: "scaleDown with pod policy larger than percent policy", current: 100, proposal: 2, min: 1, max: 1000,
                 down: rules(pods: 2, podsPeriod: 60, percent: 1, percentPeriod: 60, window: 0), expected: 98, rule: .scaleDownPolicy),
        RateCase(name: "scaleDown with spec MinReplicas limitation with large pod policy", current: 10, proposal: 0, min: 1,
                 max: 1000, down: rules(pods: 100, podsPeriod: 60, window: 0), expected: 1, rule: .minReplicas),
        RateCase(name: "scaleDown with spec MinReplicas limitation with large percent policy", current: 10, proposal: 2, min: 5,
                 max: 1000, down: rules(percent: 100, percentPeriod: 60, window: 0), expected: 5, rule: .minReplicas),
        RateCase(name: "scaleDown with pod policy limitation", current: 10, proposal: 2, min: 1, max: 1000,
                 down: rules(pods: 5, podsPeriod: 60, window: 0), expected: 5, rule: .scaleDownPolicy),
        RateCase(name: "scaleDown with percent policy limitation", current: 10, proposal: 5, min: 1, max: 1000,
                 down: rules(percent: 50, percentPeriod: 60, window: 0), expected: 5, rule: nil),
        RateCase(name: "scaleUp with spec MaxReplicas limitation with large pod policy and events", current: 100, proposal: 500,
                 min: 1, max: 200, up: rules(pods: 300, podsPeriod: 60), upEvents: [1, 5, 9], expected: 200, rule: .maxReplicas),
        RateCase(name: "scaleUp with spec MaxReplicas limitation with large percent policy and events", current: 100,
                 proposal: 500, min: 1, max: 200, up: rules(percent: 10000, percentPeriod: 60), upEvents: [1, 5, 9], expected: 200,
                 rule: .maxReplicas),
        RateCase(name: "scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events",
                 current: 100, proposal: 500, min: 1, max: 1000, up: rules(pods: 5, podsPeriod: 120), upEvents: [1, 5, 9],
                 expected: 100, rule: .scaleUpPolicy),
        RateCase(name: "scaleUp with pod policy and previous scale up events", current: 100, proposal: 500, min: 1, max: 1000,
                 up: rules(pods: 150, podsPeriod: 120), upEvents: [1, 5, 9], expected: 235, rule: .scaleUpPolicy),
        RateCase(name: "scaleUp with percent policy and previous scale up events", current: 100, proposal: 500, min: 1,
                 max: 1000, up: rules(percent: 200, percentPeriod: 120), upEvents: [1, 5, 9], expected: 255, rule: .scaleUpPolicy),
        RateCase(name: "scaleUp with percent policy and previous scale up and down events", current: 6, proposal: 24, min: 1,
                 max: 1000, up: rules(percent: 300, percentPeriod: 300), upEvents: [4], downEvents: [2], expected: 16,
                 rule: .scaleUpPolicy),
        RateCase(name: "scaleDown with default policy and previous events", current: 10, proposal: 5, min: 1, max: 1000,
                 down: ScalingRules(stabilizationWindowSeconds: 0), downEvents: [1, 5, 9], expected: 5, rule: nil),
        RateCase(name: "scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", current: 100,
                 proposal: 0, min: 1, max: 1000, down: rules(pods: 115, podsPeriod: 120, window: 0), downEvents: [1, 5, 9],
                 expected: 1, rule: .minReplicas),
        RateCase(name: "scaleDown with spec MinReplicas limitation with large pod policy and previous events", current: 100,
                 proposal: 0, min: 5, max: 1000, down: rules(pods: 130, podsPeriod: 120, window: 0), downEvents: [1, 5, 9],
                 expected: 5, rule: .minReplicas),
        RateCase(name: "scaleDown with spec MinReplicas limitation with large percent policy and previous events", current: 100,
                 proposal: 2, min: 5, max: 1000, down: rules(percent: 100, percentPeriod: 120, window: 0), downEvents: [1, 5, 9],
                 expected: 5, rule: .minReplicas),
        RateCase(name: "scaleDown with pod policy limitation and previous events", current: 100, proposal: 2, min: 1, max: 1000,
                 down: rules(pods: 5, podsPeriod: 120, window: 0), downEvents: [1, 5, 9], expected: 100, rule: .scaleDownPolicy),
        RateCase(name: "scaleDown with percent policy limitation and previous events", current: 100, proposal: 0, min: 1,
                 max: 1000, down: rules(percent: 50, percentPeriod: 120, window: 0), downEvents: [2, 4, 6], expected: 56,
                 rule: .scaleDownPolicy),
        RateCase(name: "scaleDown with percent policy and previous scale up and down events", current: 10, proposal: 1, min: 1,
                 max: 1000, down: rules(percent: 50, percentPeriod: 180, window: 0), upEvents: [2], downEvents: [4], expected: 6,
                 rule: .scaleDownPolicy),
        RateCase(name: "scaleDown with previous events preventing further scale down", current: 100, proposal: 0, min: 1,
                 max: 1000, down: rules(percent: 10, percentPeriod: 120, window: 0), downEvents: [10, 10, 10], expected: 100,
                 rule: .scaleDownPolicy),
        RateCase(name: "scaleDown with with previous events still allowing more scale down", current: 10, proposal: 5, min: 1,
                 max: 1000, down: rules(percent: 1000, percentPeriod: 120, window: 0), downEvents: [10, 10, 10], expected: 5,
                 rule: nil),
        RateCase(name: "check 'outdated' flag for events for one behavior for up", current: 100, proposal: 200, min: 1, max: 1000,
                 up: rules(pods: 1000, podsPeriod: 60), upEvents: [8, 12, 9, 11], expected: 200, rule: nil),
        RateCase(name: "check that events were marked 'outdated' for two different policies in the behavior for up",
                 current: 100, proposal: 200, min: 1, max: 1000, up: rules(pods: 1000, podsPeriod: 30, percent: 100, percentPeriod: 60),
                 upEvents: [8, 12, 9, 11], expected: 200, rule: nil),
        RateCase(name: "check that events were not marked 'outdated' for two different policies in the behavior for down",
                 current: 100, proposal: 5, min: 1, max: 1000,
                 down: rules(pods: 1000, podsPeriod: 120, percent: 100, percentPeriod: 60, window: 0),
                 downEvents: [8, 12, 9, 11], expected: 5, rule: nil),
        RateCase(name: "disabled scale-up keeps the count", current: 3, proposal: 6, min: 1, max: 10,
                 up: ScalingRules(selectPolicy: .disabled), expected: 3, rule: .disabled),
        RateCase(name: "disabled scale-down keeps the count", current: 6, proposal: 3, min: 1, max: 10,
                 down: ScalingRules(stabilizationWindowSeconds: 0, selectPolicy: .disabled), expected: 6, rule: .disabled),
        RateCase(name: "selectPolicy Min picks the smaller scale-up step", current: 10, proposal: 500, min: 1, max: 1000,
                 up: ScalingRules(selectPolicy: .min, policies: [ScalingPolicy(type: .pods, value: 4, periodSeconds: 15),
                                                                   ScalingPolicy(type: .percent, value: 100, periodSeconds: 15)]),
                 expected: 14, rule: .scaleUpPolicy),
    ]

    @Test(arguments: rateCases)
    func rates(_ item: RateCase) {
        var stabilizer = ScalingStabilizer(recommendations: [], scaleUpEvents: Self.events(item.upEvents, over: 120),
                                           scaleDownEvents: Self.events(item.downEvents, over: 120))
        let spec = AutoscalingSpec(minReplicas: item.min, maxReplicas: item.max, behavior: ScalingBehavior(scaleUp: item.up, scaleDown: item.down))
        let decision = stabilizer.decide(proposal: item.proposal, current: item.current, spec: spec, now: Self.origin)
        #expect(decision.replicas == item.expected)
        #expect(decision.limit == item.rule)
    }

    struct WindowCase: Sendable, CustomTestStringConvertible {
        var name: String
        /// (replicas, seconds ago)
        var history: [(Int, Int)]
        var current: Int
        var proposal: Int
        var upWindow: Int = 0
        var downWindow: Int = 0
        var expected: Int
        var testDescription: String { name }
    }

    static let windowCases: [WindowCase] = [
        WindowCase(name: "empty recommendations for scaling down", history: [], current: 100, proposal: 5, expected: 5),
        WindowCase(name: "simple scale down stabilization", history: [(4, 120), (5, 60)], current: 100, proposal: 3,
                   downWindow: 180, expected: 5),
        WindowCase(name: "simple scale up stabilization", history: [(4, 120), (5, 60)], current: 1, proposal: 7,
                   upWindow: 300, expected: 4),
        WindowCase(name: "no scale down stabilization", history: [(1, 120), (2, 60)], current: 100, proposal: 3,
                   upWindow: 300, expected: 3),
        WindowCase(name: "no scale up stabilization", history: [(4, 120), (5, 60)], current: 1, proposal: 3,
                   downWindow: 300, expected: 3),
        WindowCase(name: "no scale down stabilization, reuse recommendation element", history: [(10, 600), (9, 540)],
                   current: 100, proposal: 3, expected: 3),
        WindowCase(name: "no scale up stabilization, reuse recommendation element", history: [(10, 600), (9, 540)],
                   current: 1, proposal: 100, expected: 100),
        WindowCase(name: "scale down stabilization, reuse one of obsolete recommendation element",
                   history: [(10, 600), (4, 60), (5, 120), (9, 540)], current: 100, proposal: 3, downWindow: 180, expected: 5),
        WindowCase(name: "scale up stabilization, reuse one of obsolete recommendation element",
                   history: [(10, 6000), (6, 60), (5, 120), (9, 180)], current: 1, proposal: 100, upWindow: 300, expected: 5),
        WindowCase(name: "scale up and down stabilization, do not scale up when prenormalized rec goes down",
                   history: [(2, 6000), (3, 180)], current: 2, proposal: 1, upWindow: 300, downWindow: 300, expected: 2),
        WindowCase(name: "scale up and down stabilization, do not scale down when prenormalized rec goes up",
                   history: [(2, 6000), (1, 180)], current: 2, proposal: 3, upWindow: 300, downWindow: 300, expected: 2),
    ]

    @Test(arguments: windowCases)
    func windows(_ item: WindowCase) {
        var stabilizer = ScalingStabilizer(recommendations: item.history.map {
            ScalingStabilizer.Recommendation(replicas: $0.0, at: Self.origin - .seconds($0.1))
        })
        // Policies wide enough never to limit, so the window alone shows.
        let open = [ScalingPolicy(type: .pods, value: 1000, periodSeconds: 1)]
        let spec = AutoscalingSpec(minReplicas: 1, maxReplicas: 1000, behavior: ScalingBehavior(
            scaleUp: ScalingRules(stabilizationWindowSeconds: item.upWindow, policies: open),
            scaleDown: ScalingRules(stabilizationWindowSeconds: item.downWindow, policies: open)))
        let decision = stabilizer.decide(proposal: item.proposal, current: item.current, spec: spec, now: Self.origin)
        #expect(decision.stabilized == item.expected)
        #expect(decision.replicas == item.expected)
        if item.expected != item.proposal {
            #expect(decision.limit == (item.proposal >= item.current ? .scaleUpStabilized : .scaleDownStabilized))
        }
    }

    @Test("a new stabilizer starts from the current count, so it waits a full window before scaling down")
    func seeded() {
        var stabilizer = ScalingStabilizer()
        let spec = AutoscalingSpec(minReplicas: 1, maxReplicas: 5)
        let first = stabilizer.decide(proposal: 1, current: 4, spec: spec, now: Self.origin)
        #expect(first.replicas == 4)
        #expect(first.limit == .scaleDownStabilized)
        #expect(first.window == 300)
        let later = stabilizer.decide(proposal: 1, current: 4, spec: spec, now: Self.origin + .seconds(301))
        #expect(later.replicas == 1)
    }

    @Test("its own decisions become the history: recommendations hold a scale-down, scale events limit the next step")
    func history() {
        var stabilizer = ScalingStabilizer(recommendations: [])
        let spec = AutoscalingSpec(minReplicas: 1, maxReplicas: 20, behavior: ScalingBehavior(
            scaleUp: Self.rules(pods: 2, podsPeriod: 60),
            scaleDown: Self.rules(pods: 10, podsPeriod: 10, window: 30)))
        // Up 2 per 60 s: 2 → 4 now, and no further within the minute.
        #expect(stabilizer.decide(proposal: 10, current: 2, spec: spec, now: Self.origin).replicas == 4)
        #expect(stabilizer.decide(proposal: 10, current: 4, spec: spec, now: Self.origin + .seconds(30)).replicas == 4)
        #expect(stabilizer.decide(proposal: 10, current: 4, spec: spec, now: Self.origin + .seconds(61)).replicas == 6)
        // The recommendations of 10 in the last 30 s keep the count from falling.
        #expect(stabilizer.decide(proposal: 1, current: 6, spec: spec, now: Self.origin + .seconds(70)).replicas == 6)
        #expect(stabilizer.decide(proposal: 1, current: 6, spec: spec, now: Self.origin + .seconds(92)).replicas == 1)
    }

    @Test("in a burst the scale-up window is skipped and nothing scales down; the policies still cap")
    func burst() {
        let spec = AutoscalingSpec(minReplicas: 1, maxReplicas: 20, behavior: ScalingBehavior(
            scaleUp: ScalingRules(stabilizationWindowSeconds: 60, policies: [ScalingPolicy(type: .pods, value: 3, periodSeconds: 60)]),
            scaleDown: ScalingRules(stabilizationWindowSeconds: 0)))
        var normal = ScalingStabilizer(recommendations: [.init(replicas: 2, at: Self.origin - .seconds(10))])
        #expect(normal.decide(proposal: 8, current: 2, spec: spec, now: Self.origin).limit == .scaleUpStabilized)
        var bursting = ScalingStabilizer(recommendations: [.init(replicas: 2, at: Self.origin - .seconds(10))])
        let up = bursting.decide(proposal: 8, current: 2, spec: spec, now: Self.origin, burst: true)
        #expect(up.replicas == 5)
        #expect(up.limit == .scaleUpPolicy)
        let held = bursting.decide(proposal: 1, current: 5, spec: spec, now: Self.origin + .seconds(1), burst: true)
        #expect(held.replicas == 5)
        #expect(held.limit == .burst)
    }
}
