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
}
