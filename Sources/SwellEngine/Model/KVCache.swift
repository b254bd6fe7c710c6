/// Storage for attention keys and values, organised in blocks of `blockSize` token rows.
///
/// Each layer has one pool of K rows and one of V rows (`kvWidth` floats each). A sequence owns a
/// list of blocks — its block table — and position p of the sequence lives in row
/// `table[p / blockSize] * blockSize + p % blockSize` of the pools. A forward step carries one
/// block table per sequence, so tokens of several sequences can share a step, and a later cache
/// can share prefix blocks between sequences just by pointing tables at the same blocks.
public protocol KVCache: AnyObject {
    var layerCount: Int { get }
    var kvWidth: Int { get }
    var blockSize: Int { get }
    /// Makes positions 0..<length of `sequence` addressable and returns its block table.
    func reserve(sequence: Int, length: Int) throws(KVCacheError) -> [Int32]
    /// Frees the blocks of a finished sequence.
    func release(sequence: Int)
    func keys(layer: Int) -> UnsafeMutablePointer<Float>
    func values(layer: Int) -> UnsafeMutablePointer<Float>

    var totalBlockCount: Int { get }
    /// Blocks that can be handed out now: free ones plus cached ones no sequence references.
    var availableBlockCount: Int { get }
    /// Points a new `sequence` at the longest chain of cached full blocks that begins `tokens`,
    /// always leaving at least the last token to compute, and returns how many tokens it covers
    /// (a multiple of `blockSize`; 0 without prefix caching). Counts the lookup in the statistics.
    func attachCachedPrefix(sequence: Int, tokens: [Int32]) -> Int
    /// Publishes the full blocks of `sequence` whose rows now hold `tokens` (positions
    /// 0..<tokens.count), so later sequences can share them.
    func commit(sequence: Int, tokens: [Int32])
    /// Prompt tokens looked up by `attachCachedPrefix`, and how many were found.
    var prefixQueriedTokens: Int { get }
    var prefixHitTokens: Int { get }
}

public enum KVCacheError: Error, Equatable, CustomStringConvertible {
    case outOfBlocks(sequence: Int, needed: Int, free: Int)

    public var description: String {
        switch self {
        case .outOfBlocks(let sequence, let needed, let free):
            "KV cache full: sequence \(sequence) needs \(needed) more blocks, \(free) free"
        }
    }
}

/// A block-allocated KV cache without prefix sharing: each sequence gets private blocks from a
/// free list as it grows.
public final class BlockKVCache: KVCache {
    public let layerCount: Int
    public let kvWidth: Int
    public let blockSize: Int
    public let blockCount: Int
    private let keyStorage: UnsafeMutablePointer<Float>
    private let valueStorage: UnsafeMutablePointer<Float>
    private var freeBlocks: [Int32]
    private var tables: [Int: [Int32]] = [:]

    public init(config: LlamaConfig, tokens: Int, blockSize: Int = 16) {
        layerCount = config.layerCount
        kvWidth = config.kvWidth
        self.blockSize = blockSize
        blockCount = max(1, (tokens + blockSize - 1) / blockSize)
        let floats = layerCount * blockCount * blockSize * kvWidth
        keyStorage = .allocate(capacity: floats)
        valueStorage = .allocate(capacity: floats)
        keyStorage.initialize(repeating: 0, count: floats)
        valueStorage.initialize(repeating: 0, count: floats)
        freeBlocks = (0..<Int32(blockCount)).reversed()
    }

    deinit {
        keyStorage.deallocate()
        valueStorage.deallocate()
    }

    public var freeBlockCount: Int { freeBlocks.count }
    public var totalBlockCount: Int { blockCount }
    public var availableBlockCount: Int { freeBlocks.count }
    public func attachCachedPrefix(sequence: Int, tokens: [Int32]) -> Int { 0 }
    public func commit(sequence: Int, tokens: [Int32]) {}
    public var prefixQueriedTokens: Int { 0 }
    public var prefixHitTokens: Int { 0 }

    public func reserve(sequence: Int, length: Int) throws(KVCacheError) -> [Int32] {
        var table = tables[sequence] ?? []
        let needed = (length + blockSize - 1) / blockSize - table.count
        if needed > 0 {
            guard needed <= freeBlocks.count else {
                throw .outOfBlocks(sequence: sequence, needed: needed, free: freeBlocks.count)
            }
            for _ in 0..<needed { table.append(freeBlocks.removeLast()) }
            tables[sequence] = table
        }
        return table
    }

    public func release(sequence: Int) {
        if let table = tables.removeValue(forKey: sequence) { freeBlocks.append(contentsOf: table) }
    }

    private var layerStride: Int { blockCount * blockSize * kvWidth }
    public func keys(layer: Int) -> UnsafeMutablePointer<Float> { keyStorage + layer * layerStride }
    public func values(layer: Int) -> UnsafeMutablePointer<Float> { valueStorage + layer * layerStride }
}
