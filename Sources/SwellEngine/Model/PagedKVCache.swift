import CSwellKernels

/// A block-paged KV cache with automatic prefix caching.
///
/// Every full block a sequence has computed can be published under a key that chains the
/// parent block's key with the block's token ids, so the key names the whole prefix up to the
/// block's end. A new sequence looks its prompt up block by block and starts from the longest
/// cached chain. Blocks carry reference counts; a block nobody references keeps its contents and
/// its key until the space is needed, and is then evicted least recently released first — and
/// within one released sequence, deepest block first, since a chain is useless past a missing link.
///
/// Only full, published blocks are shared, and a sequence only ever writes at positions past its
/// cached prefix, which begin a fresh block: shared rows are never overwritten.
public final class PagedKVCache: KVCache {
    public let layerCount: Int
    public let kvWidth: Int
    public let blockSize: Int
    public let blockCount: Int
    public let storage: KVCacheStorage
    public let prefixCaching: Bool
    public private(set) var prefixQueriedTokens = 0
    public private(set) var prefixHitTokens = 0

    private let keyStorage: UnsafeMutableRawPointer
    private let valueStorage: UnsafeMutableRawPointer
    private let layerBytes: Int
    private let blockHash: (UInt64, ArraySlice<Int32>) -> UInt64

    private var referenceCounts: [Int32]
    /// Identity of each published block; nil for blocks holding nothing reusable.
    private var published: [PublishedBlock?]
    private var blockByKey: [UInt64: Int32] = [:]
    /// Free blocks that hold nothing worth keeping; used before any cached block is evicted.
    private var cleanBlocks: [Int32]
    /// Unreferenced published blocks, least recently released at the head.
    private var evictable: BlockQueue
    private var sequences: [Int: SequenceBlocks] = [:]

    private struct PublishedBlock {
        var key: UInt64
        var parentKey: UInt64
        var tokens: [Int32]
    }

    private struct SequenceBlocks {
        var table: [Int32] = []
        /// Keys of the leading blocks whose contents are known (cached or published), in order.
        var chain: [UInt64] = []
    }

    /// Key of the empty prefix, the parent of every first block.
    static let rootKey: UInt64 = 0xcbf2_9ce4_8422_2325

    public convenience init(config: LlamaConfig, tokens: Int, blockSize: Int = 16, storage: KVCacheStorage = .f16,
                            prefixCaching: Bool = true) {
        self.init(config: config, tokens: tokens, blockSize: blockSize, storage: storage, prefixCaching: prefixCaching,
                  blockHash: Self.chainedHash)
    }

    /// - Parameter blockHash: the key of a block from its parent's key and its tokens; tests
    ///   inject a weak one to show that colliding keys never share wrong rows.
    init(config: LlamaConfig, tokens: Int, blockSize: Int, storage: KVCacheStorage, prefixCaching: Bool,
         blockHash: @escaping (UInt64, ArraySlice<Int32>) -> UInt64) {
        precondition(blockSize > 0, "block size must be positive")
        layerCount = config.layerCount
        kvWidth = config.kvWidth
        self.blockSize = blockSize
        self.storage = storage
        self.prefixCaching = prefixCaching
        self.blockHash = blockHash
        blockCount = max(1, (tokens + blockSize - 1) / blockSize)
        let elementBytes = storage == .f16 ? 2 : 4
        layerBytes = blockCount * blockSize * kvWidth * elementBytes
        let bytes = layerCount * layerBytes
        keyStorage = .allocate(byteCount: bytes, alignment: 64)
        valueStorage = .allocate(byteCount: bytes, alignment: 64)
        keyStorage.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        valueStorage.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        referenceCounts = Array(repeating: 0, count: blockCount)
        published = Array(repeating: nil, count: blockCount)
        cleanBlocks = (0..<Int32(blockCount)).reversed()
        evictable = BlockQueue(capacity: blockCount)
    }

    deinit {
        keyStorage.deallocate()
        valueStorage.deallocate()
    }

    public var totalBlockCount: Int { blockCount }
    public var availableBlockCount: Int { cleanBlocks.count + evictable.count }
    /// Published blocks that can be found by a lookup, referenced or not.
    public var cachedBlockCount: Int { blockByKey.count }

    public func keys(layer: Int) -> UnsafeMutableRawPointer { keyStorage + layer * layerBytes }
    public func values(layer: Int) -> UnsafeMutableRawPointer { valueStorage + layer * layerBytes }

    /// The block table of a live sequence (empty when unknown).
    public func table(of sequence: Int) -> [Int32] { sequences[sequence]?.table ?? [] }

    public func reserve(sequence: Int, length: Int) throws(KVCacheError) -> [Int32] {
        var blocks = sequences[sequence] ?? SequenceBlocks()
        let needed = (length + blockSize - 1) / blockSize - blocks.table.count
        if needed > 0 {
            guard needed <= availableBlockCount else {
                throw .outOfBlocks(sequence: sequence, needed: needed, free: availableBlockCount)
            }
            for _ in 0..<needed {
                let block = takeFreeBlock()
                referenceCounts[Int(block)] = 1
                blocks.table.append(block)
            }
        }
        sequences[sequence] = blocks
        return blocks.table
    }

