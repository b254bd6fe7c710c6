import Foundation
import SwellAPI
import SwellClient
import Testing
@testable import swellctl

/// `swellctl apply` against a real `swell server` process.
@Suite struct ApplyEndToEndTests {
    /// What the examples directory holds, read independently of swellctl's own loader.
    static func exampleManifests() throws -> [Manifest] {
        let files = try FileManager.default.contentsOfDirectory(atPath: Binaries.examples.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
            .sorted()
        return try files.flatMap { file in
            let path = Binaries.examples.appendingPathComponent(file).path
            return try ManifestParser.parse(String(contentsOfFile: path, encoding: .utf8), source: path)
        }
    }

    static func reference(_ manifest: Manifest) -> String {
        "\(manifest.kindName!.lowercased())/\(manifest.name!)"
    }

    @Test func applyingTheExamplesTwiceLeavesEverythingUnchanged() async throws {
        let manifests = try Self.exampleManifests()
        try #require(manifests.count >= 4)
        try await ServerProcess.with { server in
            let first = try await server.swellctl("apply", "-f", Binaries.examples.path)
            #expect(first.succeeded, "\(first)")
            #expect(first.stdoutLines == manifests.map { "\(Self.reference($0)) created" })

            let second = try await server.swellctl("apply", "-f", Binaries.examples.path)
            #expect(second.succeeded, "\(second)")
            #expect(second.stdoutLines == manifests.map { "\(Self.reference($0)) unchanged" })
        }
    }

    @Test func changingAFieldConfiguresTheObject() async throws {
        try await ServerProcess.with { server in
            let manifest = """
                apiVersion: swell.dev/v1
                kind: InferenceService
                metadata: {name: chat, labels: {app: chat}}
                spec:
                  model: {path: /models/chat.gguf}
                  replicas: 1
                """
            let path = try server.write("chat.yaml", manifest)
            #expect(try await server.swellctl("apply", "-f", path).stdout == "inferenceservice/chat created\n")
            let before = try await server.client.get(InferenceService.self, namespace: "default", name: "chat")

            _ = try server.write("chat.yaml", manifest.replacingOccurrences(of: "replicas: 1", with: "replicas: 3"))
            let changed = try await server.swellctl("apply", "-f", path)
            #expect(changed.succeeded, "\(changed)")
            #expect(changed.stdout == "inferenceservice/chat configured\n")
            let after = try await server.client.get(InferenceService.self, namespace: "default", name: "chat")
            #expect(after.spec.replicas == 3)
            #expect(after.metadata.uid == before.metadata.uid)
            #expect(after.metadata.generation == (before.metadata.generation ?? 0) + 1)

            // A label is desired state too; removing one is a change.
            _ = try server.write("chat.yaml", manifest.replacingOccurrences(of: "replicas: 1", with: "replicas: 3")
                .replacingOccurrences(of: ", labels: {app: chat}", with: ""))
            #expect(try await server.swellctl("apply", "-f", path).stdout == "inferenceservice/chat configured\n")
            let unlabelled = try await server.client.get(InferenceService.self, namespace: "default", name: "chat")
            #expect((unlabelled.metadata.labels ?? [:]).isEmpty)
        }
    }

    @Test func getYamlRoundTripsEveryFieldTheUserWrote() async throws {
        let manifests = try Self.exampleManifests()
        try await ServerProcess.with { server in
            #expect(try await server.swellctl("apply", "-f", Binaries.examples.path).succeeded)
            for (kind, count) in [("isvc", manifests.filter { $0.kindName == "InferenceService" }.count),
                                  ("pc", manifests.filter { $0.kindName == "PriorityClass" }.count)] {
                let output = try await server.swellctl("get", kind, "-o", "yaml")
                #expect(output.succeeded, "\(output)")
                let fetched = try ManifestParser.parse(output.stdout, source: "get.yaml")
                #expect(fetched.count == count)
                for manifest in manifests where ResourceKinds.named(kind)?.kind == manifest.kindName {
                    let match = try #require(fetched.first { $0.name == manifest.name }, "\(manifest.name ?? "") missing from get -o yaml")
                    let missing = Self.fieldsMissing(manifest.document, from: match.document)
                    #expect(missing.isEmpty, "\(manifest.source): fields changed or lost: \(missing)")
                }
            }

            // What get -o yaml prints applies back as-is, changing nothing.
            let listed = try await server.swellctl("get", "isvc", "-o", "yaml")
            let reapplied = try await server.swellctl(["apply", "-f", "-"], input: listed.stdout)
            #expect(reapplied.succeeded, "\(reapplied)")
            #expect(!reapplied.stdoutLines.isEmpty)
            #expect(reapplied.stdoutLines.allSatisfy { $0.hasSuffix(" unchanged") }, "\(reapplied)")
        }
    }

    /// Paths of `subset` whose values `superset` does not have (numbers compared by value,
    /// so `4` written as an integer matches `4.0` stored as a double).
    static func fieldsMissing(_ subset: JSONValue, from superset: JSONValue, path: String = "") -> [String] {
        switch (subset, superset) {
        case (.object(let wanted), .object(let have)):
            return wanted.keys.sorted().flatMap { key in
                let child = path.isEmpty ? key : "\(path).\(key)"
                guard let value = have[key] else { return [child] }
                return fieldsMissing(wanted[key]!, from: value, path: child)
            }
        case (.array(let wanted), .array(let have)):
            guard wanted.count == have.count else { return [path] }
            return zip(wanted, have).enumerated().flatMap { index, pair in
                fieldsMissing(pair.0, from: pair.1, path: "\(path)[\(index)]")
            }
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)):
            return Double(a) == b ? [] : [path]
        case (.int(let a), .string(let b)):
            // Quantities such as `cpu: 1` are kept in their string form.
            return "\(a)" == b ? [] : [path]
        default:
            return subset == superset ? [] : [path]
        }
    }

    @Test func aYamlSyntaxErrorNamesFileAndLineAndStoresNothing() async throws {
        try await ServerProcess.with { server in
            let path = try server.write("broken.yaml", """
                apiVersion: swell.dev/v1
                kind: PriorityClass
                metadata:
                  name: fine
                value: 10
                ---
                apiVersion: swell.dev/v1
                kind: PriorityClass
                metadata:
                  name: [unclosed
                value: 20
                """)
            let result = try await server.swellctl("apply", "-f", path)
            #expect(!result.succeeded)
            #expect(result.exit.code != 0)
            let problem = try #require(result.stderr.split(separator: "\n").first { $0.hasPrefix("\(path):") }, "\(result)")
            let line = Int(problem.dropFirst(path.count + 1).prefix { $0.isNumber })
            #expect(line.map { (10...12).contains($0) } == true, "\(problem)")
            #expect(problem.contains("invalid YAML"))
            #expect(result.stdout.isEmpty)
            #expect(try await server.client.list(PriorityClass.self, namespace: nil).items.isEmpty)
        }
    }

    @Test func anInvalidSecondDocumentKeepsTheFirstFromBeingStored() async throws {
        try await ServerProcess.with { server in
            let path = try server.write("two.yaml", """
                apiVersion: swell.dev/v1
                kind: InferenceService
                metadata: {name: first}
                spec: {model: {path: /models/a.gguf}}
                ---
                apiVersion: swell.dev/v1
                kind: InferenceService
                metadata:
                  name: second
                spec:
                  model: {path: /models/b.gguf}
                  autoscaling:
                    minReplicas: 3
                    maxReplicas: 2
                """)
            let result = try await server.swellctl("apply", "-f", path)
            #expect(!result.succeeded)
            #expect(result.stderr.contains("\(path):14: spec.autoscaling.maxReplicas: must be >= minReplicas (3)"), "\(result)")
            #expect(result.stdout.isEmpty)
            #expect(try await server.client.list(InferenceService.self, namespace: nil).items.isEmpty)
        }
    }

    @Test func everyProblemInEveryFileIsReported() async throws {
        try await ServerProcess.with { server in
            let unknown = try server.write("dir/a-unknown.yaml", """
                apiVersion: swell.dev/v1
                kind: InferenceService
                metadata: {name: a}
                spec:
                  model: {path: /models/a.gguf}
                  engine:
                    threads: 1
                    kvCacheTokns: 4096
                """)
            let invalid = try server.write("dir/b-invalid.yaml", """
                apiVersion: swell.dev/v1
                kind: PriorityClass
                metadata: {name: Not_A_Name}
                value: 2000000000
                """)
            let good = try server.write("dir/c-good.yaml", """
                apiVersion: swell.dev/v1
                kind: PriorityClass
                metadata: {name: fine}
                value: 1
                """)
            let result = try await server.swellctl("apply", "-f", URL(fileURLWithPath: good).deletingLastPathComponent().path)
            #expect(!result.succeeded)
            #expect(result.stderr.contains("\(unknown):8: spec.engine.kvCacheTokns: unknown field \"kvCacheTokns\""), "\(result)")
            #expect(result.stderr.contains("\(invalid):3: metadata.name:"), "\(result)")
            #expect(result.stderr.contains("\(invalid):4: value: must be <= 1000000000"), "\(result)")
            #expect(try await server.client.list(PriorityClass.self, namespace: nil).items.isEmpty)
        }
    }

    @Test func namespacesComeFromTheManifestThenTheFlag() async throws {
        try await ServerProcess.with { server in
            let path = try server.write("ns.yaml", """
                apiVersion: swell.dev/v1
                kind: InferenceService
                metadata: {name: pinned, namespace: team-a}
                spec: {model: {path: /models/a.gguf}}
                ---
                apiVersion: swell.dev/v1
                kind: InferenceService
                metadata: {name: floating}
                spec: {model: {path: /models/a.gguf}}
                """)
            let result = try await server.swellctl("apply", "-f", path, "-n", "team-b")
            #expect(result.succeeded, "\(result)")
            #expect(try await server.client.get(InferenceService.self, namespace: "team-a", name: "pinned").metadata.name == "pinned")
            #expect(try await server.client.get(InferenceService.self, namespace: "team-b", name: "floating").metadata.name == "floating")
        }
    }
}
