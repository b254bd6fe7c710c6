import Foundation
import SwellAPI

/// Every problem found in a scenario file, each as `file:line: field: message`.
public struct ScenarioError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]

    public init(_ problems: [String]) {
        self.problems = problems
    }

    public var description: String { problems.joined(separator: "\n") }
}

/// Reads a scenario from YAML (or JSON) strictly: unknown fields, wrong types and out-of-range
/// values are all reported at once, located by line, and nothing runs.
public enum ScenarioDecoder {
    /// `readFile` loads trace files, whose relative paths are taken from the scenario's directory.
    public static func decode(_ text: String, source: String,
                              readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) })
        throws(ScenarioError) -> Scenario {
        let manifests: [Manifest]
        do {
            manifests = try ManifestParser.parse(text, source: source)
        } catch {
            throw ScenarioError(["\(error)"])
        }
        guard manifests.count == 1, let manifest = manifests.first else {
            throw ScenarioError(["\(source):1: a scenario file holds exactly one document (found \(manifests.count))"])
        }
        let directory = (source as NSString).deletingLastPathComponent
        var reader = FieldReader(manifest: manifest)
        let scenario = reader.scenario(manifest.document, directory: directory, readFile: readFile)
        if !reader.problems.isEmpty || scenario == nil {
            throw ScenarioError(reader.problems.isEmpty ? ["\(source):1: invalid scenario"] : reader.problems)
        }
        return scenario!
    }
}

/// Walks the document, collecting problems instead of stopping at the first.
struct FieldReader {
    let manifest: Manifest
    var problems: [String] = []

    init(manifest: Manifest) {
        self.manifest = manifest
    }

    mutating func fail(_ path: FieldPath, _ message: String) {
        let field = path.description
        problems.append("\(manifest.source):\(manifest.line(of: field)): \(field.isEmpty ? "" : "\(field): ")\(message)")
    }

    // MARK: Shapes

    /// The fields of a mapping, reporting keys outside `allowed`.
    mutating func object(_ value: JSONValue?, _ path: FieldPath, allowed: [String]) -> [String: JSONValue]? {
        guard let value, value != .null else { return nil }
        guard case .object(let fields) = value else {
            fail(path, "must be a mapping, not a \(value.typeName)")
            return nil
        }
        for key in fields.keys.sorted() where !allowed.contains(key) {
            fail(path.child(key), "unknown field \"\(key)\" (expected one of: \(allowed.joined(separator: ", ")))")
        }
        return fields
    }

    mutating func string(_ value: JSONValue?, _ path: FieldPath) -> String? {
        guard let value, value != .null else { return nil }
        guard case .string(let text) = value else {
            fail(path, "must be a string, not a \(value.typeName)")
            return nil
        }
        return text
    }

    mutating func number(_ value: JSONValue?, _ path: FieldPath, minimum: Double? = nil, exclusiveMinimum: Double? = nil,
                         maximum: Double? = nil) -> Double? {
        guard let value, value != .null else { return nil }
        let number: Double
        switch value {
        case .int(let integer): number = Double(integer)
        case .double(let double): number = double
        default:
            fail(path, "must be a number, not a \(value.typeName)")
            return nil
        }
        return checked(number, path, minimum: minimum, exclusiveMinimum: exclusiveMinimum, maximum: maximum)
    }

    mutating func integer(_ value: JSONValue?, _ path: FieldPath, minimum: Int? = nil, maximum: Int? = nil) -> Int? {
        guard let value, value != .null else { return nil }
        guard case .int(let integer) = value else {
            fail(path, "must be an integer, not a \(value.typeName)")
            return nil
        }
        if let minimum, integer < minimum {
            fail(path, "must be at least \(minimum) (got \(integer))")
            return nil
        }
        if let maximum, integer > maximum {
            fail(path, "must be at most \(maximum) (got \(integer))")
            return nil
        }
        return Int(integer)
    }

    mutating func bool(_ value: JSONValue?, _ path: FieldPath) -> Bool? {
        guard let value, value != .null else { return nil }
        guard case .bool(let flag) = value else {
            fail(path, "must be true or false, not a \(value.typeName)")
            return nil
        }
        return flag
    }

