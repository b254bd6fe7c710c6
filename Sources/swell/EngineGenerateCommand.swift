import ArgumentParser
import Foundation
import SwellEngine

#if canImport(Glibc)
import Glibc
#endif

/// `swell engine generate` — stream a completion for one prompt.
struct EngineGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a prompt, printing tokens as they come."
    )

    @OptionGroup var modelOptions: EngineModelOptions

    @Option(name: .long, help: "The prompt text.")
    var prompt: String

    @Flag(name: .long, help: "Wrap the prompt as a user message in the model's chat template.")
    var chat = false

    @Option(name: .shortAndLong, help: "Maximum tokens to generate.")
    var n = 64

    @Option(name: .long, help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(name: .long, help: "Top-k (0 = off).")
    var topK = 40

    @Option(name: .long, help: "Top-p (1 = off).")
    var topP: Float = 0.95

    @Option(name: .long, help: "Min-p (0 = off).")
    var minP: Float = 0.05

    @Option(name: .long, help: "Repetition penalty (1 = off).")
    var repeatPenalty: Float = 1

    @Option(name: .long, help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Option(name: .long, parsing: .singleValue, help: "Stop sequence (repeatable).")
    var stop: [String] = []

    @Option(name: .long, help: "Compute threads (default: all CPUs).")
    var threads: Int?

    @Option(name: .long, help: "KV cache element type: f32 or f16.")
    var kvCacheType = KVCacheStorage.f16

    @Option(name: .long, help: "Context length (default: the model's, capped at 4096).")
    var contextLength: Int?

    func validate() throws {
        guard n >= 0 else { throw ValidationError("-n must not be negative") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let model = try modelOptions.load()
        var text = prompt
        if chat {
            guard let template = ChatTemplate(tokenizer: model.tokenizer) else {
                throw ValidationError("the model has no ChatML tokens; run without --chat")
            }
            text = template.render([ChatMessage(role: "user", content: prompt)])
        }
        let promptTokens = model.tokenizer.encode(text)
        let length = min(contextLength ?? min(model.config.contextLength, 4096), model.config.contextLength)
        guard promptTokens.count < length else {
            throw EngineCommandError("prompt has \(promptTokens.count) tokens; the context holds \(length)")
        }
        let context = InferenceContext(model: model, contextLength: length, storage: kvCacheType, threads: threads ?? WorkerPool.availableCPUs,
                                       pinned: !modelOptions.noPin)
        let options = GenerationOptions(
            maxTokens: min(n, length - promptTokens.count),
            sampling: SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                         repetitionPenalty: repeatPenalty, seed: seed),
            stopSequences: stop
        )
        if !chat { print(prompt, terminator: "") }
        fflush(nil)
        let result: GenerationResult
        do {
            result = try Generator(context: context).generate(prompt: promptTokens, options: options) { piece in
                print(piece, terminator: "")
                fflush(nil)
                return true
            }
        } catch {
            throw EngineCommandError(error.description)
        }
        print()
        let promptSpeed = String(format: "%.1f", result.promptTokensPerSecond)
        let generationSpeed = String(format: "%.1f", result.generationTokensPerSecond)
        print("[prompt: \(result.promptTokenCount) tokens, \(promptSpeed) tok/s | generation: \(result.tokens.count) tokens, "
              + "\(generationSpeed) tok/s | finish: \(result.finishReason.rawValue) | threads \(context.pool.threads) | "
              + "kernels \(KernelSelection.description)]")
    }
}
