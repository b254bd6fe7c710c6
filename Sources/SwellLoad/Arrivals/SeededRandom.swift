import Foundation

/// SplitMix64: a small, fast generator whose stream is fixed by its seed, so a scenario with a
/// `seed` sends the same requests at the same offsets on every run.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in (0, 1): never 0, so it is safe under `log`.
    public mutating func unit() -> Double {
        (Double(next() >> 11) + 0.5) / Double(1 << 53)
    }

    /// An exponential variate with the given mean.
    public mutating func exponential(mean: Double) -> Double {
        -log(unit()) * mean
    }

    /// A standard normal variate (Box–Muller).
    public mutating func normal() -> Double {
        sqrt(-2 * log(unit())) * cos(2 * Double.pi * unit())
    }

    /// An index drawn with probability proportional to `weights` (which must not all be 0).
    public mutating func index(weightedBy weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var point = unit() * total
        for (index, weight) in weights.enumerated() {
            point -= weight
            if point < 0 { return index }
        }
        return weights.lastIndex(where: { $0 > 0 }) ?? 0
    }

    /// A generator for one named stream derived from this seed, so drawing more prompt lengths
    /// does not move the arrival times.
    public func derived(_ stream: String) -> SeededRandom {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in stream.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return SeededRandom(seed: state ^ hash)
    }
}
