/// Storage for attention keys and values, organised in blocks of `blockSize` token rows.
///
/// Each layer has one pool of K rows and one of V rows (`kvWidth` elements each, F32 or F16). A
/// sequence owns a list of blocks — its block table — and position p of the sequence lives in
/// row `table[p / blockSize] * blockSize + p % blockSize` of the pools. A forward step carries
/// one block table per sequence, so tokens of several sequences can share a step, and sequences
/// share a cached prompt prefix just by pointing their tables at the same blocks.
public protocol KVCache: AnyObject {
    var layerCount: Int { get }
    var kvWidth: Int { get }
    var blockSize: Int { get }
    var storage: KVCacheStorage { get }
    /// Makes positions 0..<length of `sequence` addressable and returns its block table.
    func reserve(sequence: Int, length: Int) throws(KVCacheError) -> [Int32]
    /// Drops a finished sequence's references to its blocks.
    func release(sequence: Int)
    /// The K and V pools of a layer, in `storage` elements.
    func keys(layer: Int) -> UnsafeMutableRawPointer
    func values(layer: Int) -> UnsafeMutableRawPointer

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

extension KVCache {
    /// Blocks referenced by at least one sequence, over all blocks (`kv_cache_usage_ratio`).
    public var usageRatio: Double {
        totalBlockCount == 0 ? 0 : Double(totalBlockCount - availableBlockCount) / Double(totalBlockCount)
    }
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