    /// `90s`, `250ms`, `2m`, or a number of seconds.
    mutating func duration(_ value: JSONValue?, _ path: FieldPath, minimum: Double = 0, exclusive: Bool = false) -> Double? {
        guard let value, value != .null else { return nil }
        let seconds: Double?
        switch value {
        case .int(let integer): seconds = Double(integer)
        case .double(let double): seconds = double
        case .string(let text): seconds = DurationText.seconds(text)
        default: seconds = nil
        }
        guard let seconds else {
            fail(path, "must be a duration such as 30s, 250ms or 2m (got \(Self.show(value)))")
            return nil
        }
        return checked(seconds, path, minimum: exclusive ? nil : minimum, exclusiveMinimum: exclusive ? minimum : nil,
                       maximum: nil, unit: "s")
    }

    mutating func required<T>(_ value: T?, _ fields: [String: JSONValue], _ key: String, _ path: FieldPath) -> T? {
        if fields[key] == nil || fields[key] == .null { fail(path.child(key), "required") }
        return value
    }

    private mutating func checked(_ number: Double, _ path: FieldPath, minimum: Double?, exclusiveMinimum: Double?,
                                  maximum: Double?, unit: String = "") -> Double? {
        if !number.isFinite {
            fail(path, "must be a finite number")
            return nil
        }
        if let minimum, number < minimum {
            fail(path, "must be at least \(String(format: "%g", minimum))\(unit) (got \(String(format: "%g", number)))")
            return nil
        }
        if let exclusiveMinimum, number <= exclusiveMinimum {
            fail(path, "must be more than \(String(format: "%g", exclusiveMinimum))\(unit) (got \(String(format: "%g", number)))")
            return nil
        }
        if let maximum, number > maximum {
            fail(path, "must be at most \(String(format: "%g", maximum)) (got \(String(format: "%g", number)))")
            return nil
        }
        return number
    }

