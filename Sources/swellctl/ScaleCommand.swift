import ArgumentParser
import SwellAPI
import SwellClient

/// `swellctl scale isvc NAME --replicas N`
struct ScaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Set the replica count of an inference service.",
        discussion: """
            Sets spec.replicas with a merge patch. When the service has spec.autoscaling the \
            autoscaler owns the count and will move it back within minReplicas..maxReplicas; \
            swellctl warns and scales anyway, as kubectl does for a Deployment under an HPA.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The kind: inferenceservice (isvc).")
    var kind: String

    @Argument(help: "Names of the services to scale.")
    var names: [String]

    @Option(help: ArgumentHelp("The new number of replicas.", valueName: "n"))
    var replicas: Int

    func validate() throws {
        if replicas < 0 { throw ArgumentParser.ValidationError("--replicas must be 0 or more") }
        if names.isEmpty { throw ArgumentParser.ValidationError("specify the name of at least one service") }
    }

    func run() async throws {
        guard let kind = CLIKinds.named(kind), kind is InferenceService.Type else {
            throw CLIError("cannot scale \"\(kind)\": only inferenceservices (isvc) have a replica count")
        }
        let client = try global.client()
        let namespace = global.effectiveNamespace
        var failed = false
        for name in names {
            do {
                let current = try await client.get(InferenceService.self, namespace: namespace, name: name)
                if let autoscaling = current.spec.autoscaling {
                    printError("warning: \(current.reference) is autoscaled (\(autoscaling.minReplicas ?? 1)..\(autoscaling.maxReplicas) replicas); "
                        + "the autoscaler will override spec.replicas. Edit spec.autoscaling.minReplicas/maxReplicas to change its range.")
                }
                let patch = JSONValue.object(["spec": .object(["replicas": .int(Int64(replicas))])])
                let scaled = try await client.patch(InferenceService.self, namespace: namespace, name: name, mergePatch: patch)
                printOutput("\(scaled.reference) scaled")
            } catch let status as Status {
                printError(status.description)
                failed = true
            }
        }
        if failed { throw AlreadyReported() }
    }
}
