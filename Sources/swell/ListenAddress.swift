import ArgumentParser

/// A `host:port` to listen on, as `--listen` takes it: `127.0.0.1:7070`, `[::1]:0`, `:7070`.
struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    var host: String
    /// 0 asks the kernel for a free port.
    var port: Int

    struct ParseError: Error, CustomStringConvertible {
        let text: String
        let reason: String
        var description: String { "invalid listen address \"\(text)\": \(reason)" }
    }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init(parsing text: String) throws(ParseError) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            // A bracketed IPv6 literal: `[::1]:7070`.
            guard let close = text.firstIndex(of: "]") else {
                throw ParseError(text: text, reason: "missing \"]\" after the IPv6 address")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw ParseError(text: text, reason: "expected \":PORT\" after the IPv6 address")
            }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ParseError(text: text, reason: "expected HOST:PORT")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") {
                throw ParseError(text: text, reason: "write IPv6 addresses in brackets, like [::1]:7070")
            }
        }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw ParseError(text: text, reason: "port must be a number between 0 and 65535")
        }
        self.host = hostPart.isEmpty ? "0.0.0.0" : String(hostPart)
        self.port = port
    }

    /// The address with a concrete port, for URLs (`http://[::1]:7070`).
    func url(port: Int) -> String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(shownHost):\(port)"
    }

    /// A URL this process can reach itself on: a wildcard host becomes loopback.
    func clientURL(port: Int) -> String {
        switch host {
        case "0.0.0.0": "http://127.0.0.1:\(port)"
        case "::": "http://[::1]:\(port)"
        default: url(port: port)
        }
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension ListenAddress {
    /// Parses `--listen`, turning a bad value into a usage error that says what is wrong.
    static func argument(_ text: String) throws -> ListenAddress {
        do {
            return try ListenAddress(parsing: text)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
