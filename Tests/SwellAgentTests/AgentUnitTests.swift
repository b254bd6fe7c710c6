import Foundation
import SwellAPI
import Testing
@testable import SwellAgent

@Suite("Agent pure parts")
struct AgentUnitTests {
    @Test("crash-loop back-off doubles from 10 s to at most 5 min", arguments: [
        (1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 300), (7, 300), (50, 300),
    ])
    func backoff(restarts: Int, seconds: Int64) {
        #expect(RestartBackoff().delay(restarts: restarts) == .seconds(seconds))
    }

    @Test("/proc/PID/stat is parsed after the last parenthesis, and VmRSS wins over the rss field")
    func procStat() throws {
        let stat = "4242 (swell (engine) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 3 0 987654 123456789 2048 18446744073709551615"
        let parsed = try #require(ProcStat.parse(stat: stat, status: "Name:\tswell\nVmRSS:\t  51200 kB\n", ticksPerSecond: 100, pageSize: 4096))
        #expect(parsed.startTime == 987654)
        #expect(parsed.cpuSeconds == 4.0)
        #expect(parsed.residentBytes == 51200 * 1024)
        let withoutStatus = try #require(ProcStat.parse(stat: stat, status: nil, ticksPerSecond: 100, pageSize: 4096))
        #expect(withoutStatus.residentBytes == 2048 * 4096)
        #expect(ProcStat.parse(stat: "garbage", status: nil, ticksPerSecond: 100, pageSize: 4096) == nil)
    }

    @Test("this process is visible in /proc, a dead pid is not")
    func liveProcess() {
        let me = ProcStat.read(pid: getpid())
        #expect(me != nil)
        #expect((me?.residentBytes ?? 0) > 0)
        #expect(ProcStat.read(pid: Int32.max - 1) == nil)
    }

    @Test("MemTotal is read in bytes")
    func memTotal() {
        #expect(HostCapacity.parseMemTotal("MemTotal:       24683656 kB\nMemFree: 1 kB\n") == Int64(24683656) * 1024)
        #expect(HostCapacity.parseMemTotal("nothing") == nil)
        #expect(HostCapacity.memoryBytes > 0)
    }

    @Test("the engine's last error line is what a failed start reports")
    func lastErrorLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agent-log-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "--- starting\nsome info\nerror: /m.gguf: no such file\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ReplicaRuntime.lastErrorLine(path) == "error: /m.gguf: no such file")
        try "--- starting\nall fine\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ReplicaRuntime.lastErrorLine(path) == nil)
    }

    @Test("engine flags come from the replica's spec")
    func launcherArguments() {
        let replica = Replica(metadata: ObjectMeta(name: "chat-1", namespace: "default"),
                              spec: ReplicaSpec(serviceName: "chat", model: ModelSpec(path: "/m.gguf", contextLength: 2048),
                                                engine: EngineSpec(threads: 2, kvCacheTokens: 4096, blockSize: 32, maxBatchTokens: 256)))
        let arguments = EngineLauncher.arguments(for: replica, port: 9000)
        func value(_ flag: String) -> String? { arguments.firstIndex(of: flag).map { arguments[$0 + 1] } }
        #expect(Array(arguments.prefix(2)) == ["engine", "serve"])
        #expect(value("--model") == "/m.gguf")
        #expect(value("--port") == "9000")
        #expect(value("--served-model-name") == "chat")
        #expect(value("--threads") == "2")
        #expect(value("--kv-cache-tokens") == "4096")
        #expect(value("--block-size") == "32")
        #expect(value("--max-batch-tokens") == "256")
        #expect(value("--max-prompt-tokens") == "2048")
    }

    @Test("the state file survives a reload and forgets removed entries")
    func stateFile() {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agent-state-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = AgentStateFile(path: path)
        file.set("default/a", .init(pid: 10, startTime: 99, port: 9000, templateHash: "h"))
        file.set("default/b", .init(pid: 11, startTime: 98, port: 9001, templateHash: nil))
        file.set("default/b", nil)
        let reloaded = AgentStateFile(path: path)
        #expect(reloaded.all == ["default/a": .init(pid: 10, startTime: 99, port: 9000, templateHash: "h")])
    }
}
