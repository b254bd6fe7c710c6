import ArgumentParser
import Foundation
import SwellEngine

#if canImport(Glibc)
import Glibc
#endif

/// `swell engine bench` — prompt and generation throughput, llama-bench style.
struct EngineBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prompt processing and generation speed (median tokens/s)."
    )

    @OptionGroup var modelOptions: EngineModelOptions

    @Option(name: .shortAndLong, help: "Prompt tokens per prompt-processing run (0 skips).")
    var p = 512

    @Option(name: .shortAndLong, help: "Tokens per generation run (0 skips).")
    var n = 128

    @Option(name: .shortAndLong,
            help: "Tokens already in the KV cache before each prompt and generation run, like llama-bench's -d (a prompt at a depth is a request whose prefix is cached).")
    var depth = 0

    @Option(name: .long, help: "Thread counts to measure, comma-separated.")
    var threads = "1,2"

    @Option(name: .long, help: "Runs per measurement; the median is reported.")
    var repetitions = 5

    @Option(name: .long, help: "KV cache element type: f32 or f16.")
    var kvCacheType = KVCacheStorage.f32

    @Option(name: .customLong("batched-sequences"),
            help: "Also measure batched decode of this many sequences at once (aggregate tokens/s), comma-separated.")
    var batchedSequences = ""

    func run() throws {
        let threadCounts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !threadCounts.isEmpty, threadCounts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--threads takes positive integers, e.g. 1,2")
        }
        guard repetitions >= 1, p >= 0, n >= 0, depth >= 0 else { throw ValidationError("counts must not be negative") }
        let batches = batchedSequences.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard batches.allSatisfy({ $0 >= 2 }),
              batches.count == batchedSequences.split(separator: ",").count else {
            throw ValidationError("--batched-sequences takes integers of at least 2, e.g. 4,8")
        }
        let model = try modelOptions.load()
        guard depth + max(p, n) <= model.config.contextLength else {
            throw ValidationError("--depth \(depth) plus \(max(p, n)) tokens exceeds the model's context of \(model.config.contextLength)")
        }
        let fileName = modelOptions.model.split(separator: "/").last.map(String.init) ?? modelOptions.model
        print("model \(fileName), kernels \(KernelSelection.description), KV cache \(kvCacheType.rawValue), \(repetitions) repetitions, median tokens/s")
        print("threads  test         tokens/s   (min … max)")
        var benchmark = EngineBenchmark(model: model, promptTokens: p, generationTokens: n, repetitions: repetitions)
        benchmark.pinned = !modelOptions.noPin
        benchmark.kvCacheStorage = kvCacheType
        benchmark.batchedSequences = batches
        benchmark.depth = depth
        let at = depth > 0 ? "@d\(depth)" : ""
        for count in threadCounts {
            let result = try benchmark.run(threads: count)
            if p > 0 { report(count, "pp\(p)\(at)", result.medianPrompt, result.promptTokensPerSecond) }
            if n > 0 { report(count, "tg\(n)\(at)", result.medianGeneration, result.generationTokensPerSecond) }
            for sequences in batches where n > 0 {
                report(count, "tg\(n)x\(sequences)", result.medianBatchedGeneration(sequences),
                       result.batchedGenerationTokensPerSecond[sequences] ?? [])
            }
        }
    }

    private func report(_ threads: Int, _ test: String, _ median: Double, _ samples: [Double]) {
        let figures = String(format: "%9.1f   (%.1f … %.1f)", median, samples.min() ?? 0, samples.max() ?? 0)
        print("\(EngineColumns.right(String(threads), 7))  \(EngineColumns.left(test, 10)) \(figures)")
        fflush(nil)
    }
}
