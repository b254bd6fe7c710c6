import CSwellKernels

/// A persistent pool of compute threads (pthreads pinned to CPUs) shared by the kernels of one
/// inference context. The thread that calls into the kernels is worker 0, so `threads: 2` starts
/// one extra thread. One thread at a time may run work on a pool.
public final class WorkerPool {
    let handle: OpaquePointer
    public let threads: Int

    public init(threads: Int, pinned: Bool = true) {
        let count = max(1, threads)
        guard let pool = swell_pool_create(Int32(count), pinned ? 1 : 0) else {
            fatalError("swell_pool_create failed: out of memory")
        }
        handle = pool
        self.threads = count
    }

    deinit {
        swell_pool_destroy(handle)
    }

    /// The CPUs this process may run on, a sensible default thread count.
    public static var availableCPUs: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
