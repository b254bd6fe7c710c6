import Foundation
import Synchronization

/// The engines an agent runs, in `<data-dir>/agent-state.json`, rewritten (atomically) on every
/// change, so an agent that restarts — even after `kill -9` — finds them again: live ones whose
/// replica is still bound here are adopted, the others stopped. The process start time defeats
/// pid reuse; the replica's uid tells a re-created replica of the same name from the old one.
final class AgentStateFile: Sendable {
    struct Entry: Codable, Sendable, Equatable {
        var pid: Int32
        /// /proc/PID/stat start time (clock ticks after boot).
        var startTime: UInt64
        var port: Int
        var replicaUID: String?
        /// The engine command without the port (see `EngineLauncher.command(for:)`).
        var command: [String]
        var restarts: Int

        init(pid: Int32, startTime: UInt64, port: Int, replicaUID: String?, command: [String], restarts: Int) {
            self.pid = pid
            self.startTime = startTime
            self.port = port
            self.replicaUID = replicaUID
            self.command = command
            self.restarts = restarts
        }
    }

    let path: String
    private let entries = Mutex<[String: Entry]>([:])

    /// Loads what an earlier agent left; an unreadable file counts as empty (the /proc scan
    /// still finds its engines).
    init(path: String) {
        self.path = path
        if let data = FileManager.default.contents(atPath: path),
           let stored = try? JSONDecoder().decode([String: Entry].self, from: data) {
            entries.withLock { $0 = stored }
        }
    }

    var all: [String: Entry] { entries.withLock { $0 } }

    func set(_ key: String, _ entry: Entry?) {
        // Written under the lock, so two quick changes can't reach the disk in the wrong order.
        entries.withLock { entries in
            guard entries[key] != entry else { return }
            entries[key] = entry
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            guard let data = try? encoder.encode(entries) else { return }
            let temporary = path + ".tmp"
            if FileManager.default.createFile(atPath: temporary, contents: data) {
                _ = rename(temporary, path)
            }
        }
    }
}
