import ArgumentParser
import SwellEngine

/// `--kv-cache-type f16|f32` for every engine command.
extension KVCacheStorage: ExpressibleByArgument {}
