import Foundation
import SwellAPI
import Testing
@testable import SwellAgent

@Suite("Agent pure parts")
struct AgentUnitTests {
    @Test("crash-loop back-off doubles from 10 s to at most 5 min", arguments: [
        (1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 300), (7, 300), (50, 300), (Int.max, 300),
    ] as [(Int, Int64)])
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
        #expect(ProcStat.parse(stat: "1 (x) S 1 2", status: nil, ticksPerSecond: 100, pageSize: 4096) == nil)
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
        #expect(HostCapacity.cpuCores >= 1)
    }

    @Test("node names come from the host name", arguments: [
        ("worker-1.example.com", "worker-1"), ("My_Laptop", "my-laptop"), ("", "node"), ("-x-", "x"), ("ABC", "abc"),
    ])
    func nodeName(host: String, name: String) {
        #expect(HostCapacity.nodeName(fromHostName: host) == name)
        var node = Node(metadata: ObjectMeta(name: HostCapacity.nodeName(fromHostName: host)))
        node.applyDefaults()
        #expect(node.validateAll().isEmpty)
    }

    @Test("a failed start reports the last error line of the engine's latest run", arguments: [
        ("--- t0 starting: a\nsome info\nerror: /m.gguf: no such file\n", "error: /m.gguf: no such file"),
        ("--- t0 starting: a\nall fine\n", nil),
        ("--- t0 starting: a\nerror: old\n--- t1 starting: b\nloading\n", nil),
        ("--- t0 starting: a\nerror: first\nError: bind(): Address already in use (errno: 98)\n",
         "Error: bind(): Address already in use (errno: 98)"),
        ("no banner\nerror: x\n", "error: x"),
    ] as [(String, String?)])
    func lastErrorLine(log: String, expected: String?) {
        #expect(ReplicaLogFile.lastErrorLine(in: log) == expected)
    }

    @Test("the error line is read from the log file")
    func lastErrorLineFromFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agent-log-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "--- starting\nsome info\nerror: /m.gguf: no such file\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ReplicaLogFile.lastErrorLine(path: path) == "error: /m.gguf: no such file")
        #expect(ReplicaLogFile.lastErrorLine(path: path + ".missing") == nil)
    }

    @Test("tail keeps the last N lines", arguments: [
        ("a\nb\nc\n", 2, "b\nc\n"), ("a\nb\nc", 2, "b\nc"), ("a\nb\n", 5, "a\nb\n"), ("a\nb\n", 0, ""), ("", 3, ""),
        ("a\n\nb\n", 2, "\nb\n"),
    ] as [(String, Int, String)])
    func tail(text: String, lines: Int, expected: String) {
        #expect(String(decoding: ReplicaLogFile.tail(Data(text.utf8), lines: lines), as: UTF8.self) == expected)
        #expect(ReplicaLogFile.tail(Data(text.utf8), lines: nil) == Data(text.utf8))
    }

    @Test("a log over its cap is cut to its last half, from a whole line, and says so")
    func logCap() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agent-cap-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lines = (1...400).map { "line \($0) " + String(repeating: "x", count: 20) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(!ReplicaLogFile.enforceCap(path: path, maxBytes: 1 << 20), "under the cap: untouched")
        #expect(ReplicaLogFile.enforceCap(path: path, maxBytes: 4096))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.utf8.count <= 4096)
        let kept = text.split(separator: "\n")
        #expect(kept.first?.contains("log truncated by the swell agent") == true)
        #expect(kept.last == Substring(lines.last!))
        #expect(kept.dropFirst().allSatisfy { lines.contains(String($0)) }, "only whole lines remain")
        #expect(kept.count > 50)
    }

    @Test("the engine command comes from the replica's spec; the port is added at launch")
    func engineCommand() {
        let replica = Replica(metadata: ObjectMeta(name: "chat-1", namespace: "default"),
                              spec: ReplicaSpec(serviceName: "chat", model: ModelSpec(path: "/m.gguf", contextLength: 2048),
                                                engine: EngineSpec(threads: 2, kvCacheTokens: 4096, blockSize: 32, maxBatchTokens: 256)))
        let command = EngineLauncher.command(for: replica)
        func value(_ flag: String) -> String? { command.firstIndex(of: flag).map { command[$0 + 1] } }
        #expect(Array(command.prefix(2)) == ["engine", "serve"])
        #expect(value("--model") == "/m.gguf")
        #expect(value("--host") == "127.0.0.1")
        #expect(value("--served-model-name") == "chat")
        #expect(value("--threads") == "2")
        #expect(value("--kv-cache-tokens") == "4096")
        #expect(value("--block-size") == "32")
        #expect(value("--max-batch-tokens") == "256")
        #expect(value("--max-prompt-tokens") == "2048")
        #expect(!command.contains("--port"))
        #expect(EngineLauncher.arguments(command: command, port: 9000).suffix(2) == ["--port", "9000"])
        var changed = replica
        changed.spec.engine?.threads = 3
        #expect(EngineLauncher.command(for: changed) != command)
    }

    @Test("the state file survives a reload and forgets removed entries")
    func stateFile() {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agent-state-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = AgentStateFile(path: path)
        let a = AgentStateFile.Entry(pid: 10, startTime: 99, port: 9000, replicaUID: "u1", command: ["engine", "serve"], restarts: 2)
        file.set("default/a", a)
        file.set("default/b", .init(pid: 11, startTime: 98, port: 9001, replicaUID: nil, command: [], restarts: 0))
        file.set("default/b", nil)
        #expect(AgentStateFile(path: path).all == ["default/a": a])
        try? "not json".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(AgentStateFile(path: path).all.isEmpty, "a damaged file counts as empty")
    }

    @Test("engines are recognised from /proc by their owner's state file", arguments: [
        ("/d/agent-state.json", "default/chat-1", true),
        ("/other/agent-state.json", "default/chat-1", false),
    ])
    func orphanParse(owner: String, replica: String, found: Bool) {
        let cmdline = Data((["/usr/bin/swell", "engine", "serve", "--model", "/m.gguf", "--host", "127.0.0.1", "--port", "41000"]
            .joined(separator: "\0") + "\0").utf8)
        let environ = Data("PATH=/bin\0SWELL_AGENT_STATE=\(owner)\0SWELL_REPLICA=\(replica)\0SWELL_REPLICA_UID=u-1\0".utf8)
        let engine = OrphanScanner.parse(pid: 77, startTime: 5, cmdline: cmdline, environ: environ, stateFile: "/d/agent-state.json")
        if found {
            #expect(engine == .init(pid: 77, startTime: 5, replicaKey: replica, replicaUID: "u-1",
                                    command: ["engine", "serve", "--model", "/m.gguf", "--host", "127.0.0.1"], port: 41000))
        } else {
            #expect(engine == nil)
        }
        let notAnEngine = Data(["/usr/bin/swell", "server", "--port", "1"].joined(separator: "\0").utf8)
        #expect(OrphanScanner.parse(pid: 1, startTime: 1, cmdline: notAnEngine, environ: environ, stateFile: owner) == nil)
    }

    @Test("status: what the lifecycle reports, with the endpoint only while Ready, usage rounded, QoS while a process runs")
    func statusReport() {
        let usage = ProcStat(startTime: 1, cpuSeconds: 1.23456, residentBytes: 300 << 20)
        let ready = ReplicaLifecycle.Report(phase: .ready, reason: nil, message: nil, restarts: 1, pid: 42, ready: true)
        let now = Timestamp(secondsSince1970: 1_000)
        let qos = QoSEnforcement(mechanism: .cgroupV1, cgroups: ["/sys/fs/cgroup/cpu/swell/n/default_r"],
                                 settings: ["cpu.shares": "512", "oom_score_adj": "875"])
        let status = ReplicaStatusReport.status(
            from: .init(report: ready, port: 9000, startTime: now, usage: usage, qosClass: .burstable, qos: qos), current: nil, now: now)
        #expect(status.phase == .ready)
        #expect(status.qos == qos)
        #expect(status.pid == 42 && status.port == 9000 && status.endpoint == "http://127.0.0.1:9000")
        #expect(status.cpuSeconds == 1.23 && status.memoryBytes == 300 << 20)
        #expect(status.restarts == 1 && status.qosClass == .burstable && status.startTime == now)
        #expect(status.conditions?[type: "Ready"]?.status == .true)

        let starting = ReplicaLifecycle.Report(phase: .starting, reason: nil, message: nil, restarts: 1, pid: 42, ready: false)
        let later = Timestamp(secondsSince1970: 1_010)
        let unready = ReplicaStatusReport.status(
            from: .init(report: starting, port: 9000, startTime: now, usage: usage, qosClass: .burstable), current: status, now: later)
        #expect(unready.endpoint == nil && unready.port == 9000)
        #expect(unready.conditions?[type: "Ready"]?.status == .false)
        #expect(unready.conditions?[type: "Ready"]?.lastTransitionTime == later)

        let gone = ReplicaLifecycle.Report(phase: .failed, reason: "CrashLoopBackOff", message: "m", restarts: 2, pid: nil, ready: false)
        let failed = ReplicaStatusReport.status(
            from: .init(report: gone, port: nil, startTime: nil, usage: nil, qosClass: .burstable, qos: qos), current: unready, now: later)
        #expect(failed.pid == nil && failed.port == nil && failed.cpuSeconds == nil && failed.startTime == nil)
        #expect(failed.qos == nil, "nothing is enforced once the engine has ended")
        #expect(failed.qosClass == .burstable)
        #expect(failed.reason == "CrashLoopBackOff" && failed.message == "m")
    }

    @Test("status is written on any change at once, but usage alone only every interval", arguments: [
        ("nothing changed", false, false, 100.0, false),
        ("phase changed", true, false, 0.1, true),
        ("usage only, just written", false, true, 1.0, false),
        ("usage only, interval passed", false, true, 5.0, true),
    ])
    func statusWrites(name: String, changePhase: Bool, changeUsage: Bool, sinceWrite: Double, expected: Bool) {
        let current = ReplicaStatus(phase: .ready, pid: 1, restarts: 0, cpuSeconds: 1, memoryBytes: 100)
        var next = current
        if changePhase { next.phase = .draining }
        if changeUsage { next.cpuSeconds = 2 }
        let now = ContinuousClock.now
        let lastWrite = now - .milliseconds(Int64(sinceWrite * 1000))
        #expect(ReplicaStatusReport.needsWrite(current: current, next: next, lastWrite: lastWrite, now: now,
                                               usageInterval: .seconds(5)) == expected, "\(name)")
        #expect(ReplicaStatusReport.needsWrite(current: nil, next: next, lastWrite: nil, now: now, usageInterval: .seconds(5)))
    }

    @Test("the newest of the cached and the last written replica wins, for the same object only")
    func newestReplica() {
        var cached = Replica(metadata: ObjectMeta(name: "r", namespace: "default"),
                             spec: ReplicaSpec(serviceName: "s", model: ModelSpec(path: "/m.gguf")))
        cached.metadata.uid = "u1"
        cached.metadata.resourceVersion = "10"
        var written = cached
        written.metadata.resourceVersion = "12"
        #expect(ReplicaRuntime.newest(cached, written)?.metadata.resourceVersion == "12")
        #expect(ReplicaRuntime.newest(written, cached)?.metadata.resourceVersion == "12")
        var other = written
        other.metadata.uid = "u2"
        #expect(ReplicaRuntime.newest(cached, other)?.metadata.uid == "u1", "another object of the same name never wins")
        #expect(ReplicaRuntime.newest(nil, written) == nil, "gone from the cache is gone")
    }

    @Test("node status: capacity, allocatable minus the reserve, Ready with a stable transition time")
    func nodeStatus() throws {
        let configuration = NodeAgent.Configuration(nodeName: "n1", dataDirectory: "/d", swellExecutable: "/bin/swell",
                                                    cpuCores: 2, memoryBytes: 8 << 30, reservedCPUMillis: 500,
                                                    reservedMemoryBytes: 1 << 30)
        let t1 = Timestamp(secondsSince1970: 100), t2 = Timestamp(secondsSince1970: 105)
        let first = NodeRegistration.status(configuration, address: "http://127.0.0.1:1", previous: nil, ready: true, now: t1)
        #expect(first.capacity == ["cpu": try Quantity("2"), "memory": try Quantity("8Gi")])
        #expect(first.allocatable?["cpu"]?.millis == 1500)
        #expect(first.allocatable?["memory"]?.integerValue == 7 << 30)
        #expect(first.address == "http://127.0.0.1:1" && first.agentVersion == swellVersion && first.heartbeatTime == t1)
        let second = NodeRegistration.status(configuration, address: "http://127.0.0.1:1", previous: first, ready: true, now: t2)
        #expect(second.heartbeatTime == t2)
        #expect(second.conditions?[type: "Ready"]?.lastTransitionTime == t1, "unchanged status keeps its transition time")
        let stopped = NodeRegistration.status(configuration, address: nil, previous: second, ready: false, now: t2)
        #expect(stopped.conditions?[type: "Ready"]?.status == .false)
        #expect(stopped.conditions?[type: "Ready"]?.reason == "AgentStopped")

        var huge = configuration
        huge.reservedCPUMillis = 10_000
        #expect(NodeRegistration.status(huge, address: nil, previous: nil, ready: true, now: t1).allocatable?["cpu"]?.millis == 0)
    }

    @Test("the advertised log URL is reachable from this host", arguments: [
        ("127.0.0.1", "http://127.0.0.1:80"), ("0.0.0.0", "http://127.0.0.1:80"), ("::", "http://[::1]:80"),
        ("10.0.0.5", "http://10.0.0.5:80"), ("::1", "http://[::1]:80"),
    ])
    func advertisedURL(host: String, url: String) {
        #expect(AgentLogServer.advertisedURL(host: host, port: 80) == url)
    }
}
