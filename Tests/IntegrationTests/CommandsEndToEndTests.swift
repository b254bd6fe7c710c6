import Foundation
import SwellAPI
import SwellClient
import Testing

/// `swellctl get | describe | delete | scale | version` against a real `swell server` process.
@Suite struct CommandsEndToEndTests {
    static let services = """
        apiVersion: swell.dev/v1
        kind: InferenceService
        metadata: {name: chat, labels: {app: chat, tier: interactive}}
        spec:
          model: {path: /models/smollm2.gguf}
          replicas: 2
          priorityClassName: interactive
        ---
        apiVersion: swell.dev/v1
        kind: InferenceService
        metadata: {name: batch, labels: {app: summarize, tier: batch}}
        spec:
          model: {path: /models/smollm2.gguf}
          autoscaling: {minReplicas: 1, maxReplicas: 5}
        ---
        apiVersion: swell.dev/v1
        kind: InferenceService
        metadata: {name: elsewhere, namespace: research, labels: {tier: batch}}
        spec:
          model: {path: /models/other.gguf}
        ---
        apiVersion: swell.dev/v1
        kind: PriorityClass
        metadata: {name: interactive}
        value: 100000
        globalDefault: true
        """

    /// A server with the objects above applied.
    static func withObjects(_ body: (ServerProcess) async throws -> Void) async throws {
        try await ServerProcess.with { server in
            let path = try server.write("objects.yaml", services)
            let applied = try await server.swellctl("apply", "-f", path)
            try #require(applied.succeeded, "\(applied)")
            try await body(server)
        }
    }

    /// The cells of a table, split on runs of spaces (no cell in these tests has a space).
    static func table(_ output: String) -> [[String]] {
        output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    }

