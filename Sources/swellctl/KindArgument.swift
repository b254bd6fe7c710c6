import SwellAPI

/// Turns the KIND argument into a kind, with kubectl's message when there is none.
enum KindArgument {
    static func resolve(_ name: String) throws(CLIError) -> any CLIResource.Type {
        guard let kind = CLIKinds.named(name) else {
            let known = ResourceKinds.all.map { type in
                ([type.plural] + type.shortNames).joined(separator: ", ")
            }.joined(separator: "; ")
            throw CLIError("the server doesn't have a resource type \"\(name)\" (known: \(known))")
        }
        return kind
    }

    /// `KIND NAME...` or, as kubectl takes them, `KIND/NAME...` (all of one kind): the kind and
    /// the names.
    static func split(_ arguments: [String]) throws(CLIError) -> (kind: String, names: [String]) {
        guard let first = arguments.first else { throw CLIError("specify the kind of object") }
        guard let slash = first.firstIndex(of: "/") else {
            if arguments.dropFirst().contains(where: { $0.contains("/") }) {
                throw CLIError("there is no need to give the kind as its own argument when names are given as KIND/NAME")
            }
            return (first, Array(arguments.dropFirst()))
        }
        let kind = String(first[..<slash])
        var names: [String] = []
        for argument in arguments {
            let parts = argument.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[1].isEmpty else { throw CLIError("\"\(argument)\" is not in the form KIND/NAME") }
            guard CLIKinds.named(String(parts[0])).map(ObjectIdentifier.init) == CLIKinds.named(kind).map(ObjectIdentifier.init) else {
                throw CLIError("\"\(argument)\": give objects of one kind at a time")
            }
            names.append(String(parts[1]))
        }
        return (kind, names)
    }
}
