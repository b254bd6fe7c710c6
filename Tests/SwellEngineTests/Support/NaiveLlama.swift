import Foundation
@testable import SwellEngine

/// A deliberately plain, float-only llama forward pass written from the definitions (weights
/// dequantized up front, activations never quantized, attention over full arrays, RoPE with
/// Double trigonometry). The engine's kernels are checked against it.
struct NaiveLlama {
    let config: LlamaConfig
    private let embedding: [Float]
    private let output: [Float]
    private let outputNorm: [Float]
    private let layers: [(attentionNorm: [Float], q: [Float], k: [Float], v: [Float], o: [Float],
                          ffnNorm: [Float], gate: [Float], up: [Float], down: [Float])]

    init(_ model: LlamaModel) {
        config = model.config
        embedding = model.tokenEmbedding.dequantized()
        output = model.output.dequantized()
        outputNorm = model.outputNorm
        layers = model.layers.map {
            ($0.attentionNorm, $0.query.dequantized(), $0.key.dequantized(), $0.value.dequantized(),
             $0.attentionOutput.dequantized(), $0.feedForwardNorm, $0.gate.dequantized(), $0.up.dequantized(),
             $0.down.dequantized())
        }
    }

    /// Logits after each token of `tokens` (positions 0..<count of one sequence).
    func logits(_ tokens: [Int32]) -> [[Float]] {
        let d = config.embeddingLength
        let headDim = config.headDimension
        let group = config.headCount / config.kvHeadCount
        var keys: [[[Float]]] = Array(repeating: [], count: config.layerCount) // [layer][position][kvWidth]
        var values = keys
        var result: [[Float]] = []
        for (position, token) in tokens.enumerated() {
            var x = Array(embedding[Int(token) * d..<(Int(token) + 1) * d])
            for (index, layer) in layers.enumerated() {
                let h = rmsNorm(x, layer.attentionNorm)
                var q = matVec(layer.q, h, rows: d)
                var k = matVec(layer.k, h, rows: config.kvWidth)
                let v = matVec(layer.v, h, rows: config.kvWidth)
                rope(&q, heads: config.headCount, position: position)
                rope(&k, heads: config.kvHeadCount, position: position)
                keys[index].append(k)
                values[index].append(v)
                var attended = [Float](repeating: 0, count: d)
                for head in 0..<config.headCount {
                    let kvHead = head / group
                    var scores = (0...position).map { p -> Double in
                        var dot: Double = 0
                        for i in 0..<headDim {
                            dot += Double(q[head * headDim + i]) * Double(keys[index][p][kvHead * headDim + i])
                        }
                        return dot / Double(headDim).squareRoot()
                    }
                    let maximum = scores.max()!
                    scores = scores.map { Foundation.exp($0 - maximum) }
                    let sum = scores.reduce(0, +)
                    for p in 0...position {
                        for i in 0..<headDim {
                            attended[head * headDim + i] += Float(scores[p] / sum) * values[index][p][kvHead * headDim + i]
                        }
                    }
                }
                x = zip(x, matVec(layer.o, attended, rows: d)).map(+)
                let h2 = rmsNorm(x, layer.ffnNorm)
                let gate = matVec(layer.gate, h2, rows: config.feedForwardLength)
                let up = matVec(layer.up, h2, rows: config.feedForwardLength)
                let hidden = zip(gate, up).map { g, u in g / (1 + Foundation.exp(-g)) * u }
                x = zip(x, matVec(layer.down, hidden, rows: d)).map(+)
            }
            result.append(matVec(output, rmsNorm(x, outputNorm), rows: config.vocabularySize))
        }
        return result
    }

    private func rmsNorm(_ x: [Float], _ weight: [Float]) -> [Float] {
        let meanSquare = x.reduce(0) { $0 + Double($1) * Double($1) } / Double(x.count)
        let scale = 1 / (meanSquare + Double(config.rmsNormEpsilon)).squareRoot()
        return zip(x, weight).map { Float(Double($0) * scale) * $1 }
    }

    private func matVec(_ matrix: [Float], _ x: [Float], rows: Int) -> [Float] {
        let columns = x.count
        return (0..<rows).map { row in
            var sum: Double = 0
            for column in 0..<columns { sum += Double(matrix[row * columns + column]) * Double(x[column]) }
            return Float(sum)
        }
    }

    /// Adjacent pairs rotated by position · base^(-2i/dims).
    private func rope(_ x: inout [Float], heads: Int, position: Int) {
        let headDim = config.headDimension
        for head in 0..<heads {
            for i in 0..<(config.ropeDimensions / 2) {
                let theta = Double(position) * pow(Double(config.ropeFrequencyBase), -2 * Double(i) / Double(config.ropeDimensions))
                let a = Double(x[head * headDim + 2 * i]), b = Double(x[head * headDim + 2 * i + 1])
                x[head * headDim + 2 * i] = Float(a * cos(theta) - b * sin(theta))
                x[head * headDim + 2 * i + 1] = Float(a * sin(theta) + b * cos(theta))
            }
        }
    }
}
