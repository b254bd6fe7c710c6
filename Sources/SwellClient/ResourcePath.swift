import Foundation
import SwellAPI

/// Builds request paths and query strings for the REST API (DESIGN.md §4).
///
/// Pure so the URL rules — scope, the default namespace, percent-encoding — are tested without
/// a server.
public enum ResourcePath {
    public static let prefix = "/apis/\(swellAPIVersion)"

    /// The namespace single-object calls use for a namespaced kind when the caller names none,
    /// as kubectl does.
    public static let defaultNamespace = "default"

    /// The collection path: namespaced when a namespace is given (and the kind is namespaced),
    /// otherwise the cluster-wide path, which lists and watches every namespace.
    public static func collection(_ type: any Resource.Type, namespace: String?) -> String {
        if type.isNamespaced, let namespace, !namespace.isEmpty {
            return "\(prefix)/namespaces/\(segment(namespace))/\(type.plural)"
        }
        return "\(prefix)/\(type.plural)"
    }

    /// One object's path; a namespaced kind without a namespace is addressed in `default`.
    public static func object(_ type: any Resource.Type, namespace: String?, name: String, subresource: String? = nil) -> String {
        let scope = type.isNamespaced ? (namespace.flatMap { $0.isEmpty ? nil : $0 } ?? defaultNamespace) : nil
        var path = collection(type, namespace: scope) + "/" + segment(name)
        if let subresource { path += "/" + subresource }
        return path
    }

    /// `?a=1&b=x%3Dy` from the pairs whose value is non-nil, in the given order.
    public static func query(_ items: [(String, String?)]) -> String {
        let pairs = items.compactMap { name, value in value.map { "\(name)=\(encode($0))" } }
        return pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&")
    }

    /// Only RFC 3986 unreserved characters stay literal, so `=`, `,`, `!`, `(` and spaces in a
    /// label selector survive the trip.
    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }

    private static func segment(_ value: String) -> String { encode(value) }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
