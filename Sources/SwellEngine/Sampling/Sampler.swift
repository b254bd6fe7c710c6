/// How the next token is chosen from logits.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 picks the most likely token (greedy); higher values flatten the distribution.
    public var temperature: Float
    /// Keep only the k most likely tokens (0 = off).
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches p (1 = off).
    public var topP: Float
    /// Drop tokens less likely than minP × the most likely one (0 = off).
    public var minP: Float
    /// Divide positive (multiply negative) logits of recently generated or prompted tokens (1 = off).
    public var repetitionPenalty: Float
    /// How many recent tokens the repetition penalty looks at.
    public var repetitionWindow: Int
    public var seed: UInt64

    public init(temperature: Float = 0, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repetitionPenalty: Float = 1, repetitionWindow: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.seed = seed
    }

    public static let greedy = SamplingParameters()
}

/// Chooses tokens: repetition penalty, then greedy, or top-k → top-p → min-p on the tempered
/// softmax and a draw from a seeded generator (same seed and inputs → same tokens).
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: RandomSource

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        random = RandomSource(seed: parameters.seed)
    }

    public mutating func sample<C: Collection<Float>>(_ logits: C, history: [Int32] = []) -> Int32 where C.Index == Int {
        var values = Array(logits)
        applyRepetitionPenalty(&values, history: history)
        if parameters.temperature <= 0 { return Int32(Self.argmax(values)) }

        let candidates = filteredCandidates(values)
        guard !candidates.isEmpty else { return 0 }
        let final = Self.softmax(candidates.map(\.logit), temperature: parameters.temperature)
        let draw = random.nextUnit()
        var cumulative: Float = 0
        for (index, p) in final.enumerated() {
            cumulative += p
            if draw < cumulative { return candidates[index].id }
        }
        return candidates[candidates.count - 1].id
    }

    /// The tokens left after top-k, then top-p, then min-p, most likely first.
    func filteredCandidates(_ values: [Float]) -> [(id: Int32, logit: Float)] {
        let (kept, maximum, normalizer) = Self.candidates(values, topK: parameters.topK, minP: parameters.minP)
        var candidates = kept
        // Probabilities at temperature 1 over the top-k set (or the whole vocabulary) decide top-p
        // and min-p, as llama.cpp's sampler chain does when temperature comes last.
        var probabilities = candidates.map { Float.exp($0.logit - maximum) / normalizer }
        if parameters.topP < 1 {
            var cumulative: Float = 0
            var keep = candidates.count
            for (index, p) in probabilities.enumerated() {
                cumulative += p
                if cumulative >= parameters.topP {
                    keep = index + 1
                    break
                }
            }
            candidates.removeSubrange(keep...)
            probabilities.removeSubrange(keep...)
        }
        if parameters.minP > 0, let top = probabilities.first {
            let keep = probabilities.prefix { $0 >= parameters.minP * top }.count
            candidates.removeSubrange(max(keep, 1)...)
        }
        return candidates
    }

    /// The tokens that can survive top-k and min-p, most likely first, with the maximum logit and
    /// Σ exp(logit − maximum) over the top-k set (the whole vocabulary without top-k) to turn them
    /// into probabilities. Avoids sorting the vocabulary: top-k keeps a small sorted buffer, and
    /// without top-k, tokens under min-p's cutoff (p/p_max < minP ⟺ logit < max + ln minP) are
    /// dropped before sorting — top-p's cut can only fall inside what min-p keeps, or min-p cuts first.
    static func candidates(_ values: [Float], topK: Int, minP: Float)
        -> (kept: [(id: Int32, logit: Float)], maximum: Float, normalizer: Float) {
        guard let maximum = values.max() else { return ([], 0, 1) }
        func better(_ a: (id: Int32, logit: Float), _ b: (id: Int32, logit: Float)) -> Bool {
            a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
        }
        var kept: [(id: Int32, logit: Float)] = []
        if topK > 0 {
            kept.reserveCapacity(topK + 1)
            for (index, logit) in values.enumerated() {
                let entry = (id: Int32(index), logit: logit)
                if kept.count == topK, let last = kept.last, !better(entry, last) { continue }
                let position = kept.firstIndex { better(entry, $0) } ?? kept.count
                kept.insert(entry, at: position)
                if kept.count > topK { kept.removeLast() }
            }
            return (kept, maximum, kept.reduce(0) { $0 + Float.exp($1.logit - maximum) })
        }
        let cutoff = minP > 0 ? maximum + Float.log(minP) : -Float.infinity
        var normalizer: Float = 0
        for (index, logit) in values.enumerated() {
            normalizer += Float.exp(logit - maximum)
            if logit >= cutoff { kept.append((Int32(index), logit)) }
        }
        kept.sort(by: better)
        return (kept, maximum, normalizer)
    }

    private func applyRepetitionPenalty(_ values: inout [Float], history: [Int32]) {
        let penalty = parameters.repetitionPenalty
        guard penalty != 1, penalty > 0 else { return }
        for id in Set(history.suffix(parameters.repetitionWindow)) where id >= 0 && Int(id) < values.count {
            let value = values[Int(id)]
            values[Int(id)] = value > 0 ? value / penalty : value * penalty
        }
    }

    public static func argmax<C: Collection<Float>>(_ values: C) -> Int where C.Index == Int {
        var best = values.startIndex
        for index in values.indices where values[index] > values[best] { best = index }
        return best - values.startIndex
    }

    static func softmax(_ logits: [Float], temperature: Float) -> [Float] {
        guard let maximum = logits.max() else { return [] }
        let exps = logits.map { Float.exp(($0 - maximum) / temperature) }
        let sum = exps.reduce(0, +)
        return exps.map { $0 / sum }
    }
}

extension Float {
    fileprivate static func exp(_ x: Float) -> Float {
        #if canImport(Glibc)
        Glibc.expf(x)
        #else
        Darwin.expf(x)
        #endif
    }

    fileprivate static func log(_ x: Float) -> Float {
        #if canImport(Glibc)
        Glibc.logf(x)
        #else
        Darwin.logf(x)
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
