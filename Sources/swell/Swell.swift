import ArgumentParser
import SwellAPI

/// `swell` — the control-plane binary: `swell server`, and later `swell agent`.
@main
struct Swell: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swell",
        abstract: "Swell: a Kubernetes-style autoscaling control plane for LLM inference.",
        version: swellVersion,
        subcommands: [
            ServerCommand.self,
            AgentCommand.self,
            EngineCommand.self,
            VersionCommand.self,
        ]
    )
}
