import SwellAPI
import Testing
@testable import SwellRouter

@Suite("Replica picker")
struct ReplicaPickerTests {
    typealias Candidate = ReplicaPicker.Candidate

    static func candidates(_ loads: [String: Int], limit: Int = 8) -> [Candidate] {
        loads.map { Candidate(name: $0.key, inFlight: $0.value, limit: limit) }
    }

    @Test("round-robin cycles through the replicas with room, in name order")
    func roundRobin() {
        let replicas = Self.candidates(["b": 0, "a": 0, "c": 8])
        let picks = (0..<4).map { turn in
            ReplicaPicker.choose(policy: .roundRobin, candidates: replicas, key: nil, loadFactor: 1.25, turn: turn)?.name
        }
        #expect(picks == ["a", "b", "a", "b"]) // c is full
    }

    @Test("least-outstanding takes the replica with the fewest in flight", arguments: [
        (["a": 3, "b": 1, "c": 2], "b"),
        (["a": 0, "b": 5, "c": 0], "a"), // a tie is broken by the turn: turn 0 → first by name
        (["a": 8, "b": 7], "b"),
    ])
    func leastOutstanding(loads: [String: Int], expected: String) {
        #expect(ReplicaPicker.choose(policy: .leastOutstanding, candidates: Self.candidates(loads), key: nil,
                                     loadFactor: 1.25, turn: 0)?.name == expected)
    }

    @Test("nothing is chosen when every replica is at its limit, or there are none")
    func noRoom() {
        for policy in [RoutingSpec.Policy.roundRobin, .leastOutstanding, .prefixAffinity] {
            #expect(ReplicaPicker.choose(policy: policy, candidates: Self.candidates(["a": 2, "b": 2], limit: 2), key: 7,
                                         loadFactor: 1.25, turn: 0) == nil)
            #expect(ReplicaPicker.choose(policy: policy, candidates: [], key: 7, loadFactor: 1.25, turn: 0) == nil)
        }
    }

    @Test("prefix-affinity: one key always maps to the same replica while loads are even")
    func sameKeySameReplica() throws {
        let replicas = Self.candidates(["r1": 0, "r2": 0, "r3": 0, "r4": 0])
        let key = try #require(AffinityKey.hash("system\u{1F}You are a helpful assistant.", prefixBytes: 4096))
        let first = ReplicaPicker.choose(policy: .prefixAffinity, candidates: replicas, key: key, loadFactor: 1.25, turn: 0)
        #expect(first?.reason == .affinityHit)
        for turn in 1..<20 {
            #expect(ReplicaPicker.choose(policy: .prefixAffinity, candidates: replicas, key: key, loadFactor: 1.25, turn: turn) == first)
        }
    }

    @Test("prefix-affinity spreads different keys over every replica, none with more than twice its share")
    func differentKeysSpread() {
        let names = ["r1", "r2", "r3", "r4"]
        var counts: [String: Int] = [:]
        for index in 0..<400 {
            let key = AffinityKey.hash("system prompt number \(index)", prefixBytes: 4096)
            let choice = ReplicaPicker.choose(policy: .prefixAffinity, candidates: Self.candidates(Dictionary(uniqueKeysWithValues: names.map { ($0, 0) })),
                                              key: key, loadFactor: 1.25, turn: index)
            counts[choice?.name ?? "none", default: 0] += 1
        }
        #expect(Set(counts.keys) == Set(names))
        for name in names { #expect((50...200).contains(counts[name] ?? 0), "\(counts)") }
    }

    @Test("prefix-affinity: removing a replica moves only the keys it ranked first")
    func minimalDisruption() {
        let all = Self.candidates(["r1": 0, "r2": 0, "r3": 0])
        let fewer = Self.candidates(["r1": 0, "r2": 0])
        for index in 0..<200 {
            let key = AffinityKey.hash("conversation \(index)", prefixBytes: 4096)
            let before = ReplicaPicker.choose(policy: .prefixAffinity, candidates: all, key: key, loadFactor: 1.25, turn: 0)?.name
            let after = ReplicaPicker.choose(policy: .prefixAffinity, candidates: fewer, key: key, loadFactor: 1.25, turn: 0)?.name
            if before != "r3" { #expect(after == before) }
        }
    }

    @Test("bounded load: the preferred replica over ceil(c × (in flight + 1) / n) spills to the next in its ranking")
    func boundedLoadFallback() throws {
        let key = try #require(AffinityKey.hash("shared system prompt", prefixBytes: 4096))
        let idle = Self.candidates(["r1": 0, "r2": 0, "r3": 0])
        let preferred = try #require(ReplicaPicker.choose(policy: .prefixAffinity, candidates: idle, key: key, loadFactor: 1.25, turn: 0))
        // 4 in flight on the preferred one, 0 elsewhere: bound = ceil(1.25 × 5 / 3) = 3.
        var loads = ["r1": 0, "r2": 0, "r3": 0]
        loads[preferred.name] = 4
        #expect(ReplicaPicker.loadBound(candidates: Self.candidates(loads), loadFactor: 1.25) == 3)
        let spilled = try #require(ReplicaPicker.choose(policy: .prefixAffinity, candidates: Self.candidates(loads), key: key,
                                                        loadFactor: 1.25, turn: 0))
        #expect(spilled.name != preferred.name)
        #expect(spilled.reason == .fallback)
        // The spill target is stable too: the same key spills to the same second choice.
        #expect(ReplicaPicker.choose(policy: .prefixAffinity, candidates: Self.candidates(loads), key: key, loadFactor: 1.25, turn: 9) == spilled)
        // Under the bound it stays home: 1 in flight, c = 2 → bound ceil(2 × 2 / 3) = 2.
        loads[preferred.name] = 1
        #expect(ReplicaPicker.choose(policy: .prefixAffinity, candidates: Self.candidates(loads), key: key, loadFactor: 2, turn: 0)
                == preferred)
    }

    @Test("prefix-affinity: a replica still starting answers gives way to one under the bound that starts fewer")
    func fewestStartingFirst() throws {
        let key = try #require(AffinityKey.hash("conversation opening", prefixBytes: 4096))
        let idle = Self.candidates(["r1": 0, "r2": 0])
        let preferred = try #require(ReplicaPicker.choose(policy: .prefixAffinity, candidates: idle, key: key, loadFactor: 1.25, turn: 0))
        let other = preferred.name == "r1" ? "r2" : "r1"
        func choice(_ loads: [String: (inFlight: Int, starting: Int)]) -> ReplicaPicker.Choice? {
            let candidates = loads.map { Candidate(name: $0.key, inFlight: $0.value.inFlight, limit: 8, starting: $0.value.starting) }
            return ReplicaPicker.choose(policy: .prefixAffinity, candidates: candidates, key: key, loadFactor: 1.25, turn: 0)
        }
        // The preferred replica computes a prompt, the other only decodes: the other starts it sooner.
        #expect(choice([preferred.name: (3, 1), other: (4, 0)]) == .init(name: other, reason: .fallback))
        // Both busy starting, or neither: the key decides.
        #expect(choice([preferred.name: (3, 1), other: (4, 1)]) == preferred)
        #expect(choice([preferred.name: (3, 0), other: (3, 0)]) == preferred)
        // The other starts fewer but is over the bound (ceil(1.25 × 8 / 2) = 5): affinity stays.
        #expect(choice([preferred.name: (2, 2), other: (5, 0)]) == preferred)
    }

    @Test("a request without an affinity key goes to the least loaded replica")
    func noKey() {
        let choice = ReplicaPicker.choose(policy: .prefixAffinity, candidates: Self.candidates(["a": 2, "b": 0]), key: nil,
                                          loadFactor: 1.25, turn: 0)
        #expect(choice == ReplicaPicker.Choice(name: "b", reason: .noKey))
    }
}
