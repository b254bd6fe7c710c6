/// The tokens of one forward step. Tokens may belong to different sequences; each token has
/// its own position, and attends to positions 0...position of its own sequence (including the
/// tokens of the same sequence earlier in this batch).
public struct ForwardBatch: Sendable {
    public private(set) var tokens: [Int32] = []
    public private(set) var positions: [Int32] = []
    public private(set) var sequences: [Int] = []
    public private(set) var wantsLogits: [Bool] = []

    public init() {}

    /// A prompt (or its continuation) of one sequence starting at `start`; logits only for the last token.
    public init(tokens: [Int32], startingAt start: Int = 0, sequence: Int = 0) {
        for (index, token) in tokens.enumerated() {
            append(token: token, position: start + index, sequence: sequence, logits: index == tokens.count - 1)
        }
    }

    public mutating func append(token: Int32, position: Int, sequence: Int, logits: Bool) {
        tokens.append(token)
        positions.append(Int32(position))
        sequences.append(sequence)
        wantsLogits.append(logits)
    }

    public var count: Int { tokens.count }
    public var isEmpty: Bool { tokens.isEmpty }
}

/// Logits for the tokens of a batch that asked for them, in batch order.
public struct Logits: Sendable {
    public let vocabularySize: Int
    /// Index in the batch of each row.
    public let batchIndices: [Int]
    public var values: [Float]

    public var rowCount: Int { batchIndices.count }

    public func row(_ index: Int) -> ArraySlice<Float> {
        values[index * vocabularySize..<(index + 1) * vocabularySize]
    }

    /// The last row: the next-token distribution after a prompt.
    public var last: [Float] { Array(row(rowCount - 1)) }
}

public enum ForwardError: Error, Equatable, CustomStringConvertible {
    case tokenOutOfRange(token: Int32, vocabularySize: Int)
    case positionOutOfRange(position: Int32, contextLength: Int)
    case cache(KVCacheError)

    public var description: String {
        switch self {
        case .tokenOutOfRange(let token, let size): "token id \(token) outside the vocabulary (0..<\(size))"
        case .positionOutOfRange(let position, let context): "position \(position) outside the context (0..<\(context))"
        case .cache(let error): error.description
        }
    }
}