    static func show(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): "\"\(text)\""
        case .int(let number): "\(number)"
        case .double(let number): "\(number)"
        case .bool(let flag): "\(flag)"
        default: "a \(value.typeName)"
        }
    }

    // MARK: Scenario

    mutating func scenario(_ document: JSONValue, directory: String, readFile: (String) throws -> String) -> Scenario? {
        let root = FieldPath("")
        guard let fields = object(document, root, allowed: ["name", "target", "model", "seed", "requests", "phases", "slo", "limits"])
        else { return nil }
        let name = string(fields["name"], root.child("name")) ?? (manifest.source as NSString).lastPathComponent
        let target = string(fields["target"], root.child("target")) ?? Scenario.defaultTarget
        if let problem = TargetAddress.problem(target) { fail(root.child("target"), problem) }
        let model = required(string(fields["model"], root.child("model")), fields, "model", root)
        if model?.isEmpty == true { fail(root.child("model"), "must not be empty") }
        let seed = integer(fields["seed"], root.child("seed"), minimum: 0).map(UInt64.init) ?? 1
        let requests = requestMix(fields["requests"], root.child("requests"))
        let phases = phaseList(fields["phases"], root.child("phases"), directory: directory, readFile: readFile)
        let slo = slo(fields["slo"], root.child("slo"))
        let limits = limits(fields["limits"], root.child("limits"))
        guard let model, let phases else { return nil }
        return Scenario(name: name, target: target, model: model, seed: seed, requests: requests, phases: phases, slo: slo,
                        limits: limits)
    }

    mutating func requestMix(_ value: JSONValue?, _ path: FieldPath) -> RequestMix {
        var mix = RequestMix()
        guard let fields = object(value, path, allowed: ["api", "stream", "priorities", "priorityVia", "promptTokens",
                                                         "outputTokens", "systemPrompts"])
        else { return mix }
        if let api = string(fields["api"], path.child("api")) {
            if let parsed = RequestMix.API(rawValue: api) { mix.api = parsed } else {
                fail(path.child("api"), "must be chat or completion (got \"\(api)\")")
            }
        }
        if let stream = bool(fields["stream"], path.child("stream")) { mix.stream = stream }
        if let placement = string(fields["priorityVia"], path.child("priorityVia")) {
            if let parsed = RequestMix.PriorityPlacement(rawValue: placement) { mix.priorityPlacement = parsed } else {
                fail(path.child("priorityVia"), "must be body or header (got \"\(placement)\")")
            }
        }
        if let shares = object(fields["priorities"], path.child("priorities"), allowed: Priority.allCases.map(\.rawValue)) {
            var priorities: [Priority: Double] = [:]
            for (key, share) in shares {
                if let priority = Priority(rawValue: key), let number = number(share, path.child("priorities").child(key), minimum: 0) {
                    priorities[priority] = number
                }
            }
            if priorities.values.reduce(0, +) <= 0 {
                fail(path.child("priorities"), "at least one class needs a share above 0")
            } else {
                mix.priorities = priorities.filter { $0.value > 0 }
            }
        }
        if let prompt = length(fields["promptTokens"], path.child("promptTokens")) { mix.promptTokens = prompt }
        if let output = length(fields["outputTokens"], path.child("outputTokens")) { mix.outputTokens = output }
        if let prompts = object(fields["systemPrompts"], path.child("systemPrompts"), allowed: ["count", "tokens", "popularity", "zipf"]) {
            let at = path.child("systemPrompts")
            var weights: [Double]?
            if case .array(let items)? = prompts["popularity"] {
                var parsed: [Double] = []
                for (index, item) in items.enumerated() {
                    if let weight = number(item, at.child("popularity").index(index), minimum: 0) { parsed.append(weight) }
                }
                weights = parsed
            } else if let other = prompts["popularity"], other != .null {
                fail(at.child("popularity"), "must be a list of weights, not a \(other.typeName)")
            }
            let zipf = number(prompts["zipf"], at.child("zipf"), minimum: 0)
            let count = integer(prompts["count"], at.child("count"), minimum: 1, maximum: 10_000) ?? weights?.count
            let tokens = required(integer(prompts["tokens"], at.child("tokens"), minimum: 1, maximum: 100_000), prompts, "tokens", at)
            if weights != nil, zipf != nil { fail(at, "give popularity or zipf, not both") }
            if let weights, let count, weights.count != count {
                fail(at.child("popularity"), "has \(weights.count) weights for \(count) prompts")
            }
            if let weights, weights.reduce(0, +) <= 0 { fail(at.child("popularity"), "at least one weight must be above 0") }
            if let count, let tokens {
                let popularity = weights ?? SystemPrompts.zipf(count: count, exponent: zipf ?? 0)
                mix.systemPrompts = SystemPrompts(count: count, tokens: tokens, popularity: popularity)
            } else if count == nil {
                fail(at.child("count"), "required (or give popularity)")
            }
        }
        return mix
    }

    /// A token count, or `{distribution, …}`.
    mutating func length(_ value: JSONValue?, _ path: FieldPath) -> LengthDistribution? {
        guard let value, value != .null else { return nil }
        if case .int = value {
            return integer(value, path, minimum: 1, maximum: 1_000_000).map(LengthDistribution.fixed)
        }
        guard let fields = object(value, path, allowed: ["distribution", "min", "max", "mean", "stddev"]) else { return nil }
        let low = integer(fields["min"], path.child("min"), minimum: 1) ?? 1
        let high = integer(fields["max"], path.child("max"), minimum: 1) ?? 1_000_000
        if low > high { fail(path.child("max"), "must be at least min (\(low))") }
        guard let kind = required(string(fields["distribution"], path.child("distribution")), fields, "distribution", path) else {
            return nil
        }
        let mean = number(fields["mean"], path.child("mean"), exclusiveMinimum: 0)
        let stddev = number(fields["stddev"], path.child("stddev"), minimum: 0)
        switch kind {
        case "uniform":
            guard fields["min"] != nil, fields["max"] != nil else {
                fail(path, "a uniform distribution needs min and max")
                return nil
            }
            return .uniform(min: low, max: high)
        case "normal", "lognormal":
            guard let mean, let stddev else {
                fail(path, "a \(kind) distribution needs mean and stddev")
                return nil
            }
            return kind == "normal" ? .normal(mean: mean, stddev: stddev, min: low, max: high)
                : .lognormal(mean: mean, stddev: stddev, min: low, max: high)
        case "exponential":
            guard let mean else {
                fail(path, "an exponential distribution needs mean")
                return nil
            }
            return .exponential(mean: mean, min: low, max: high)
        default:
            fail(path.child("distribution"), "must be uniform, normal, lognormal or exponential (got \"\(kind)\")")
            return nil
        }
    }

    // MARK: Phases

    mutating func phaseList(_ value: JSONValue?, _ path: FieldPath, directory: String,
                            readFile: (String) throws -> String) -> [Phase]? {
        guard let value, value != .null else {
            fail(path, "required: at least one phase")
            return nil
        }
        guard case .array(let items) = value, !items.isEmpty else {
            fail(path, "must be a non-empty list of phases")
            return nil
        }
        var phases: [Phase] = []
        for (index, item) in items.enumerated() {
            if let phase = phase(item, path.index(index), number: index + 1, directory: directory, readFile: readFile) {
                phases.append(phase)
            }
        }
        return phases.count == items.count ? phases : nil
    }

    mutating func phase(_ value: JSONValue, _ path: FieldPath, number: Int, directory: String,
                        readFile: (String) throws -> String) -> Phase? {
        guard let fields = object(value, path, allowed: ["name", "duration", "arrivals", "users"]) else {
            if value == .null { fail(path, "must be a mapping") }
            return nil
        }
        let name = string(fields["name"], path.child("name")) ?? "phase \(number)"
        let duration = duration(fields["duration"], path.child("duration"), minimum: 0, exclusive: true)
        switch (fields["arrivals"], fields["users"]) {
        case (nil, nil):
            fail(path, "needs arrivals (open loop) or users (closed loop)")
            return nil
        case (.some, .some):
            fail(path, "give arrivals or users, not both")
            return nil
        case (nil, let users?):
            let at = path.child("users")
            guard let userFields = object(users, at, allowed: ["count", "thinkTime"]) else { return nil }
            let count = required(integer(userFields["count"], at.child("count"), minimum: 1, maximum: 10_000), userFields, "count", at)
            let think = self.duration(userFields["thinkTime"], at.child("thinkTime")) ?? 0
            if fields["duration"] == nil { fail(path.child("duration"), "required for a closed-loop phase") }
            guard let count, let duration else { return nil }
            return Phase(name: name, load: .closed(users: count, thinkSeconds: think, seconds: duration))
        case (let arrivals?, nil):
            guard let process = arrivalProcess(arrivals, path.child("arrivals"), duration: duration, durationGiven: fields["duration"] != nil,
                                               phasePath: path, directory: directory, readFile: readFile)
            else { return nil }
            return Phase(name: name, load: .open(process))
        }
    }

    mutating func arrivalProcess(_ value: JSONValue, _ path: FieldPath, duration: Double?, durationGiven: Bool, phasePath: FieldPath,
                                 directory: String, readFile: (String) throws -> String) -> ArrivalProcess? {
        guard let fields = object(value, path, allowed: ["process", "rate", "from", "to", "multiplier", "start", "length", "steps",
                                                         "poisson", "file", "speed"])
        else { return nil }
        let kinds = ["constant", "poisson", "step", "ramp", "spike", "trace"]
        guard let kind = required(string(fields["process"], path.child("process")), fields, "process", path) else { return nil }
        guard kinds.contains(kind) else {
            fail(path.child("process"), "must be one of \(kinds.joined(separator: ", ")) (got \"\(kind)\")")
            return nil
        }
        let allowed: [String: [String]] = [
            "constant": ["rate", "poisson"], "poisson": ["rate"], "step": ["steps", "poisson"], "ramp": ["from", "to", "poisson"],
            "spike": ["rate", "multiplier", "start", "length", "poisson"], "trace": ["file", "speed"],
        ]
        for key in fields.keys.sorted() where key != "process" && !allowed[kind]!.contains(key) {
            fail(path.child(key), "does not apply to a \(kind) process (it takes \(allowed[kind]!.joined(separator: ", ")))")
        }
        let poisson = bool(fields["poisson"], path.child("poisson")) ?? (kind == "poisson")
        func needDuration(_ reader: inout FieldReader) -> Double? {
            if !durationGiven { reader.fail(phasePath.child("duration"), "required for a \(kind) process") }
            return duration
        }
        switch kind {
        case "constant", "poisson":
            let rate = required(number(fields["rate"], path.child("rate"), exclusiveMinimum: 0), fields, "rate", path)
            guard let seconds = needDuration(&self), let rate else { return nil }
            return .constant(rate: rate, seconds: seconds, poisson: poisson)
        case "ramp":
            let from = required(number(fields["from"], path.child("from"), minimum: 0), fields, "from", path)
            let to = required(number(fields["to"], path.child("to"), minimum: 0), fields, "to", path)
            if let from, let to, from == 0, to == 0 { fail(path, "from and to cannot both be 0") }
            guard let seconds = needDuration(&self), let from, let to else { return nil }
            return .ramp(from: from, to: to, seconds: seconds, poisson: poisson)
        case "spike":
            let rate = required(number(fields["rate"], path.child("rate"), exclusiveMinimum: 0), fields, "rate", path)
            let multiplier = number(fields["multiplier"], path.child("multiplier"), exclusiveMinimum: 0) ?? 3
            let start = required(self.duration(fields["start"], path.child("start")), fields, "start", path)
            let length = required(self.duration(fields["length"], path.child("length"), exclusive: true), fields, "length", path)
            guard let seconds = needDuration(&self), let rate, let start, let length else { return nil }
            if start + length > seconds {
                fail(path.child("length"), "the spike (start \(DurationText.format(start)) + length \(DurationText.format(length))) "
                    + "ends after the phase (\(DurationText.format(seconds)))")
                return nil
            }
            return .spike(rate: rate, multiplier: multiplier, start: start, length: length, seconds: seconds, poisson: poisson)
        case "step":
            if durationGiven { fail(phasePath.child("duration"), "a step process takes its length from its steps; remove duration") }
            guard case .array(let items)? = fields["steps"], !items.isEmpty else {
                fail(path.child("steps"), "required: a non-empty list of {rate, duration}")
                return nil
            }
            var steps: [RateStep] = []
            for (index, item) in items.enumerated() {
                let at = path.child("steps").index(index)
                guard let stepFields = object(item, at, allowed: ["rate", "duration"]) else { continue }
                let rate = required(number(stepFields["rate"], at.child("rate"), minimum: 0), stepFields, "rate", at)
                let seconds = required(self.duration(stepFields["duration"], at.child("duration"), exclusive: true), stepFields, "duration", at)
                if let rate, let seconds { steps.append(RateStep(rate: rate, seconds: seconds)) }
            }
            guard steps.count == items.count else { return nil }
            return .steps(steps, poisson: poisson)
        default:  // trace
            let speed = number(fields["speed"], path.child("speed"), exclusiveMinimum: 0) ?? 1
            guard let file = required(string(fields["file"], path.child("file")), fields, "file", path) else { return nil }
            let resolved = file.hasPrefix("/") || directory.isEmpty ? file : (directory as NSString).appendingPathComponent(file)
            let text: String
            do {
                text = try readFile(resolved)
            } catch let error as CocoaError where [.fileNoSuchFile, .fileReadNoSuchFile].contains(error.code) {
                fail(path.child("file"), "cannot read \(resolved): no such file")
                return nil
            } catch {
                fail(path.child("file"), "cannot read \(resolved): \(error.localizedDescription)")
                return nil
            }
            do {
                var rows = try TraceFile.parse(text, source: resolved)
                if durationGiven, let duration { rows = rows.filter { $0.offset / speed < duration } }
                return .trace(rows, speed: speed, source: resolved)
            } catch {
                problems.append("\(error)")
                return nil
            }
        }
    }

    // MARK: SLO and limits

    mutating func slo(_ value: JSONValue?, _ path: FieldPath) -> SLO {
        var slo = SLO()
        guard let fields = object(value, path, allowed: ["targets", "classes", "assertions"]) else { return slo }
        slo.targets = targets(fields["targets"], path.child("targets"))
        if let classes = object(fields["classes"], path.child("classes"), allowed: Priority.allCases.map(\.rawValue)) {
            for (key, value) in classes {
                if let priority = Priority(rawValue: key) { slo.classTargets[priority] = targets(value, path.child("classes").child(key)) }
            }
        }
        if let assertions = fields["assertions"], assertions != .null {
            guard case .array(let items) = assertions else {
                fail(path.child("assertions"), "must be a list")
                return slo
            }
            for (index, item) in items.enumerated() {
                if let assertion = assertion(item, path.child("assertions").index(index)) { slo.assertions.append(assertion) }
            }
        }
        return slo
    }

    mutating func targets(_ value: JSONValue?, _ path: FieldPath) -> SLO.Targets {
        guard let fields = object(value, path, allowed: ["ttft", "interToken", "e2e"]) else { return SLO.Targets() }
        return SLO.Targets(ttft: duration(fields["ttft"], path.child("ttft"), exclusive: true),
                           interToken: duration(fields["interToken"], path.child("interToken"), exclusive: true),
                           e2e: duration(fields["e2e"], path.child("e2e"), exclusive: true))
    }

    mutating func assertion(_ value: JSONValue, _ path: FieldPath) -> Assertion? {
        guard let fields = object(value, path, allowed: ["metric", "priority", "max", "min"]) else { return nil }
        guard let name = required(string(fields["metric"], path.child("metric")), fields, "metric", path) else { return nil }
        guard let metric = ReportMetric(name: name) else {
            fail(path.child("metric"), "unknown metric \"\(name)\" (one of: \(ReportMetric.names.joined(separator: ", ")))")
            return nil
        }
        var priority: Priority?
        if let text = string(fields["priority"], path.child("priority")) {
            guard let parsed = Priority(rawValue: text) else {
                fail(path.child("priority"), "must be critical, standard or batch (got \"\(text)\")")
                return nil
            }
            priority = parsed
        }
        func bound(_ key: String, _ reader: inout FieldReader) -> Double? {
            metric.isDuration ? reader.duration(fields[key], path.child(key)) : reader.number(fields[key], path.child(key), minimum: 0)
        }
        switch (fields["max"], fields["min"]) {
        case (.some, nil):
            return bound("max", &self).map { Assertion(metric: metric, priority: priority, bound: .atMost($0)) }
        case (nil, .some):
            return bound("min", &self).map { Assertion(metric: metric, priority: priority, bound: .atLeast($0)) }
        default:
            fail(path, "give exactly one of max or min")
            return nil
        }
    }

    mutating func limits(_ value: JSONValue?, _ path: FieldPath) -> Limits {
        var limits = Limits()
        guard let fields = object(value, path, allowed: ["maxRequests", "maxDuration", "maxInFlight", "requestTimeout"]) else {
            return limits
        }
        if let requests = integer(fields["maxRequests"], path.child("maxRequests"), minimum: 1, maximum: Limits.ceilingRequests) {
            limits.maxRequests = requests
        }
        if let seconds = duration(fields["maxDuration"], path.child("maxDuration"), exclusive: true) {
            if seconds > Limits.ceilingSeconds {
                fail(path.child("maxDuration"), "must be at most \(DurationText.format(Limits.ceilingSeconds))")
            } else {
                limits.maxSeconds = seconds
            }
        }
        if let inFlight = integer(fields["maxInFlight"], path.child("maxInFlight"), minimum: 1, maximum: 100_000) {
            limits.maxInFlight = inFlight
        }
        if let timeout = duration(fields["requestTimeout"], path.child("requestTimeout"), exclusive: true) {
            limits.requestTimeoutSeconds = timeout
        }
        return limits
    }
}
