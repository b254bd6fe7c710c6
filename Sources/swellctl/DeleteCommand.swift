import ArgumentParser
import SwellAPI
import SwellClient

/// `swellctl delete KIND NAME...` or `swellctl delete -f FILE|DIR`.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete objects by kind and name, or those a manifest describes."
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .customLong("filename")], help: ArgumentHelp("A manifest file, a directory or - for standard input. Repeatable.", valueName: "path"))
    var files: [String] = []

    @Flag(name: .customLong("ignore-not-found"), help: "Treat objects that do not exist as deleted.")
    var ignoreNotFound = false

    @Argument(help: "KIND NAME... or KIND/NAME... (when -f is not given).")
    var arguments: [String] = []

    func validate() throws {
        if files.isEmpty {
            if arguments.count < 2, !(arguments.first?.contains("/") ?? false) {
                throw ArgumentParser.ValidationError("specify KIND and at least one NAME (or KIND/NAME), or -f FILE")
            }
        } else if !arguments.isEmpty {
            throw ArgumentParser.ValidationError("cannot combine -f with KIND NAME arguments")
        }
    }

    func run() async throws {
        let client = try global.client()
        var failed = false
        if files.isEmpty {
            let (kindName, names) = try KindArgument.split(arguments)
            let kind = try KindArgument.resolve(kindName)
            for name in names {
                failed = try await delete(kind, namespace: global.effectiveNamespace, name: name, client: client) || failed
            }
        } else {
            let set = ManifestSet(sources: try ManifestFiles.read(files), namespace: global.effectiveNamespace, validate: false)
            if !set.problems.isEmpty {
                for problem in set.problems { printError(problem) }
                printError("error: nothing was deleted")
                throw AlreadyReported()
            }
            // Reverse order, so that what a directory creates first is removed last.
            for item in set.objects.reversed() {
                let kind = type(of: item.object)
                failed = try await delete(kind, namespace: item.object.metadata.namespace, name: item.object.metadata.name, client: client) || failed
            }
        }
        if failed { throw AlreadyReported() }
    }

    /// Deletes one object; returns true when that failed (and says why).
    private func delete<R: Resource>(_ type: R.Type, namespace: String?, name: String, client: APIClient) async throws -> Bool {
        do {
            _ = try await client.delete(R.self, namespace: R.isNamespaced ? namespace : nil, name: name)
            printOutput("\(R.singular) \"\(name)\" deleted")
            return false
        } catch let status as Status where status.code == 404 {
            if ignoreNotFound { return false }
            printError(status.description)
            return true
        }
    }
}
