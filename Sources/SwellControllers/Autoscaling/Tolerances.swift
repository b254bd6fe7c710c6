import SwellAPI

/// How far the usage ratio (current / target) may drift from 1 before a metric proposes a new
/// count, per direction, as HPA's configurable tolerances: inside `[1 - scaleDown, 1 + scaleUp]`
/// the count stays.
public struct Tolerances: Sendable, Hashable {
    public var scaleUp: Double
    public var scaleDown: Double

    public init(scaleUp: Double, scaleDown: Double) {
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
    }

    /// `behavior.scaleUp.tolerance` / `behavior.scaleDown.tolerance`, each falling back to
    /// `tolerance` and then to 0.1.
    public init(spec: AutoscalingSpec) {
        let overall = spec.tolerance ?? AutoscalingSpec.defaultTolerance
        scaleUp = spec.behavior?.scaleUp?.tolerance ?? overall
        scaleDown = spec.behavior?.scaleDown?.tolerance ?? overall
    }

    public func contains(_ ratio: Double) -> Bool {
        1 - scaleDown <= ratio && ratio <= 1 + scaleUp
    }
}
