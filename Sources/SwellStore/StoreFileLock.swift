#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An exclusive `flock` on `<store>.lock`, held while a store is open.
///
/// Watches are fed in-process after each commit, so a second process (or a second
/// `SQLiteStore` in this one) writing the same file would change objects without telling the
/// first one's watchers. The kernel drops the lock when the holder dies, even by `kill -9`,
/// so a crashed server never blocks its own restart.
final class StoreFileLock: Sendable {
    let path: String
    private let descriptor: Mutex<Int32?>

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SQLiteStoreError.cannotOpen(path: path, reason: "cannot create lock file: \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK {
                throw SQLiteStoreError.locked(path: path)
            }
            throw SQLiteStoreError.cannotOpen(path: path, reason: "cannot lock: \(String(cString: strerror(code)))")
        }
        descriptor = Mutex(fd)
    }

    /// Releases the lock; later calls do nothing.
    func release() {
        let fd = descriptor.withLock { descriptor in
            defer { descriptor = nil }
            return descriptor
        }
        if let fd {
            // Closing the descriptor drops the flock.
            close(fd)
        }
    }

    deinit {
        release()
    }
}
