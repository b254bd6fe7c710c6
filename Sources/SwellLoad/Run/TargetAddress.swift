import Foundation

/// Checks on the target URL. Load is only sent to this machine unless the user says otherwise:
/// a load generator pointed at the wrong address is a denial-of-service tool.
public enum TargetAddress {
    /// Why `url` cannot be a target, or nil when it can.
    public static func problem(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              ["http", "https"].contains(scheme), let host = components.host, !host.isEmpty
        else { return "must be an http:// or https:// URL with a host (got \"\(url)\")" }
        if let query = components.query, !query.isEmpty { return "must not have a query (got \"\(url)\")" }
        return nil
    }

    /// True for `localhost`, 127.0.0.0/8 and ::1; names are not resolved, so any other name is remote.
    public static func isLoopback(_ url: String) -> Bool {
        guard let host = URLComponents(string: url)?.host?.lowercased() else { return false }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare.hasSuffix(".localhost") { return true }
        var ipv6 = in6_addr()
        if inet_pton(AF_INET6, bare, &ipv6) == 1 {
            var loopback = in6_addr()
            _ = inet_pton(AF_INET6, "::1", &loopback)
            return withUnsafeBytes(of: &ipv6) { lhs in withUnsafeBytes(of: &loopback) { rhs in lhs.elementsEqual(rhs) } }
        }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return false }
        return octets[0] == "127"
    }

    /// The URL without a trailing slash, so paths can be appended.
    public static func base(_ url: String) -> String {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
