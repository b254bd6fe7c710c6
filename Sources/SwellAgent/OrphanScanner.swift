import Foundation

/// Finds engine processes an agent started, from /proc alone: every engine carries its owner's
/// state-file path and its replica in its environment (`EngineLauncher`). It backs up the state
/// file — an agent killed between spawning an engine and recording it still never leaks it.
enum OrphanScanner {
    struct FoundEngine: Sendable, Equatable {
        var pid: Int32
        var startTime: UInt64
        var replicaKey: String
        var replicaUID: String?
        /// The command without the port, as `EngineLauncher.command(for:)` makes it.
        var command: [String]
        var port: Int
    }

    /// Engines whose owner is the agent with state file `stateFile`.
    static func scan(stateFile: String) -> [FoundEngine] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var found: [FoundEngine] = []
        for entry in entries {
            guard let pid = Int32(entry), pid != getpid(),
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                  let stat = ProcStat.read(pid: pid),
                  let engine = parse(pid: pid, startTime: stat.startTime, cmdline: cmdline, environ: environ, stateFile: stateFile)
            else { continue }
            found.append(engine)
        }
        return found
    }

    static func parse(pid: Int32, startTime: UInt64, cmdline: Data, environ: Data, stateFile: String) -> FoundEngine? {
        let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard arguments.count > 3, arguments[1] == "engine", arguments[2] == "serve" else { return nil }
        var variables: [String: String] = [:]
        for pair in environ.split(separator: 0) {
            let text = String(decoding: pair, as: UTF8.self)
            guard let equals = text.firstIndex(of: "=") else { continue }
            variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        guard variables[EngineLauncher.ownerVariable] == stateFile, let key = variables[EngineLauncher.replicaVariable] else {
            return nil
        }
        var command = Array(arguments.dropFirst())
        guard let flag = command.lastIndex(of: "--port"), flag + 1 < command.count, let port = Int(command[flag + 1]) else {
            return nil
        }
        command.removeSubrange(flag...(flag + 1))
        return FoundEngine(pid: pid, startTime: startTime, replicaKey: key, replicaUID: variables[EngineLauncher.replicaUIDVariable],
                           command: command, port: port)
    }
}
