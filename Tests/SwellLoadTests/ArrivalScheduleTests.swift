import Foundation
import Testing
@testable import SwellLoad

@Suite("Arrival processes")
struct ArrivalScheduleTests {
    static func offsets(_ process: ArrivalProcess, seed: UInt64 = 42) -> [Double] {
        var random = SeededRandom(seed: seed)
        return ArrivalSchedule.offsets(process, random: &random)
    }

    static func count(_ offsets: [Double], in range: Range<Double>) -> Int {
        offsets.filter { range.contains($0) }.count
    }

    @Test("constant: round(rate × duration) requests exactly 1/rate apart, all inside the phase",
          arguments: [(5.0, 60.0, 300), (2.5, 10.0, 25), (0.5, 9.5, 5), (100, 1, 100)])
    func constant(rate: Double, seconds: Double, expected: Int) {
        let offsets = Self.offsets(.constant(rate: rate, seconds: seconds, poisson: false))
        #expect(offsets.count == expected)
        #expect(offsets.allSatisfy { $0 >= 0 && $0 < seconds })
        for (earlier, later) in zip(offsets, offsets.dropFirst()) {
            #expect(abs((later - earlier) - 1 / rate) < 1e-9)
        }
        #expect(abs(offsets[0] - 0.5 / rate) < 1e-9)
    }

    @Test("poisson: count within 4σ of rate × duration, mean gap 1/rate, coefficient of variation near 1")
    func poisson() {
        let rate = 10.0, seconds = 1000.0
        let offsets = Self.offsets(.constant(rate: rate, seconds: seconds, poisson: true))
        let expected = rate * seconds
        #expect(abs(Double(offsets.count) - expected) < 4 * expected.squareRoot())
        let gaps = zip(offsets, offsets.dropFirst()).map { $1 - $0 }
        let mean = gaps.reduce(0, +) / Double(gaps.count)
        let variance = gaps.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(gaps.count)
        #expect(abs(mean - 1 / rate) < 0.005)
        #expect(abs(variance.squareRoot() / mean - 1) < 0.05)
        #expect(offsets == offsets.sorted())
        // Exponential gaps: about e^-1 of them are longer than the mean.
        let long = Double(gaps.filter { $0 > 1 / rate }.count) / Double(gaps.count)
        #expect(abs(long - exp(-1)) < 0.03)
    }

    @Test("the same seed gives the same arrivals; another seed does not")
    func seeded() {
        let process = ArrivalProcess.constant(rate: 3, seconds: 30, poisson: true)
        #expect(Self.offsets(process, seed: 7) == Self.offsets(process, seed: 7))
        #expect(Self.offsets(process, seed: 7) != Self.offsets(process, seed: 8))
    }

    @Test("ramp: the expected total, and three times as many in the last quarter as in the first when ramping 1 → 7")
    func ramp() {
        let offsets = Self.offsets(.ramp(from: 1, to: 7, seconds: 40, poisson: false))
        #expect(offsets.count == 160)  // (1 + 7) / 2 × 40
        let first = Self.count(offsets, in: 0..<10), last = Self.count(offsets, in: 30..<40)
        // Expected: ∫ over the first quarter = 10 × 1.75 = 17.5; over the last = 10 × 6.25 = 62.5.
        #expect(abs(first - 18) <= 1)
        #expect(abs(last - 62) <= 1)
        let gaps = zip(offsets, offsets.dropFirst()).map { $1 - $0 }
        #expect(zip(gaps, gaps.dropFirst()).allSatisfy { $1 <= $0 + 1e-9 }, "gaps shrink as the rate climbs")
    }

    @Test("ramp with poisson: time-rescaled counts per quarter within 4σ of the integral of the rate")
    func poissonRamp() {
        let offsets = Self.offsets(.ramp(from: 2, to: 18, seconds: 400, poisson: true))
        for (quarter, expected) in [(0, 400.0), (1, 800.0), (2, 1200.0), (3, 1600.0)] {
            let count = Double(Self.count(offsets, in: Double(quarter) * 100..<Double(quarter + 1) * 100))
            #expect(abs(count - expected) < 4 * expected.squareRoot(), "quarter \(quarter): \(count) vs \(expected)")
        }
    }

    @Test("spike: three times the base rate inside the spike window and the base rate outside it")
    func spike() {
        let offsets = Self.offsets(.spike(rate: 2, multiplier: 3, start: 20, length: 10, seconds: 60, poisson: false))
        #expect(Self.count(offsets, in: 0..<20) == 40)
        #expect(Self.count(offsets, in: 20..<30) == 60)
        #expect(Self.count(offsets, in: 30..<60) == 60)
        let inside = offsets.filter { $0 > 21 && $0 < 29 }
        for (earlier, later) in zip(inside, inside.dropFirst()) { #expect(abs((later - earlier) - 1.0 / 6) < 1e-9) }
    }

    @Test("steps: each stretch gets its own rate")
    func steps() {
        let offsets = Self.offsets(.steps([RateStep(rate: 1, seconds: 10), RateStep(rate: 0, seconds: 5), RateStep(rate: 4, seconds: 5)],
                                          poisson: false))
        #expect(Self.count(offsets, in: 0..<10) == 10)
        #expect(Self.count(offsets, in: 10..<15) == 0)
        #expect(Self.count(offsets, in: 15..<20) == 20)
        #expect(offsets.count == 30)
    }

    @Test("trace: recorded offsets divided by the speed-up")
    func trace() {
        let rows = [TraceRow(offset: 0, promptTokens: 10, outputTokens: 5), TraceRow(offset: 1.5, promptTokens: 20, outputTokens: 5),
                    TraceRow(offset: 4, promptTokens: 30, outputTokens: 5)]
        #expect(Self.offsets(.trace(rows, speed: 2, source: "t.csv")) == [0, 0.75, 2])
        #expect(ArrivalProcess.trace(rows, speed: 2, source: "t.csv").seconds == 2)
    }

    @Test("rate profile: the inverse of the expected count lands where the count is reached",
          arguments: [0.0, 0.3, 5, 17.5, 49.9])
    func profileInverse(count: Double) throws {
        let profile = try #require(RateProfile(.spike(rate: 1, multiplier: 3, start: 5, length: 10, seconds: 30, poisson: false)))
        let time = try #require(profile.time(reaching: count))
        // Integrate the rate numerically up to `time`.
        let steps = 100_000
        let dt = time / Double(steps)
        let integral = (0..<steps).reduce(0.0) { $0 + profile.rate(at: (Double($1) + 0.5) * dt) * dt }
        #expect(abs(integral - count) < 0.01)
        #expect(profile.time(reaching: 50.5) == nil)
    }
}
