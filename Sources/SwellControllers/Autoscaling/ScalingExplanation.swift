import Foundation
import SwellAPI

/// The words of an evaluation: one clause per metric with its formula, then the rule that
/// limited the result and what the policy of the direction allows.
enum ScalingExplanation {
    static func metric(_ proposal: MetricProposal, tolerances: Tolerances) -> String {
        let name = proposal.type.rawValue
        let target = targetText(proposal)
        guard let current = proposal.current, let proposed = proposal.proposedReplicas else {
            if proposal.reporting == 0, proposal.missing == 0 {
                return "\(name): no ready replica reports it, target \(target)"
            }
            return "\(name): no data from \(proposal.missing) ready replica(s), target \(target)"
        }
        let observed: String
        switch proposal.type {
        case .queueLength:
            let total = number(proposal.totalWaiting ?? 0)
            let router = (proposal.routerQueue ?? 0) > 0 ? " (\(number(proposal.routerQueue ?? 0)) in the router)" : ""
            observed = proposal.basis == .demandWithoutReadyReplicas
                ? "QueueLength \(total) waiting\(router) with no ready replica"
                : "QueueLength \(total) waiting\(router) across \(replicas(proposal.reporting, "ready replica"))"
        case .cpu:
            observed = "CPU \(number(current))% average across \(replicas(proposal.reporting, "ready replica"))"
        case .kvCacheUsage:
            observed = "KVCacheUsage \(number(current)) average across \(replicas(proposal.reporting, "ready replica"))"
        }
        var notes: [String] = []
        if proposal.counted != proposal.reporting {
            if proposal.missing > 0 {
                notes.append("\(replicas(proposal.missing, "ready replica")) without data counted as "
                    + (current < proposal.target ? fallbackText(proposal) : "0"))
            }
            if proposal.counted > proposal.reporting + proposal.missing {
                notes.append("\(replicas(proposal.notReady, "replica")) not ready counted as 0")
            }
        }
        let noted = notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))"
        let formulaCurrent = proposal.adjustedCurrent ?? current
        switch proposal.basis {
        case .scaled:
            return "\(observed), target \(target)\(noted) → ceil(\(proposal.counted)×\(number(formulaCurrent))/\(number(proposal.target)))=\(proposed)"
        case .withinTolerance:
            let ratio = formulaCurrent / proposal.target
            let tolerance = ratio >= 1 ? tolerances.scaleUp : tolerances.scaleDown
            return "\(observed), target \(target)\(noted) → \(number(formulaCurrent)) is within \(number(tolerance * 100))% of the target, stays \(proposed)"
        case .directionChange:
            return "\(observed), target \(target)\(noted) → counting them would reverse the direction, stays \(proposed)"
        case .demandWithoutReadyReplicas:
            return "\(observed), target \(target) → ceil(\(number(proposal.totalWaiting ?? 0))/\(number(proposal.target)))=\(proposed)"
        case .noData:
            return "\(observed), target \(target)"
        }
    }

    static func policy(_ policy: ScalingPolicy) -> String {
        "\(policy.type.rawValue) \(policy.value)/\(policy.periodSeconds)s"
    }

    static func targetText(_ proposal: MetricProposal) -> String {
        switch proposal.type {
        case .queueLength: "\(number(proposal.target)) per replica"
        case .cpu: "\(number(proposal.target))%"
        case .kvCacheUsage: number(proposal.target)
        }
    }

    static func fallbackText(_ proposal: MetricProposal) -> String {
        switch proposal.type {
        case .cpu: "\(number(max(100, proposal.target)))%"
        case .queueLength, .kvCacheUsage: "the target"
        }
    }

    static func replicas(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)\(count == 1 ? "" : "s")"
    }

    static func seconds(_ duration: Duration) -> String {
        number(duration.inSeconds)
    }

    /// At most two decimals, none when whole: 6, 4.5, 0.83.
    static func number(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() && abs(rounded) < 1e15 { return String(Int(rounded)) }
        var text = String(format: "%.2f", rounded)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }
}
