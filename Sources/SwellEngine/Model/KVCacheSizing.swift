/// How many tokens of keys and values a memory budget holds, so a replica's cache can be sized
/// from the memory it was given (`--kv-cache-memory 512Mi`) instead of a token count.
public enum KVCacheSizing {
    /// Bytes one token occupies in the cache: a K and a V row in every layer.
    public static func bytesPerToken(config: LlamaConfig, storage: KVCacheStorage) -> Int {
        2 * config.layerCount * config.kvWidth * (storage == .f16 ? 2 : 4)
    }

    /// The tokens of the whole blocks that fit in `bytes` (0 when not even one block fits).
    public static func tokens(fitting bytes: Int, config: LlamaConfig, storage: KVCacheStorage, blockSize: Int) -> Int {
        precondition(blockSize > 0, "block size must be positive")
        let blockBytes = bytesPerToken(config: config, storage: storage) * blockSize
        return max(0, bytes) / blockBytes * blockSize
    }
}
