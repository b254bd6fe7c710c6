import SwellAPI

/// A request path under `/apis/swell.dev/v1`, decoded into what it addresses.
///
/// `/apis/swell.dev/v1/namespaces/{ns}/{plural}[/{name}[/status]]` for namespaced kinds and
/// `/apis/swell.dev/v1/{plural}[/{name}[/status]]` for cluster-scoped kinds (and for lists and
/// watches of namespaced kinds across every namespace).
struct APIPath: Equatable, CustomStringConvertible {
    static let prefix = "/apis/\(swellAPIVersion)"

    var plural: String
    var namespace: String?
    var name: String?
    var subresource: String?

    var description: String {
        var path = Self.prefix
        if let namespace { path += "/namespaces/\(namespace)" }
        path += "/\(plural)"
        if let name { path += "/\(name)" }
        if let subresource { path += "/\(subresource)" }
        return path
    }

    enum ParseError: Error, Equatable {
        case notAnAPIPath
        case unknownResource(String)
        case malformed(String)
    }

    /// Parses and checks the path against the kind's scope; returns the kind too.
    static func parse(_ path: String) throws(ParseError) -> (APIPath, any Resource.Type) {
        guard path == prefix || path.hasPrefix(prefix + "/") else { throw .notAnAPIPath }
        var segments = path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if segments.first == "" { segments.removeFirst() }
        if segments.last == "" { segments.removeLast() }
        guard !segments.isEmpty, !segments.contains("") else { throw .malformed("empty path segment in \(path)") }

        var namespace: String?
        if segments[0] == "namespaces" {
            guard segments.count >= 3 else { throw .malformed("expected /namespaces/{namespace}/{resource}") }
            namespace = segments[1]
            segments.removeFirst(2)
        }
        let plural = segments[0]
        guard let type = ResourceKinds.all.first(where: { $0.plural == plural }) else {
            throw .unknownResource(plural)
        }
        if namespace != nil, !type.isNamespaced {
            throw .malformed("\(plural) are cluster-scoped; use \(prefix)/\(plural)")
        }
        let name = segments.count > 1 ? segments[1] : nil
        if name != nil, namespace == nil, type.isNamespaced {
            throw .malformed("\(plural) are namespaced; use \(prefix)/namespaces/{namespace}/\(plural)/\(name!)")
        }
        let subresource = segments.count > 2 ? segments[2] : nil
        if let subresource, subresource != "status" {
            throw .malformed("unknown subresource \"\(subresource)\"")
        }
        guard segments.count <= 3 else { throw .malformed("too many path segments in \(path)") }
        return (APIPath(plural: plural, namespace: namespace, name: name, subresource: subresource), type)
    }
}
