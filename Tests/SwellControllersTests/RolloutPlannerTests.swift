import SwellAPI
import Testing
@testable import SwellControllers

@Suite("Rollout planner")
struct RolloutPlannerTests {
    /// `spec` lists replicas as "<name>:<c|o>:<state>", c = current template, o = old.
    static func replicas(_ spec: String) -> [ReplicaSnapshot] {
        spec.split(separator: " ").enumerated().map { index, item in
            let parts = item.split(separator: ":").map(String.init)
            let state: ReplicaSnapshot.State = switch parts[2] {
            case "ready": .ready
            case "starting": .starting
            case "pending": .pending
            case "unscheduled": .unscheduled
            default: .failed
            }
            return ReplicaSnapshot(name: parts[0], isCurrent: parts[1] == "c", state: state, age: Int64(index))
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var desired: Int
        var surge: IntOrPercent = .count(1)
        var unavailable: IntOrPercent = .count(0)
        var replicas: String
        var create: Int
        var delete: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "scale from zero", desired: 3, replicas: "", create: 3, delete: []),
        Case(name: "steady state", desired: 2, replicas: "a:c:ready b:c:ready", create: 0, delete: []),
        Case(name: "scale up creates the difference", desired: 3, replicas: "a:c:ready", create: 2, delete: []),
        Case(name: "scale down removes the least useful, newest first", desired: 1,
             replicas: "a:c:ready b:c:ready c:c:starting d:c:failed", create: 0, delete: ["d", "c", "b"]),
        Case(name: "scale to zero removes everything", desired: 0, replicas: "a:c:ready b:c:ready", create: 0, delete: ["b", "a"]),
        Case(name: "rollout starts with a surge replica and keeps the old one", desired: 1,
             replicas: "a:o:ready", create: 1, delete: []),
        Case(name: "the old replica stays while the new one starts", desired: 1,
             replicas: "a:o:ready b:c:starting", create: 0, delete: []),
        Case(name: "the old replica goes once the new one is ready", desired: 1,
             replicas: "a:o:ready b:c:ready", create: 0, delete: ["a"]),
        Case(name: "surge of one over three replicas replaces one at a time", desired: 3,
             replicas: "a:o:ready b:o:ready c:o:ready", create: 1, delete: []),
        Case(name: "one new ready: one old goes, and the next new one can start", desired: 3,
             replicas: "a:o:ready b:o:ready c:o:ready d:c:ready", create: 0, delete: ["c"]),
        Case(name: "maxUnavailable 1 without surge removes an old one first", desired: 2, surge: .count(0), unavailable: .count(1),
             replicas: "a:o:ready b:o:ready", create: 0, delete: ["b"]),
        Case(name: "maxUnavailable 1 without surge then replaces it", desired: 2, surge: .count(0), unavailable: .count(1),
             replicas: "a:o:ready", create: 1, delete: []),
        Case(name: "old replicas that are not ready go at once", desired: 2,
             replicas: "a:o:failed b:o:starting c:o:ready", create: 0, delete: ["a", "b"]),
        Case(name: "percentages: 50% surge of 4 is 2", desired: 4, surge: .percent(50), unavailable: .percent(0),
             replicas: "a:o:ready b:o:ready c:o:ready d:o:ready", create: 2, delete: []),
        Case(name: "surge and unavailable both rounding to zero still progress", desired: 1, surge: .percent(0), unavailable: .percent(10),
             replicas: "a:o:ready", create: 1, delete: []),
    ]

    @Test(arguments: cases)
    func plan(_ item: Case) {
        let plan = RolloutPlanner.plan(desired: item.desired,
                                       rollout: RolloutSpec(maxSurge: item.surge, maxUnavailable: item.unavailable),
                                       replicas: Self.replicas(item.replicas))
        #expect(plan.create == item.create)
        #expect(plan.delete == item.delete)
    }

    @Test("a simulated rollout never drops below desired - maxUnavailable ready replicas and ends on the new template",
          arguments: [(1, 1, 0), (3, 1, 0), (3, 0, 1), (4, 2, 1), (5, 1, 2)])
    func simulatedRollout(desired: Int, surge: Int, unavailable: Int) {
        var replicas = (0..<desired).map { ReplicaSnapshot(name: "old\($0)", isCurrent: false, state: .ready, age: Int64($0)) }
        let rollout = RolloutSpec(maxSurge: .count(surge), maxUnavailable: .count(unavailable))
        var next = 100
        for _ in 0..<100 {
            let plan = RolloutPlanner.plan(desired: desired, rollout: rollout, replicas: replicas)
            replicas.removeAll { plan.delete.contains($0.name) }
            #expect(replicas.filter(\.isReady).count >= desired - unavailable)
            for _ in 0..<plan.create {
                replicas.append(ReplicaSnapshot(name: "new\(next)", isCurrent: true, state: .starting, age: Int64(next)))
                next += 1
            }
            #expect(replicas.count <= desired + max(surge, unavailable == 0 ? 1 : 0))
            // The agent makes one starting replica ready per step.
            if let index = replicas.firstIndex(where: { $0.state == .starting }) { replicas[index].state = .ready }
            if plan.create == 0, plan.delete.isEmpty, replicas.allSatisfy({ $0.isCurrent && $0.isReady }) { break }
        }
        #expect(replicas.count == desired)
        #expect(replicas.allSatisfy { $0.isCurrent && $0.isReady })
    }

    struct RemovalCase: Sendable, CustomTestStringConvertible {
        var name: String
        /// (name, state, age, in-flight, cache value)
        var replicas: [(String, ReplicaSnapshot.State, Int64, Double?, Double?)]
        var order: [String]
        var testDescription: String { name }
    }

    static let removalCases: [RemovalCase] = [
        RemovalCase(name: "not Ready first, however idle the Ready ones",
                    replicas: [("idle", .ready, 1, 0, 0), ("starting", .starting, 2, nil, nil)], order: ["starting", "idle"]),
        RemovalCase(name: "then the fewest in-flight requests",
                    replicas: [("a", .ready, 1, 3, 0), ("b", .ready, 2, 1, 0), ("c", .ready, 3, 2, 0)], order: ["b", "c", "a"]),
        RemovalCase(name: "then the least valuable prefix cache",
                    replicas: [("warm", .ready, 1, 1, 500), ("cold", .ready, 2, 1, 100)], order: ["cold", "warm"]),
        RemovalCase(name: "then the newest",
                    replicas: [("old", .ready, 1, 1, 100), ("new", .ready, 2, 1, 100)], order: ["new", "old"]),
        RemovalCase(name: "a replica known to be idle goes before one whose load is unknown",
                    replicas: [("unknown", .ready, 2, nil, nil), ("known", .ready, 1, 4, 9)], order: ["known", "unknown"]),
        RemovalCase(name: "no load figures at all: by age, newest first",
                    replicas: [("a", .ready, 1, nil, nil), ("c", .ready, 3, nil, nil), ("b", .ready, 2, nil, nil)], order: ["c", "b", "a"]),
    ]

    @Test(arguments: removalCases)
    func removalOrder(_ item: RemovalCase) {
        let snapshots = item.replicas.map {
            ReplicaSnapshot(name: $0.0, isCurrent: true, state: $0.1, age: $0.2, inFlightRequests: $0.3, prefixCacheValue: $0.4)
        }
        #expect(RolloutPlanner.removalOrder(snapshots).map(\.name) == item.order)
        // And a scale-down to one removes them in that order.
        #expect(RolloutPlanner.plan(desired: 1, rollout: nil, replicas: snapshots).delete == Array(item.order.dropLast()))
    }
}
