import ArgumentParser
import SwellAPI
import SwellClient

/// `swellctl describe KIND [NAME...]` — an object in detail, with its events.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show an object in detail: metadata, spec, status, conditions and events."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The kind of object (isvc, rep, pc, no, ev…), or KIND/NAME.")
    var kind: String

    @Argument(help: "Names of objects; every object of the kind in the namespace when omitted.")
    var names: [String] = []

    @Option(name: [.customShort("l"), .customLong("selector")], help: ArgumentHelp("Label selector when no NAME is given.", valueName: "selector"))
    var selector: String?

    func run() async throws {
        let (kind, names) = try KindArgument.split([self.kind] + self.names)
        try await run(try KindArgument.resolve(kind), names: names)
    }

    private func run<R: CLIResource>(_ type: R.Type, names: [String]) async throws {
        let client = try global.client()
        let namespace = R.isNamespaced ? global.effectiveNamespace : nil
        var objects = [R]()
        var failures = [Status]()
        if names.isEmpty {
            objects = try await client.list(R.self, namespace: namespace, labelSelector: selector).items.sorted(by: R.listOrder)
            if objects.isEmpty {
                printError(GetCommand.noResourcesMessage(namespaced: R.isNamespaced, namespace: namespace))
                return
            }
        } else {
            for name in names {
                do {
                    objects.append(try await client.get(R.self, namespace: namespace, name: name))
                } catch let status as Status where status.code == 404 {
                    failures.append(status)
                }
            }
        }

        // Events of cluster-scoped objects land in the default namespace; look everywhere.
        let events = objects.isEmpty ? [] : try await client.list(Event.self, namespace: namespace).items
        var texts = [String]()
        for object in objects {
            texts.append(try Describer.describe(object, events: events))
        }
        if !texts.isEmpty { printOutput(texts.joined(separator: "\n\n\n")) }
        for failure in failures { printError(failure.description) }
        if !failures.isEmpty { throw AlreadyReported() }
    }
}
