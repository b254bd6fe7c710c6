import ArgumentParser
import Foundation
import SwellAPI
import SwellAgent

/// Node agent options shared by `swell server` (the embedded agent) and `swell agent`.
struct AgentOptions: ParsableArguments {
    @Option(name: .customLong("node-name"), help: "Name of this node (default: the host name).")
    var nodeName: String?

    @Option(name: [.customLong("cpu"), .customLong("node-cpu")], help: ArgumentHelp("CPU cores this node offers (default: the online CPUs).", valueName: "cores"))
    var cpu: Double?

    @Option(name: [.customLong("memory"), .customLong("node-memory")], help: ArgumentHelp("Memory this node offers, e.g. 8Gi (default: MemTotal from /proc/meminfo).", valueName: "quantity"))
    var memory: String?

    @Option(name: .customLong("reserved-cpu"), help: ArgumentHelp("CPU held back from allocatable for the system, e.g. 500m.", valueName: "quantity"))
    var reservedCPU = "0"

    @Option(name: .customLong("reserved-memory"), help: ArgumentHelp("Memory held back from allocatable for the system, e.g. 1Gi.", valueName: "quantity"))
    var reservedMemory = "0"

    @Option(name: .customLong("agent-listen"), help: ArgumentHelp("Address of the agent's log endpoint; port 0 picks a free one.", valueName: "host:port"),
            transform: ListenAddress.argument)
    var agentListen = ListenAddress(host: "127.0.0.1", port: 0)

    @Option(name: .customLong("drain-grace-period"), help: ArgumentHelp("Seconds a deleted replica's engine may finish in-flight requests before SIGTERM.", valueName: "seconds"))
    var drainGracePeriod = 30.0

    @Option(name: .customLong("engine-log-max-size"), help: ArgumentHelp("Size at which a replica's log is cut to its last half.", valueName: "quantity"))
    var engineLogMaxSize = "10Mi"

    @Option(name: .customLong("qos-enforcement"),
            help: ArgumentHelp("How engines are held to their QoS class: auto (cgroup v2, else v1, else nice), cgroup-v2, cgroup-v1, nice or off.",
                               valueName: "mechanism"))
    var qosEnforcement = QoSEnforcementMode.auto

    @Option(name: .customLong("engine-binary"), help: ArgumentHelp("The swell executable that runs engines (default: this one).", valueName: "path"))
    var engineBinary: String?

    func validate() throws {
        if let cpu, !(cpu > 0) { throw ValidationError("--cpu must be a positive number of cores") }
        if let memory { _ = try Self.bytes(memory, flag: "--memory", positive: true) }
        _ = try Self.millis(reservedCPU, flag: "--reserved-cpu")
        _ = try Self.bytes(reservedMemory, flag: "--reserved-memory", positive: false)
        _ = try Self.bytes(engineLogMaxSize, flag: "--engine-log-max-size", positive: true)
        if !(drainGracePeriod >= 0) { throw ValidationError("--drain-grace-period must be 0 or more seconds") }
        if let engineBinary, !FileManager.default.isExecutableFile(atPath: engineBinary) {
            throw ValidationError("--engine-binary: \(engineBinary) is not an executable file")
        }
    }

    func configuration(dataDirectory: String, listen: ListenAddress? = nil) throws -> NodeAgent.Configuration {
        let address = listen ?? agentListen
        return NodeAgent.Configuration(
            nodeName: nodeName ?? HostCapacity.nodeName(fromHostName: ProcessInfo.processInfo.hostName),
            dataDirectory: URL(fileURLWithPath: dataDirectory).standardizedFileURL.path,
            swellExecutable: engineBinary ?? Self.currentExecutable(),
            cpuCores: cpu ?? Double(HostCapacity.cpuCores),
            memoryBytes: try memory.map { try Self.bytes($0, flag: "--memory", positive: true) } ?? HostCapacity.memoryBytes,
            reservedCPUMillis: try Self.millis(reservedCPU, flag: "--reserved-cpu"),
            reservedMemoryBytes: try Self.bytes(reservedMemory, flag: "--reserved-memory", positive: false),
            listenHost: address.host, listenPort: address.port,
            drainGracePeriod: .milliseconds(Int64((drainGracePeriod * 1000).rounded())),
            logMaxBytes: Int(try Self.bytes(engineLogMaxSize, flag: "--engine-log-max-size", positive: true)),
            qosEnforcement: qosEnforcement)
    }

    static func currentExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private static func bytes(_ text: String, flag: String, positive: Bool) throws -> Int64 {
        guard let quantity = try? Quantity(text), quantity.value >= 0, !positive || quantity.value > 0 else {
            throw ValidationError("\(flag): \"\(text)\" is not a\(positive ? " positive" : "") quantity of bytes such as 512Mi or 8Gi")
        }
        return quantity.integerValue
    }

    private static func millis(_ text: String, flag: String) throws -> Int64 {
        guard let quantity = try? Quantity(text), quantity.value >= 0 else {
            throw ValidationError("\(flag): \"\(text)\" is not a CPU quantity such as 500m or 1")
        }
        return quantity.millis
    }
}

extension QoSEnforcementMode: ExpressibleByArgument {}