    @Test func getListsAsATableWithKubectlColumns() async throws {
        try await Self.withObjects { server in
            // The controllers create the replicas (and report them in status) right after apply.
            var result = try await server.swellctl("get", "isvc")
            let deadline = ContinuousClock.now + .seconds(60)
            func reported(_ output: String) -> Bool {
                let rows = Self.table(output)
                return rows.first { $0.first == "chat" }?[2] == "2" && rows.first { $0.first == "batch" }?[2] == "1"
            }
            while !reported(result.stdout), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                result = try await server.swellctl("get", "isvc")
            }
            #expect(result.succeeded, "\(result)")
            let rows = Self.table(result.stdout)
            #expect(rows.first == ["NAME", "READY", "REPLICAS", "MIN", "MAX", "AGE"])
            #expect(rows.dropFirst().map { $0[0] } == ["batch", "chat"])
            let chat = try #require(rows.first { $0.first == "chat" })
            #expect(Array(chat[1...4]) == ["0/2", "2", "-", "-"])
            let batch = try #require(rows.first { $0.first == "batch" })
            #expect(Array(batch[1...4]) == ["0/1", "1", "1", "5"])

            let wide = Self.table(try await server.swellctl("get", "inferenceservices", "-o", "wide").stdout)
            #expect(wide.first == ["NAME", "READY", "REPLICAS", "MIN", "MAX", "AGE", "MODEL", "ENDPOINT", "PRIORITY"])
            // The endpoint is the router's: it serves the service by name whether or not a replica is Ready.
            #expect(wide.first { $0.first == "chat" }?.suffix(3) == ["smollm2.gguf", server.routerURL, "interactive"])

            let classes = Self.table(try await server.swellctl("get", "pc").stdout)
            #expect(classes.first == ["NAME", "VALUE", "GLOBAL-DEFAULT", "PREEMPTION", "AGE"])
            #expect(classes.dropFirst().first?.prefix(4) == ["interactive", "100000", "true", "PreemptLowerPriority"])
        }
    }

    @Test func getSelectsByLabelAndAcrossNamespaces() async throws {
        try await Self.withObjects { server in
            let batch = try await server.swellctl("get", "isvc", "-l", "tier=batch", "-o", "name")
            #expect(batch.stdoutLines == ["inferenceservice/batch"])

            let everywhere = try await server.swellctl("get", "isvc", "-A", "-l", "tier=batch")
            let rows = Self.table(everywhere.stdout)
            #expect(rows.first?.prefix(2) == ["NAMESPACE", "NAME"])
            #expect(Set(rows.dropFirst().map { "\($0[0])/\($0[1])" }) == ["default/batch", "research/elsewhere"])

            let research = try await server.swellctl("get", "isvc", "-n", "research", "-o", "name")
            #expect(research.stdoutLines == ["inferenceservice/elsewhere"])

            let none = try await server.swellctl("get", "isvc", "-l", "tier=gold")
            #expect(none.succeeded)
            #expect(none.stdout.isEmpty)
            #expect(none.stderr == "No resources found in default namespace.\n")

            let badSelector = try await server.swellctl("get", "isvc", "-l", "tier in (a")
            #expect(!badSelector.succeeded)
            #expect(badSelector.stderr.contains("invalid label selector"))
        }
    }

    @Test func getOfAMissingObjectIsNotFound() async throws {
        try await Self.withObjects { server in
            let result = try await server.swellctl("get", "isvc", "nope")
            #expect(result.exit == ProcessExit(reason: .exited, code: 1))
            #expect(result.stderr == "Error from server (NotFound): inferenceservice \"nope\" not found\n")

            let unknownKind = try await server.swellctl("get", "widgets")
            #expect(unknownKind.exit.code == 1)
            #expect(unknownKind.stderr.hasPrefix("error: the server doesn't have a resource type \"widgets\""))
        }
    }

    @Test func getOneObjectAsJson() async throws {
        try await Self.withObjects { server in
            let result = try await server.swellctl("get", "isvc", "chat", "-o", "json")
            #expect(result.succeeded, "\(result)")
            let object = try ResourceCodec.decode(InferenceService.self, from: JSONValue.parse(Data(result.stdout.utf8)))
            #expect(object.metadata.name == "chat")
            #expect(object.spec.replicas == 2)
            #expect(object.metadata.uid?.isEmpty == false)
        }
    }

    @Test func describeShowsMetadataSpecAndEvents() async throws {
        try await Self.withObjects { server in
            let event = try server.write("event.yaml", """
                apiVersion: swell.dev/v1
                kind: Event
                metadata: {name: chat.scaled}
                involvedObject: {kind: InferenceService, namespace: default, name: chat}
                reason: ScaledUp
                message: desired replicas 1 -> 2 (QueueLength 9 > target 4)
                type: Normal
                source: autoscaler
                """)
            #expect(try await server.swellctl("apply", "-f", event).succeeded)

            let result = try await server.swellctl("describe", "isvc", "chat")
            #expect(result.succeeded, "\(result)")
            let lines = result.stdoutLines
            #expect(lines.first?.hasPrefix("Name:") == true && lines.first?.hasSuffix(" chat") == true)
            #expect(lines.contains { $0.hasPrefix("Namespace:") && $0.hasSuffix(" default") })
            #expect(lines.contains { $0.hasPrefix("Labels:") && $0.hasSuffix(" app=chat") })
            #expect(lines.contains { $0.hasPrefix("CreationTimestamp:") })
            #expect(lines.contains("Spec:"))
            #expect(lines.contains { $0.hasPrefix("  Priority Class Name:") && $0.hasSuffix(" interactive") })
            #expect(lines.contains { $0.hasPrefix("    Path:") && $0.hasSuffix(" /models/smollm2.gguf") })
            #expect(lines.contains("Events:"))
            #expect(lines.contains { $0.contains("Normal") && $0.contains("ScaledUp") && $0.contains("autoscaler") })

            let missing = try await server.swellctl("describe", "isvc", "nope")
            #expect(missing.exit.code == 1)
            #expect(missing.stderr.contains("(NotFound)"))

            // kubectl's KIND/NAME form, for describe and get.
            let slashed = try await server.swellctl("describe", "isvc/chat")
            #expect(slashed.succeeded, "\(slashed)")
            #expect(slashed.stdoutLines.first == lines.first)
            #expect(try await server.swellctl("get", "inferenceservice/chat", "-o", "name").stdout == "inferenceservice/chat\n")
            let mixed = try await server.swellctl("get", "isvc", "isvc/chat")
            #expect(!mixed.succeeded && mixed.stderr.contains("KIND/NAME"), "\(mixed)")
        }
    }

    @Test func getEventsShowsTheObjectTheyAreAbout() async throws {
        try await ServerProcess.with { server in
            let path = try server.write("event.yaml", """
                apiVersion: swell.dev/v1
                kind: Event
                metadata: {name: chat.started}
                involvedObject: {kind: Replica, name: chat-abc12}
                reason: Started
                message: engine listening
                """)
            #expect(try await server.swellctl("apply", "-f", path).succeeded)
            let rows = Self.table(try await server.swellctl("get", "ev").stdout)
            #expect(rows.first == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"])
            #expect(rows.dropFirst().first?.suffix(5) == ["Normal", "Started", "replica/chat-abc12", "engine", "listening"])
        }
    }

    @Test func scaleSetsReplicasAndWarnsWhenAutoscaled() async throws {
        try await Self.withObjects { server in
            let scaled = try await server.swellctl("scale", "isvc", "chat", "--replicas", "4")
            #expect(scaled.succeeded, "\(scaled)")
            #expect(scaled.stdout == "inferenceservice/chat scaled\n")
            #expect(scaled.stderr.isEmpty)
            #expect(try await server.client.get(InferenceService.self, namespace: "default", name: "chat").spec.replicas == 4)

            let autoscaled = try await server.swellctl("scale", "isvc", "batch", "--replicas", "3")
            #expect(autoscaled.succeeded, "\(autoscaled)")
            #expect(autoscaled.stderr.contains("warning: inferenceservice/batch is autoscaled"))
            #expect(autoscaled.stderr.contains("minReplicas/maxReplicas"))

            let wrongKind = try await server.swellctl("scale", "pc", "interactive", "--replicas", "3")
            #expect(wrongKind.exit.code == 1)
            let negative = try await server.swellctl("scale", "isvc", "chat", "--replicas", "-1")
            #expect(negative.exit.code == 1)
            let missing = try await server.swellctl("scale", "isvc", "nope", "--replicas", "1")
            #expect(missing.exit.code == 1)
            #expect(missing.stderr.contains("(NotFound)"))
        }
    }

    @Test func deleteByNameAndByFile() async throws {
        try await Self.withObjects { server in
            let byName = try await server.swellctl("delete", "isvc", "chat", "batch")
            #expect(byName.succeeded, "\(byName)")
            #expect(byName.stdoutLines == ["inferenceservice \"chat\" deleted", "inferenceservice \"batch\" deleted"])
            #expect(try await server.client.list(InferenceService.self, namespace: "default").items.isEmpty)

            let again = try await server.swellctl("delete", "isvc", "chat")
            #expect(again.exit.code == 1)
            #expect(again.stderr == "Error from server (NotFound): inferenceservice \"chat\" not found\n")
            #expect(try await server.swellctl("delete", "isvc", "chat", "--ignore-not-found").succeeded)

            let path = try server.write("objects.yaml", Self.services)
            let byFile = try await server.swellctl("delete", "-f", path, "--ignore-not-found")
            #expect(byFile.succeeded, "\(byFile)")
            #expect(byFile.stdoutLines.contains("inferenceservice \"elsewhere\" deleted"))
            #expect(byFile.stdoutLines.contains("priorityclass \"interactive\" deleted"))
            #expect(try await server.client.list(InferenceService.self, namespace: nil).items.isEmpty)
            #expect(try await server.client.list(PriorityClass.self, namespace: nil).items.isEmpty)
        }
    }

    @Test func watchPrintsChangesAsTheyHappen() async throws {
        try await Self.withObjects { server in
            var environment = ProcessInfo.processInfo.environment
            environment["HOME"] = server.workDirectory.path
            let watcher = try ChildProcess(
                executable: try Binaries.swellctl,
                arguments: ["get", "isvc", "-w", "-o", "name", "--server", server.url],
                environment: environment, logDirectory: server.workDirectory)
            defer { watcher.signal(SIGKILL) }
            // The initial listing first; then a change made after it must appear.
            try await Self.eventually { watcher.stdout.split(separator: "\n").count >= 2 }
            _ = try await server.swellctl("scale", "isvc", "chat", "--replicas", "5")
            try await Self.eventually { watcher.stdout.split(separator: "\n").count >= 3 }
            #expect(watcher.stdout.split(separator: "\n").last == "inferenceservice/chat")
            watcher.signal(SIGINT)
            _ = await watcher.waitForExit()
        }
    }

    @Test func versionPrintsClientAndServer() async throws {
        try await ServerProcess.with { server in
            let result = try await server.swellctl("version")
            #expect(result.succeeded)
            #expect(result.stdoutLines == ["Client Version: \(swellVersion) (API \(swellAPIVersion))",
                                           "Server Version: \(swellVersion) (API \(swellAPIVersion))"])
        }
    }

    @Test func theServerAddressComesFromTheEnvironmentThenTheConfigFile() async throws {
        try await ServerProcess.with { server in
            let home = server.workDirectory.appendingPathComponent("home")
            var environment = ProcessInfo.processInfo.environment
            environment["HOME"] = home.path
            environment["SWELL_SERVER"] = server.url
            let fromEnvironment = try await ChildProcess.run(try Binaries.swellctl, ["version"], environment: environment, logDirectory: server.workDirectory)
            #expect(fromEnvironment.stdoutLines.count == 2, "\(fromEnvironment)")

            environment["SWELL_SERVER"] = nil
            _ = try server.write("home/.swell/config.yaml", "# written by a test\nserver: \(server.url)\n")
            let fromConfig = try await ChildProcess.run(try Binaries.swellctl, ["version"], environment: environment, logDirectory: server.workDirectory)
            #expect(fromConfig.stdoutLines.count == 2, "\(fromConfig)")

            _ = try server.write("home/.swell/config.yaml", "server: [1, 2]\n")
            let broken = try await ChildProcess.run(try Binaries.swellctl, ["get", "isvc"], environment: environment, logDirectory: server.workDirectory)
            #expect(broken.exit.code == 1)
            #expect(broken.stderr.contains("config.yaml:1"), "\(broken)")
        }
    }

    @Test(arguments: [["get"], ["apply"], ["delete", "isvc"], ["get", "isvc", "-o", "xml"], ["scale", "isvc", "chat"]])
    func usageErrorsExitWithStatusOne(_ arguments: [String]) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ChildProcess.run(try Binaries.swellctl, arguments, logDirectory: directory)
        #expect(result.exit == ProcessExit(reason: .exited, code: 1))
        #expect(result.stderr.hasPrefix("error: "), "\(result)")
        #expect(result.stderr.contains("Usage: swellctl \(arguments[0])"), "\(result)")
    }

    @Test func anUnreachableServerIsAClearError() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swell-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Port 1 on loopback: nothing listens there.
        let result = try await ChildProcess.run(try Binaries.swellctl, ["get", "isvc", "--server", "http://127.0.0.1:1"], logDirectory: directory)
        #expect(result.exit.code == 1)
        #expect(result.stderr.hasPrefix("error: "), "\(result)")
        #expect(result.stderr.contains("127.0.0.1:1"), "\(result)")
    }

    /// Polls a condition; the deadline only guards against hanging.
    static func eventually(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !condition() {
            try #require(ContinuousClock.now < deadline, "condition not met in time")
            try await Task.sleep(for: .milliseconds(25))
        }
    }
}
