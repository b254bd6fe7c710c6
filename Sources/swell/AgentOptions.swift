import ArgumentParser
import Foundation
import SwellAgent

/// Node agent options shared by `swell server` (embedded agent) and `swell agent`.
struct AgentOptions: ParsableArguments {
    @Option(name: .customLong("node-name"), help: "Name of this node (default: the host name).")
    var nodeName: String?

    @Option(name: .customLong("node-cpu"), help: "CPU cores to offer (default: the online CPUs).")
    var cpu: Double?

    @Option(name: .customLong("node-memory"), help: "Memory to offer, e.g. 8Gi (default: MemTotal).")
    var memory: String?

    @Option(name: .customLong("agent-listen"), help: ArgumentHelp("Address of the agent's log endpoint; port 0 picks a free one.", valueName: "host:port"),
            transform: ListenAddress.argument)
    var agentListen = ListenAddress(host: "127.0.0.1", port: 0)

    @Option(name: .customLong("drain-grace-period"), help: "Seconds a deleted replica's engine may finish in-flight requests.")
    var drainGracePeriod = 30.0

    @Option(name: .customLong("engine-binary"), help: "The swell executable that runs engines (default: this one).")
    var engineBinary: String?

    func configuration(dataDirectory: String) throws -> NodeAgent.Configuration {
        var memoryBytes = HostCapacity.memoryBytes
        if let memory {
            guard let quantity = try? Quantity(memory), quantity.integerValue > 0 else {
                throw ValidationError("--node-memory: \"\(memory)\" is not a quantity such as 8Gi")
            }
            memoryBytes = quantity.integerValue
        }
        if let cpu, cpu <= 0 { throw ValidationError("--node-cpu must be positive") }
        return NodeAgent.Configuration(
            nodeName: nodeName ?? ProcessInfo.processInfo.hostName.lowercased().split(separator: ".").first.map(String.init) ?? "node",
            dataDirectory: URL(fileURLWithPath: dataDirectory).standardizedFileURL.path,
            swellExecutable: engineBinary ?? Self.currentExecutable(),
            cpuCores: cpu ?? Double(HostCapacity.cpuCores), memoryBytes: memoryBytes,
            listenHost: agentListen.host, listenPort: agentListen.port,
            drainGracePeriod: .milliseconds(Int(drainGracePeriod * 1000)))
    }

    static func currentExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

import SwellAPI
