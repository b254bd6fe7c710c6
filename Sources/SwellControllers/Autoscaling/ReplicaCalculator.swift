import SwellAPI

/// What one metric proposes, with the figures that explain it.
public struct MetricProposal: Sendable, Hashable {
    /// How the proposal came about.
    public enum Basis: Sendable, Hashable {
        /// `ceil(counted × current / target)`.
        case scaled
        /// The usage ratio is inside the tolerance: the count stays.
        case withinTolerance
        /// Counting replicas without metrics (or not ready) would reverse the direction the
        /// reporting replicas point to, so the count stays (HPA's rebalancing rule).
        case directionChange
        /// No Ready replica reports, but queued demand proposes a scale-up (or from zero).
        case demandWithoutReadyReplicas
        /// Nothing to go on: the metric proposes nothing.
        case noData
    }

    public var type: MetricSpec.MetricType
    public var target: Double
    /// The average per reporting Ready replica (QueueLength includes the router's queue); with
    /// no Ready replica, the whole queued demand. Nil: no data.
    public var current: Double?
    public var proposedReplicas: Int?
    public var basis: Basis
    /// Ready replicas that reported a value.
    public var reporting: Int
    /// Ready replicas without a value (missing or stale).
    public var missing: Int
    /// Replicas that are not Ready.
    public var notReady: Int
    /// QueueLength only: waiting requests across the reporting replicas plus the router's queue.
    public var totalWaiting: Double?
    /// QueueLength only: the router's share of `totalWaiting`.
    public var routerQueue: Double?
    /// After rebalancing (missing and not-Ready replicas counted as HPA does): the replicas in
    /// the formula and the average over them. Equal to `reporting` / `current` without it.
    public var counted: Int
    public var adjustedCurrent: Double?
}

/// Per-metric replica counts with Kubernetes HPA semantics (replica_calculator.go):
///
/// - `desired = ceil(ready × current / target)`, or the current count while the usage ratio
///   `current / target` is inside the tolerances;
/// - Ready replicas without a value count as using the target (CPU: `max(100%, target)` of the
///   request) when the others point down, and as 0 when they point up, so a missing metric never
///   reads as idle;
/// - replicas that are not Ready are ignored, except on a scale-up, where they count as 0 (they
///   will take load soon);
/// - if that rebalancing flips the direction, or lands inside the tolerance, the count stays.
///
/// QueueLength's current value is `(Σ waiting over Ready replicas + router queue) / Ready
/// replicas`. With no Ready replica reporting, queued demand alone proposes
/// `max(current, ceil(demand / target))` (at least 1: scale from zero); without demand the
/// metric has no data.
public enum ReplicaCalculator {
    /// Proposals above this are capped, so absurd inputs cannot overflow.
    static let ceiling = 1_000_000

    public static func proposal(for metric: MetricSpec, current: Int, replicas: [ReplicaMetrics], routerQueue: Double?,
                                tolerances: Tolerances) -> MetricProposal {
        let target: Double
        let fallback: Double
        let value: KeyPath<ReplicaMetrics, Double?>
        var extra = 0.0
        switch metric.type {
        case .cpu:
            target = Double(metric.targetAverageUtilization ?? 0)
            // A replica we cannot see is assumed at least fully busy, as HPA does for targets over 100%.
            fallback = max(100, target)
            value = \.cpuUtilization
        case .queueLength:
            target = metric.targetPerReplica ?? 0
            fallback = target
            value = \.waitingRequests
            extra = max(0, routerQueue ?? 0)
        case .kvCacheUsage:
            target = metric.targetAverage ?? 0
            fallback = target
            value = \.kvCacheUsage
        }
        let ready = replicas.filter(\.isReady)
        let reported = ready.compactMap { $0[keyPath: value] }.map { max(0, $0) }
        let reporting = reported.count
        var proposal = MetricProposal(
            type: metric.type, target: target, current: nil, proposedReplicas: nil, basis: .noData,
            reporting: reporting, missing: ready.count - reporting, notReady: replicas.count - ready.count,
            totalWaiting: nil, routerQueue: metric.type == .queueLength ? routerQueue : nil, counted: reporting,
            adjustedCurrent: nil)
        guard target > 0 else { return proposal }

        let total = reported.reduce(0, +) + extra
        if metric.type == .queueLength { proposal.totalWaiting = total }
        guard reporting > 0 else {
            // Only the router's queue speaks: it can ask for replicas, never take them away.
            guard metric.type == .queueLength, routerQueue != nil else { return proposal }
            proposal.current = total
            if current == 0 {
                proposal.proposedReplicas = replicasFor(total: total, target: target)
            } else if total > 0 {
                proposal.proposedReplicas = max(current, replicasFor(total: total, target: target))
            } else {
                return proposal
            }
            proposal.basis = .demandWithoutReadyReplicas
            return proposal
        }

        let ratio = total / (Double(reporting) * target)
        proposal.current = total / Double(reporting)
        proposal.adjustedCurrent = proposal.current
        let rebalanceNotReady = proposal.notReady > 0 && ratio > 1
        if !rebalanceNotReady && proposal.missing == 0 {
            if tolerances.contains(ratio) {
                proposal.proposedReplicas = current
                proposal.basis = .withinTolerance
            } else {
                proposal.proposedReplicas = replicasFor(total: total, target: target)
                proposal.basis = .scaled
            }
            return proposal
        }

        var adjustedTotal = total
        var counted = reporting
        // Exactly on target, the missing replicas could tip it either way: leave them out.
        if proposal.missing > 0, ratio != 1 {
            counted += proposal.missing
            if ratio < 1 { adjustedTotal += Double(proposal.missing) * fallback }
        }
        if rebalanceNotReady { counted += proposal.notReady }
        let adjustedRatio = adjustedTotal / (Double(counted) * target)
        proposal.counted = counted
        proposal.adjustedCurrent = adjustedTotal / Double(counted)
        if tolerances.contains(adjustedRatio) {
            proposal.proposedReplicas = current
            proposal.basis = .withinTolerance
            return proposal
        }
        let adjusted = replicasFor(total: adjustedTotal, target: target)
        if (ratio < 1 && adjustedRatio > 1) || (ratio > 1 && adjustedRatio < 1)
            || (adjustedRatio < 1 && adjusted > current) || (adjustedRatio > 1 && adjusted < current) {
            proposal.proposedReplicas = current
            proposal.basis = .directionChange
            return proposal
        }
        proposal.proposedReplicas = adjusted
        proposal.basis = .scaled
        return proposal
    }

    /// `ceil(total / target)`, which is `ceil(n × average / target)` without the rounding error
    /// of forming the ratio first (1.1 × 10 would round up to 12).
    static func replicasFor(total: Double, target: Double) -> Int {
        let exact = total / target
        guard exact.isFinite else { return ceiling }
        return Int(min(Double(ceiling), (exact - 1e-9).rounded(.up)))
    }
}
