#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The per-replica engine log: `<data-dir>/logs/<namespace>_<name>.log`, appended to by every
/// engine the replica runs (each start begins with a `--- <time> starting: …` line), kept under a
/// size cap, and read by the log endpoint and for a failed start's error line.
enum ReplicaLogFile {
    /// The log of the replica with key `namespace/name`.
    static func path(directory: String, key: String) -> String {
        "\(directory)/\(key.replacingOccurrences(of: "/", with: "_")).log"
    }

    static let bannerPrefix = "--- "

    static func writeBanner(to descriptor: Int32, line: String, now: Date = Date()) {
        let text = "\(bannerPrefix)\(now.formatted(Date.ISO8601FormatStyle())) \(line)\n"
        _ = text.withCString { write(descriptor, $0, strlen($0)) }
    }

    /// Keeps the log under `maxBytes`: once larger, it is cut to its last half (from a line start),
    /// after a line saying so. The engine writes with O_APPEND, so it carries on at the new end;
    /// a line it writes in the instant between the cut and the rewrite lands before the kept half.
    /// Returns true when it cut.
    @discardableResult
    static func enforceCap(path: String, maxBytes: Int) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, Int(info.st_size) > maxBytes else { return false }
        let descriptor = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let keep = maxBytes / 2
        var tail = [UInt8](repeating: 0, count: keep)
        let read = pread(descriptor, &tail, keep, off_t(Int(info.st_size) - keep))
        guard read > 0 else { return false }
        tail.removeLast(keep - read)
        // Start at a whole line.
        if let newline = tail.firstIndex(of: UInt8(ascii: "\n")) { tail.removeFirst(newline + 1) }
        guard ftruncate(descriptor, 0) == 0 else { return false }
        writeBanner(to: descriptor, line: "log truncated by the swell agent: it exceeded \(maxBytes) bytes")
        _ = tail.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        return true
    }

    /// The last `error:` line of the engine's most recent start: what `swell engine serve` prints
    /// when it cannot start (a missing model, a port in use).
    static func lastErrorLine(path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
        return lastErrorLine(in: String(decoding: handle.readDataToEndOfFile(), as: UTF8.self))
    }

    static func lastErrorLine(in text: String) -> String? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        // Only what the latest engine printed.
        if let banner = lines.lastIndex(where: { $0.hasPrefix(bannerPrefix) }) {
            lines = Array(lines[(banner + 1)...])
        }
        let line = lines.last { $0.hasPrefix("error:") || $0.hasPrefix("Error:") }
        return line.map { String($0.prefix(1024)).trimmingCharacters(in: .whitespaces) }
    }

    /// The last `lines` lines of `data` (the whole of it for nil).
    static func tail(_ data: Data, lines: Int?) -> Data {
        guard let lines else { return data }
        guard lines > 0, !data.isEmpty else { return Data() }
        var end = data.endIndex
        // A final newline ends the last line rather than starting an empty one.
        if data[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        var found = 0
        var index = end
        while index > data.startIndex {
            index -= 1
            if data[index] == UInt8(ascii: "\n") {
                found += 1
                if found == lines { return Data(data[(index + 1)...]) }
            }
        }
        return data
    }
}
