import ArgumentParser
import Foundation
import SwellAPI
import SwellClient

/// `swellctl get KIND [NAME...]` — list or show objects, optionally watching for changes.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Display one or many objects.",
        discussion: "KIND is a kind, plural, singular or short name: isvc, rep, pc, no, ev."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The kind of object (inferenceservices, isvc, replicas, rep, priorityclasses, pc, nodes, no, events, ev), or KIND/NAME.")
    var kind: String

    @Argument(help: "Names of objects to show (or more KIND/NAME); all when omitted.")
    var names: [String] = []

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "List across all namespaces.")
    var allNamespaces = false

    @Option(name: [.customShort("l"), .customLong("selector")], help: ArgumentHelp("Label selector, e.g. app=chat,tier!=batch.", valueName: "selector"))
    var selector: String?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("table, wide, yaml, json or name.", valueName: "format"))
    var output: OutputFormat = .table

    @Flag(name: [.short, .customLong("watch")], help: "After listing, print changes as they happen (Ctrl-C to stop).")
    var watch = false

    func validate() throws {
        if let selector {
            do {
                _ = try LabelSelector(parsing: selector)
            } catch {
                throw ArgumentParser.ValidationError("invalid label selector \"\(selector)\": \(error)")
            }
            if !names.isEmpty { throw ArgumentParser.ValidationError("cannot combine NAME arguments with --selector") }
        }
    }

    func run() async throws {
        let (kind, names) = try KindArgument.split([self.kind] + self.names)
        try await run(try KindArgument.resolve(kind), names: names)
    }

    private func run<R: CLIResource>(_ type: R.Type, names: [String]) async throws {
        let client = try global.client()
        let namespace: String? = R.isNamespaced ? (allNamespaces ? nil : global.effectiveNamespace) : nil
        let printer = ObjectPrinter<R>(format: output, showNamespace: allNamespaces)

        var objects = [R]()
        var failures = [Status]()
        var resourceVersion: String?
        if names.isEmpty {
            let list = try await client.list(R.self, namespace: namespace, labelSelector: selector)
            objects = list.items.sorted(by: R.listOrder)
            resourceVersion = list.metadata.resourceVersion
        } else {
            let namespaceForGet = R.isNamespaced ? global.effectiveNamespace : nil
            for name in names {
                do {
                    objects.append(try await client.get(R.self, namespace: namespaceForGet, name: name))
                } catch let status as Status where status.code == 404 {
                    failures.append(status)
                }
            }
        }

        // Lines of text say "nothing" on stderr; documents (yaml, json) print an empty List.
        let printsDocuments = output == .yaml || output == .json
        if !objects.isEmpty || (printsDocuments && names.isEmpty) {
            printOutput(try printer.render(objects, single: names.count == 1))
        } else if names.isEmpty {
            printError(Self.noResourcesMessage(namespaced: R.isNamespaced, namespace: namespace))
        }
        for failure in failures { printError(failure.description) }
        if !failures.isEmpty { throw AlreadyReported() }

        if watch {
            try await stream(printer: printer, client: client, namespace: namespace,
                             widths: printer.table(objects).widths, from: resourceVersion)
        }
    }

    /// Prints watch events until interrupted, re-watching from the last revision seen when the
    /// server ends a watch (it does after its timeout).
    private func stream<R: CLIResource>(printer: ObjectPrinter<R>, client: APIClient, namespace: String?, widths: [Int], from revision: String?) async throws {
        var revision = revision
        let wanted = Set(names)
        while true {
            let events = client.watch(R.self, namespace: namespace, labelSelector: selector, resourceVersion: revision)
            for try await event in events {
                switch event.type {
                case .added, .modified, .deleted:
                    revision = event.object.metadata.resourceVersion ?? revision
                    if !wanted.isEmpty, !wanted.contains(event.object.metadata.name) { continue }
                    printOutput(try printer.renderWatched(event.object, widths: widths))
                case .bookmark:
                    revision = event.object.metadata.resourceVersion ?? revision
                case .error:
                    throw CLIError("watch ended by the server; run the command again")
                }
            }
        }
    }

    static func noResourcesMessage(namespaced: Bool, namespace: String?) -> String {
        if namespaced, let namespace { return "No resources found in \(namespace) namespace." }
        return "No resources found"
    }
}
