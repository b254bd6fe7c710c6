import ArgumentParser

/// `swell engine …` — placeholder until the engine commands land.
struct EngineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Run and inspect the inference engine."
    )
}
