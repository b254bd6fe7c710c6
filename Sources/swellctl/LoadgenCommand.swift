import ArgumentParser
import Dispatch
import Foundation
import SwellClient
import SwellLoad

/// `swellctl loadgen` — drives an OpenAI-compatible target (the router, or one engine) with a
/// scenario, shows progress, and prints a report; the scenario's SLO assertions set the exit status.
struct LoadgenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "Send realistic LLM traffic to a service and report latency, throughput and replicas.",
        discussion: """
            Either -f SCENARIO.yaml (see manifests/scenarios/ and docs/loadgen.md) or flags for a single \
            phase: --model chat --rate 5 --duration 60s (open loop) or --users 8 --think-time 1s (closed \
            loop). Progress goes to standard error, the report to standard output. Replica counts come \
            from the API server (--server); queue length from the target's /metrics. Only loopback \
            targets are allowed unless --allow-remote is given. Ctrl-C stops early and prints the partial \
            report. Exit status: 0, or 1 when an SLO assertion fails or the run cannot start, 130 when interrupted.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .customLong("filename")], help: ArgumentHelp("The scenario file.", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("Base URL of the target (default: the scenario's, else \(Scenario.defaultTarget)).", valueName: "url"))
    var target: String?

    @Option(help: ArgumentHelp("The model (and InferenceService) name to send requests for.", valueName: "name"))
    var model: String?

    @Option(help: ArgumentHelp("Open loop: requests per second.", valueName: "r"))
    var rate: Double?

    @Option(help: ArgumentHelp("Open-loop arrivals: constant (evenly spaced) or poisson.", valueName: "process"))
    var arrival = "constant"

    @Option(help: ArgumentHelp("Closed loop: concurrent users, each waiting for its answer before the next request.", valueName: "n"))
    var users: Int?

    @Option(name: .customLong("think-time"), help: ArgumentHelp("Closed loop: pause between a user's requests.", valueName: "duration"))
    var thinkTime = "0s"

    @Option(help: ArgumentHelp("Length of the single phase (default 60s).", valueName: "duration"))
    var duration: String?

    @Option(help: ArgumentHelp("chat or completion.", valueName: "api"))
    var api: String?

    @Flag(name: .customLong("no-stream"), help: "Ask for whole responses (no TTFT or inter-token latency then).")
    var noStream = false

    @Option(name: .customLong("prompt-tokens"), help: ArgumentHelp("Approximate prompt length (default 64).", valueName: "n"))
    var promptTokens: Int?

    @Option(name: .customLong("output-tokens"), help: ArgumentHelp("Tokens to generate per request (default 32).", valueName: "n"))
    var outputTokens: Int?

    @Option(help: ArgumentHelp("Seed for arrivals, classes, lengths and prompts.", valueName: "n"))
    var seed: UInt64?

    @Option(name: .customLong("max-requests"), help: ArgumentHelp("Stop after sending this many requests.", valueName: "n"))
    var maxRequests: Int?

    @Option(name: .customLong("max-duration"), help: ArgumentHelp("Stop after this long, whatever the scenario says.", valueName: "duration"))
    var maxDuration: String?

    @Flag(name: .customLong("allow-remote"), help: "Allow a target that is not on this machine (loopback).")
    var allowRemote = false

    @Option(help: ArgumentHelp("Write the report as JSON.", valueName: "file"))
    var out: String?

    @Option(help: ArgumentHelp("Write the per-second timeline as CSV.", valueName: "file"))
    var timeline: String?

    @Option(help: ArgumentHelp("Write a chart of load, replicas and p99 TTFT as SVG.", valueName: "file"))
    var svg: String?

    @Flag(name: [.short, .long], help: "No progress lines.")
    var quiet = false

    func validate() throws {
        if let rate, !(rate > 0 && rate.isFinite) { throw ArgumentParser.ValidationError("--rate must be more than 0") }
        if let users, !(1...10_000).contains(users) { throw ArgumentParser.ValidationError("--users must be between 1 and 10000") }
        if let maxRequests, !(1...Limits.ceilingRequests).contains(maxRequests) {
            throw ArgumentParser.ValidationError("--max-requests must be between 1 and \(Limits.ceilingRequests)")
        }
        if let promptTokens, promptTokens < 1 { throw ArgumentParser.ValidationError("--prompt-tokens must be at least 1") }
        if let outputTokens, outputTokens < 1 { throw ArgumentParser.ValidationError("--output-tokens must be at least 1") }
        if !["constant", "poisson"].contains(arrival) { throw ArgumentParser.ValidationError("--arrival must be constant or poisson") }
        if let api, RequestMix.API(rawValue: api) == nil { throw ArgumentParser.ValidationError("--api must be chat or completion") }
        if rate != nil, users != nil { throw ArgumentParser.ValidationError("give --rate (open loop) or --users (closed loop), not both") }
        if file != nil, rate != nil || users != nil || duration != nil {
            throw ArgumentParser.ValidationError("--rate, --users and --duration describe a phase; with -f the scenario's phases are used")
        }
        if file == nil, rate == nil, users == nil { throw ArgumentParser.ValidationError("give -f SCENARIO, or --rate R or --users N") }
    }

    func run() async throws {
        let scenario = try makeScenario()
        if !allowRemote, !TargetAddress.isLoopback(scenario.target) {
            throw CLIError("the target \(scenario.target) is not on this machine; pass --allow-remote to send load to it")
        }
        let http = LoadRun.makeHTTPClient(for: scenario)
        let replicas = (try? global.serverURL()).map { url in
            LoadgenReplicaCounts(client: APIClient(baseURL: url, httpClient: commandLineHTTPClient,
                                                   configuration: APIClient.Configuration(requestTimeout: .seconds(2))),
                                 namespace: global.effectiveNamespace)
        }
        let observer = ClusterObserver(replicas: replicas, queue: QueueLengthProbe(http: http, targetURL: scenario.target, service: scenario.model),
                                       service: scenario.model)
        let progress = ProgressPrinter(enabled: !quiet, plannedSeconds: scenario.plannedSeconds)
        let run = LoadRun(scenario: scenario, http: http, observer: observer, onProgress: { progress.show($0) })

        let interrupts = Self.onInterrupt {
            printError("\ninterrupted: stopping and printing the partial report (Ctrl-C again to quit at once)")
            run.interrupt()
        }
        printError("loadgen \(scenario.name): \(scenario.phases.count) phase(s), \(DurationText.format(scenario.plannedSeconds)) "
            + "against \(scenario.target) (model \(scenario.model))")
        let outcome = await run.run()
        interrupts.cancel()
        progress.finish()
        try? await http.shutdown()

        printOutput(ReportText.render(outcome.report))
        try write(outcome)
        if outcome.report.stoppedEarly == "interrupted" { throw ExitCode(130) }
        let failed = outcome.report.slo.assertions.filter { !$0.passed }
        if !failed.isEmpty {
            for result in failed {
                printError("error: SLO assertion failed: \(result.assertion) (measured \(result.measured))")
            }
            throw AlreadyReported()
        }
    }

    /// The scenario from the file or the flags, with the flags that override a file applied.
    func makeScenario() throws -> Scenario {
        var scenario: Scenario
        if let file {
            let source = try ManifestFiles.read([file])
            guard let text = source.first?.text else { throw CLIError("cannot read \"\(file)\"") }
            do {
                scenario = try ScenarioDecoder.decode(text, source: file)
            } catch {
                printError(error.description)
                printError("error: \(error.problems.count) problem\(error.problems.count == 1 ? "" : "s") found in \(file); nothing was sent")
                throw AlreadyReported()
            }
        } else {
            guard let model else { throw CLIError("--model is required without a scenario file") }
            let seconds = try Self.seconds(duration ?? "60s", flag: "--duration")
            let think = try Self.seconds(thinkTime, flag: "--think-time", allowZero: true)
            var load = Phase.Load.open(.constant(rate: rate ?? 1, seconds: seconds, poisson: arrival == "poisson"))
            if let users { load = .closed(users: users, thinkSeconds: think, seconds: seconds) }
            scenario = Scenario(name: "flags", model: model, phases: [Phase(name: users == nil ? arrival : "closed loop", load: load)])
        }
        if let target {
            if let problem = TargetAddress.problem(target) { throw CLIError("--target \(problem)") }
            scenario.target = target
        }
        if let model { scenario.model = model }
        if let seed { scenario.seed = seed }
        if let api, let parsed = RequestMix.API(rawValue: api) { scenario.requests.api = parsed }
        if noStream { scenario.requests.stream = false }
        if let promptTokens { scenario.requests.promptTokens = .fixed(promptTokens) }
        if let outputTokens { scenario.requests.outputTokens = .fixed(outputTokens) }
        if let maxRequests { scenario.limits.maxRequests = maxRequests }
        if let maxDuration {
            let seconds = try Self.seconds(maxDuration, flag: "--max-duration")
            guard seconds <= Limits.ceilingSeconds else {
                throw CLIError("--max-duration must be at most \(DurationText.format(Limits.ceilingSeconds))")
            }
            scenario.limits.maxSeconds = seconds
        }
        return scenario
    }

    private func write(_ outcome: LoadRun.Outcome) throws {
        func save(_ data: Data, to path: String, what: String) throws {
            do {
                try data.write(to: URL(fileURLWithPath: path))
            } catch {
                throw CLIError("cannot write the \(what) to \(path): \(error.localizedDescription)")
            }
        }
        if let out { try save(try outcome.report.jsonData() + Data("\n".utf8), to: out, what: "report") }
        if let timeline { try save(Data(outcome.timeline.csv.utf8), to: timeline, what: "timeline") }
        if let svg { try save(Data(ChartSVG.render(outcome.timeline, report: outcome.report).utf8), to: svg, what: "chart") }
    }

    private static func seconds(_ text: String, flag: String, allowZero: Bool = false) throws -> Double {
        guard let seconds = DurationText.seconds(text), allowZero ? seconds >= 0 : seconds > 0 else {
            throw CLIError("\(flag) must be a duration\(allowZero ? "" : " above 0") such as 30s, 250ms or 2m (got \"\(text)\")")
        }
        return seconds
    }

    /// Calls `handler` on the first SIGINT; a second one exits at once.
    private static func onInterrupt(_ handler: @escaping @Sendable () -> Void) -> any DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let count = InterruptCount()
        source.setEventHandler {
            if count.increment() == 1 { handler() } else { Foundation.exit(130) }
        }
        source.resume()
        return source
    }
}

/// A counter the signal handler can bump from its queue.
private final class InterruptCount: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
