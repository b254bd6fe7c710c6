import ArgumentParser
import SwellAPI
import SwellClient

/// `swellctl apply -f FILE|DIR|-` — create or update objects to match manifests.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or update objects from YAML or JSON manifests.",
        discussion: """
            Every document is parsed, defaulted and validated before anything is sent: if any \
            has a problem, each is printed as FILE:LINE: field: message and nothing is applied. \
            Then each object is created, left unchanged, or updated ("configured").
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .customLong("filename")], help: ArgumentHelp(
        "A manifest file, a directory (read recursively) or - for standard input. Repeatable.", valueName: "path"))
    var files: [String] = []

    /// Attempts at a PUT racing with other writers before giving up.
    static let conflictRetries = 5

    func validate() throws {
        if files.isEmpty { throw ArgumentParser.ValidationError("must specify -f (a file, a directory or -)") }
    }

    func run() async throws {
        let set = ManifestSet(sources: try ManifestFiles.read(files), namespace: global.effectiveNamespace)
        if !set.problems.isEmpty {
            for problem in set.problems { printError(problem) }
            let count = set.problems.flatMap { $0.split(separator: "\n") }.count
            printError("error: \(count) problem\(count == 1 ? "" : "s") found; nothing was applied")
            throw AlreadyReported()
        }
        if set.objects.isEmpty { throw CLIError("no objects passed to apply") }

        let client = try global.client()
        var failed = false
        for item in set.objects {
            do {
                let outcome = try await apply(item.object, with: client)
                printOutput("\(item.reference) \(outcome)")
            } catch let status as Status {
                printError(ErrorReport.text(for: status, verb: "applying", object: item))
                failed = true
            }
        }
        if failed { throw AlreadyReported() }
    }

    /// Brings one object to its desired state; returns `created`, `unchanged` or `configured`.
    func apply<R: Resource>(_ desired: R, with client: APIClient) async throws -> String {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let live: R?
                if desired.metadata.name.isEmpty {
                    live = nil  // generateName: always a new object
                } else {
                    live = try await client.getIfPresent(R.self, namespace: desired.metadata.namespace, name: desired.metadata.name)
                }
                switch ApplyPlanner.plan(desired: desired, live: live) {
                case .create(let object):
                    _ = try await client.create(object)
                    return "created"
                case .unchanged:
                    return "unchanged"
                case .update(let object):
                    _ = try await client.update(object)
                    return "configured"
                }
            } catch let status as Status where status.code == 409 && attempt < Self.conflictRetries {
                // Someone else wrote in between (Conflict) or created it first (AlreadyExists): look again.
                continue
            }
        }
    }
}

extension APIClient {
    /// GET, with NotFound as nil.
    func getIfPresent<R: Resource>(_ type: R.Type, namespace: String?, name: String) async throws -> R? {
        do {
            return try await get(type, namespace: R.isNamespaced ? namespace : nil, name: name)
        } catch let status as Status where status.code == 404 {
            return nil
        }
    }
}
