import ArgumentParser

/// `swell engine …` — run and inspect the inference engine on a GGUF model.
struct EngineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Run and inspect the inference engine.",
        subcommands: [
            EngineServeCommand.self,
            EngineGenerateCommand.self,
            EngineTokenizeCommand.self,
            EngineInspectCommand.self,
            EngineBenchCommand.self,
            EngineBenchServeCommand.self,
            EngineConvertCommand.self,
        ]
    )
}