    public func release(sequence: Int) {
        guard let blocks = sequences.removeValue(forKey: sequence) else { return }
        for block in blocks.table.reversed() {
            let index = Int(block)
            referenceCounts[index] -= 1
            assert(referenceCounts[index] >= 0, "block \(block) released more often than referenced")
            guard referenceCounts[index] == 0 else { continue }
            if published[index] != nil {
                evictable.append(block)
            } else {
                cleanBlocks.append(block)
            }
        }
    }

    public func attachCachedPrefix(sequence: Int, tokens: [Int32]) -> Int {
        guard prefixCaching else { return 0 }
        precondition(sequences[sequence] == nil, "attachCachedPrefix on sequence \(sequence), which already has blocks")
        prefixQueriedTokens += tokens.count
        var blocks = SequenceBlocks()
        var parent = Self.rootKey
        // The last token is always computed: its logits start the generation.
        let reusable = max(0, tokens.count - 1) / blockSize
        for index in 0..<reusable {
            let slice = tokens[index * blockSize..<(index + 1) * blockSize]
            let key = blockHash(parent, slice)
            guard let block = blockByKey[key], let identity = published[Int(block)],
                  identity.parentKey == parent, identity.tokens.elementsEqual(slice) else { break }
            if referenceCounts[Int(block)] == 0 { evictable.remove(block) }
            referenceCounts[Int(block)] += 1
            blocks.table.append(block)
            blocks.chain.append(key)
            parent = key
        }
        sequences[sequence] = blocks
        let hit = blocks.table.count * blockSize
        prefixHitTokens += hit
        return hit
    }

    public func commit(sequence: Int, tokens: [Int32]) {
        guard prefixCaching, var blocks = sequences[sequence] else { return }
        let full = min(tokens.count / blockSize, blocks.table.count)
        guard blocks.chain.count < full else { return }
        var parent = blocks.chain.last ?? Self.rootKey
        for index in blocks.chain.count..<full {
            let slice = tokens[index * blockSize..<(index + 1) * blockSize]
            let key = blockHash(parent, slice)
            let block = blocks.table[index]
            // An equal block computed by another sequence stays the cached one; this copy
            // stays private and is recycled when its sequence ends.
            if blockByKey[key] == nil, published[Int(block)] == nil {
                published[Int(block)] = PublishedBlock(key: key, parentKey: parent, tokens: Array(slice))
                blockByKey[key] = block
            }
            blocks.chain.append(key)
            parent = key
        }
        sequences[sequence] = blocks
    }

    private func takeFreeBlock() -> Int32 {
        if let block = cleanBlocks.popLast() { return block }
        let block = evictable.removeFirst()
        if let identity = published[Int(block)] {
            blockByKey[identity.key] = nil
            published[Int(block)] = nil
        }
        return block
    }

    /// FNV-1a over the parent key and the token ids: cheap, and collisions are caught by
    /// comparing the stored tokens and parent key on every hit.
    static func chainedHash(parent: UInt64, tokens: ArraySlice<Int32>) -> UInt64 {
        var hash = rootKey
        func mix(_ value: UInt64) {
            var v = value
            for _ in 0..<8 {
                hash ^= v & 0xff
                hash &*= 0x0000_0100_0000_01b3
                v >>= 8
            }
        }
        mix(parent)
        for token in tokens { mix(UInt64(UInt32(bitPattern: token))) }
        return hash
    }
}

/// A FIFO of block ids with O(1) removal from the middle (a cache hit revives a block that is
/// waiting to be evicted).
struct BlockQueue {
    private var next: [Int32]
    private var previous: [Int32]
    private var queued: [Bool]
    private var head: Int32 = -1
    private var tail: Int32 = -1
    private(set) var count = 0

    init(capacity: Int) {
        next = Array(repeating: -1, count: capacity)
        previous = Array(repeating: -1, count: capacity)
        queued = Array(repeating: false, count: capacity)
    }

    var isEmpty: Bool { count == 0 }

    /// The queue from head to tail.
    var elements: [Int32] {
        var result: [Int32] = []
        var cursor = head
        while cursor >= 0 {
            result.append(cursor)
            cursor = next[Int(cursor)]
        }
        return result
    }

    mutating func append(_ block: Int32) {
        let index = Int(block)
        precondition(!queued[index], "block \(block) queued twice")
        queued[index] = true
        previous[index] = tail
        next[index] = -1
        if tail >= 0 { next[Int(tail)] = block } else { head = block }
        tail = block
        count += 1
    }

    mutating func remove(_ block: Int32) {
        let index = Int(block)
        guard queued[index] else { return }
        queued[index] = false
        let before = previous[index], after = next[index]
        if before >= 0 { next[Int(before)] = after } else { head = after }
        if after >= 0 { previous[Int(after)] = before } else { tail = before }
        count -= 1
    }

    mutating func removeFirst() -> Int32 {
        precondition(head >= 0, "removeFirst on an empty block queue")
        let block = head
        remove(block)
        return block
    }
}
