#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What /proc says about a process: enough to tell it from a later process with the same pid,
/// and its CPU time and resident memory.
public struct ProcStat: Sendable, Equatable {
    /// Clock ticks after boot at which the process started (field 22 of /proc/PID/stat).
    public var startTime: UInt64
    public var cpuSeconds: Double
    public var residentBytes: Int64

    /// Parses /proc/PID/stat (the command name may contain spaces and parentheses, so fields are
    /// counted after the last ')').
    static func parse(stat: String, status: String?, ticksPerSecond: Double, pageSize: Int64) -> ProcStat? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so field n is fields[n - 3].
        guard fields.count > 21, let utime = Double(fields[11]), let stime = Double(fields[12]),
              let start = UInt64(fields[19]), let rssPages = Int64(fields[21]) else { return nil }
        var resident = rssPages * pageSize
        if let status, let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
           let kilobytes = Int64(line.split(separator: " ").dropFirst().first ?? "") {
            resident = kilobytes * 1024
        }
        return ProcStat(startTime: start, cpuSeconds: (utime + stime) / ticksPerSecond, residentBytes: resident)
    }

    /// The live process `pid`, or nil when there is none (or it is a zombie).
    public static func read(pid: Int32) -> ProcStat? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        if let close = stat.lastIndex(of: ")"), stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z") {
            return nil
        }
        let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        return parse(stat: stat, status: status, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
                     pageSize: Int64(sysconf(Int32(_SC_PAGESIZE))))
    }
}

/// The machine's capacity as /proc and sysconf report it.
public enum HostCapacity {
    public static var cpuCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    public static var memoryBytes: Int64 {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return 0 }
        return parseMemTotal(text) ?? 0
    }

    /// A valid Node name from a host name: its first label, lower-cased, with anything but
    /// letters, digits and '-' replaced by '-'.
    public static func nodeName(fromHostName hostName: String) -> String {
        let label = hostName.split(separator: ".").first.map(String.init) ?? ""
        var name = String(label.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }.prefix(63))
        while name.hasPrefix("-") { name.removeFirst() }
        while name.hasSuffix("-") { name.removeLast() }
        return name.isEmpty ? "node" : name
    }

    static func parseMemTotal(_ meminfo: String) -> Int64? {
        guard let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
              let kilobytes = Int64(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes * 1024
    }
}
