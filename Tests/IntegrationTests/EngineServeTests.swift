import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// `swell engine serve` as a real child process on the real SmolLM2 model.
@Suite("swell engine serve", .serialized)
struct EngineServeTests {
    static let modelPath = "/var/lib/swell/models/smollm2-135m-instruct-q4_1.gguf"
    static let listeningPrefix = "swell engine listening on "

    static func start(_ arguments: [String], in directory: URL) async throws -> (ChildProcess, String) {
        let child = try ChildProcess(executable: try Binaries.swell, arguments: ["engine", "serve"] + arguments,
                                     logDirectory: directory)
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if let line = child.stdout.split(separator: "\n").first(where: { $0.hasPrefix(listeningPrefix) }) {
                return (child, String(line.dropFirst(listeningPrefix.count)))
            }
            if !child.isRunning {
                let exit = await child.waitForExit()
                throw ServerFailure("swell engine serve exited (\(exit)) before listening:\n\(child.stderr)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        child.signal(SIGKILL)
        throw ServerFailure("swell engine serve printed no listening line:\n\(child.stdout)\n\(child.stderr)")
    }

    static func post(_ url: String, _ body: String) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        #expect(response.status.code == 200, "\(String(buffer: bytes))")
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any])
    }

    @Test("a chat completion on SmolLM2, a prefix-cache hit on the next one, and a clean exit on SIGTERM")
    func chatCompletion() async throws {
        try #require(FileManager.default.fileExists(atPath: Self.modelPath), "run hack/setup.sh to install the model")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-engine-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (child, url) = try await Self.start(
            ["--model", Self.modelPath, "--port", "0", "--threads", "2", "--no-pin", "--kv-cache-tokens", "4096",
             "--served-model-name", "chat"], in: directory)
        #expect(child.stdout.contains("swell engine: loaded chat in "))

        let question = #"{"model":"chat","messages":[{"role":"system","content":"You are a helpful assistant who answers in one short sentence."},{"role":"user","content":"What is the capital of France?"}],"max_tokens":24,"temperature":0}"#
        let first = try await Self.post(url + "/v1/chat/completions", question)
        #expect(first["model"] as? String == "chat")
        let choice = try #require((first["choices"] as? [[String: Any]])?.first)
        let content = try #require((choice["message"] as? [String: Any])?["content"] as? String)
        #expect(!content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        #expect(["stop", "length"].contains(choice["finish_reason"] as? String))

        // The same system prompt again: its blocks come from the prefix cache, and greedy
        // decoding gives the same answer.
        let second = try await Self.post(url + "/v1/chat/completions", question)
        let usage = try #require(second["usage"] as? [String: Any])
        let cached = (usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
        #expect(cached >= 16)
        #expect(((second["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String == content)

        child.signal(SIGTERM)
        let exit = await child.waitForExit()
        #expect(exit.isCleanExit, "\(exit)\n\(child.stderr)")
    }

    @Test("--kv-cache-memory sizes the cache in whole blocks; a budget too small or not a quantity is refused")
    func cacheFromMemoryBudget() async throws {
        try #require(FileManager.default.fileExists(atPath: Self.modelPath), "run hack/setup.sh to install the model")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-engine-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let swell = try Binaries.swell
        let base = ["engine", "serve", "--model", Self.modelPath, "--port", "0", "--threads", "1", "--no-pin"]

        let notQuantity = try await ChildProcess.run(swell, base + ["--kv-cache-memory", "lots"], logDirectory: directory)
        #expect(!notQuantity.succeeded)
        #expect(notQuantity.stderr.contains("--kv-cache-memory: \"lots\" is not a positive quantity of bytes"), "\(notQuantity)")
        let both = try await ChildProcess.run(swell, base + ["--kv-cache-memory", "1Mi", "--kv-cache-tokens", "64"],
                                              logDirectory: directory)
        #expect(!both.succeeded)
        #expect(both.stderr.contains("give one of them"), "\(both)")
        // SmolLM2: 30 layers × 192 values × K and V × 2 bytes = 23040 bytes per token, 368640 per block.
        let tooSmall = try await ChildProcess.run(swell, base + ["--kv-cache-memory", "100Ki"], logDirectory: directory)
        #expect(!tooSmall.succeeded)
        #expect(tooSmall.stderr.contains("--kv-cache-memory 100Ki holds no KV cache block: one block of 16 tokens takes 368640 bytes"),
                "\(tooSmall)")

        // 1Mi holds two blocks: 32 tokens, and a request that needs more is refused with the numbers.
        let (child, url) = try await Self.start(Array(base.dropFirst(2)) + ["--kv-cache-memory", "1Mi"], in: directory)
        #expect(child.stdout.contains("KV cache 32 tokens f16, 0.7 MiB"), "\(child.stdout)")
        var request = HTTPClientRequest(url: url + "/v1/completions")
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: #"{"prompt":"one two three four five six","max_tokens":40}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        #expect(response.status.code == 400)
        #expect(body.contains("the KV cache holds 32 tokens"), "\(body)")
        child.signal(SIGTERM)
        #expect(await child.waitForExit().isCleanExit)
    }

    @Test("a missing model file fails at once with the path and reason on stderr")
    func badModelPath() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-engine-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ChildProcess.run(try Binaries.swell, ["engine", "serve", "--model", "/nonexistent/model.gguf",
                                                                     "--port", "0"], logDirectory: directory)
        #expect(!result.succeeded)
        #expect(result.stderr.hasPrefix("error: /nonexistent/model.gguf: "), "\(result)")
    }
}
