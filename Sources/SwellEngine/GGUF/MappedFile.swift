#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only, shared memory mapping of a whole file. Replica processes that map the same model
/// share its pages in the page cache instead of each holding a private copy. (An in-memory copy
/// stands in for a file when parsing bytes directly.)
final class MappedFile: @unchecked Sendable {
    let base: UnsafeRawPointer
    let size: Int
    private let isMapped: Bool

    init(copying bytes: [UInt8]) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        if !bytes.isEmpty { bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) } }
        base = UnsafeRawPointer(buffer)
        size = bytes.count
        isMapped = false
    }

    init(path: String) throws(GGUFError) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw .cannotOpen(path: path, reason: Self.lastError()) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .cannotOpen(path: path, reason: Self.lastError()) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .cannotOpen(path: path, reason: "not a regular file") }
        size = Int(status.st_size)
        guard size > 0 else { throw .truncated(offset: 0, needed: 4, reading: "magic") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_SHARED, descriptor, 0), mapped != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: "mmap: \(Self.lastError())")
        }
        base = UnsafeRawPointer(mapped)
        isMapped = true
    }

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
