import Foundation
import Synchronization

/// The engines an agent runs, written to `<data-dir>/agent-state.json` on every change, so an
/// agent that restarts (even after `kill -9`) finds them again: live ones whose replica still
/// belongs here are adopted, the others stopped. The process start time defeats pid reuse.
final class AgentStateFile: Sendable {
    struct Entry: Codable, Sendable, Equatable {
        var pid: Int32
        var startTime: UInt64
        var port: Int
        var templateHash: String?
    }

    let path: String
    private let entries = Mutex<[String: Entry]>([:])

    init(path: String) {
        self.path = path
        if let data = FileManager.default.contents(atPath: path),
           let stored = try? JSONDecoder().decode([String: Entry].self, from: data) {
            entries.withLock { $0 = stored }
        }
    }

    var all: [String: Entry] { entries.withLock { $0 } }

    func set(_ key: String, _ entry: Entry?) {
        let snapshot = entries.withLock { entries in
            entries[key] = entry
            return entries
        }
        guard let data = try? JSONEncoder().encode(snapshot) else { return }
        let temporary = path + ".tmp"
        if FileManager.default.createFile(atPath: temporary, contents: data) {
            _ = rename(temporary, path)
        }
    }
}
