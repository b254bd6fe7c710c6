import AsyncHTTPClient
import Foundation
import NIOCore

/// Words transport errors for people: "connection refused", not a nested NIO error dump.
enum TransportFailure {
    /// Why no connection could be made, or nil when `error` happened on a connection that was
    /// made (or is not a transport error at all).
    static func connectionProblem(_ error: any Error) -> String? {
        if let error = error as? HTTPClientError {
            return error == .connectTimeout ? "timed out connecting" : nil
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return "timed out connecting"
        }
        if let error = error as? IOError, connectErrnos.contains(error.errnoCode) {
            return errnoText(error.errnoCode)
        }
        // NIOPosix's NIOConnectionError (SwellClient does not link NIOPosix directly): its
        // `connectionErrors` hold one IOError per address tried, `dnsAError` a failed lookup.
        let mirror = Mirror(reflecting: error)
        guard String(describing: type(of: error)) == "NIOConnectionError" else { return nil }
        for child in mirror.children {
            switch child.label {
            case "dnsAError", "dnsAAAAError":
                if let dnsError = unwrap(child.value) { return "cannot resolve the host (\(dnsError))" }
            case "connectionErrors":
                for failure in Mirror(reflecting: child.value).children {
                    for field in Mirror(reflecting: failure.value).children where field.label == "error" {
                        if let ioError = field.value as? IOError { return errnoText(ioError.errnoCode) }
                        if let nested = field.value as? any Error, let problem = connectionProblem(nested) { return problem }
                    }
                }
            default:
                continue
            }
        }
        return "connection failed"
    }

    /// A one-line description of any transport error.
    static func summary(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded: return "no response within the request timeout"
            case .remoteConnectionClosed: return "the server closed the connection"
            case .readTimeout: return "the server stopped sending"
            default: return "\(error)"
            }
        }
        if let error = error as? IOError { return errnoText(error.errnoCode) }
        return "\(error)"
    }

    /// `http://host:port` of a URL, for messages about the server rather than one call.
    static func origin(of url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else {
            return url
        }
        return "\(scheme)://\(host)\(components.port.map { ":\($0)" } ?? "")"
    }

    private static let connectErrnos: Set<Int32> = [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT, EADDRNOTAVAIL]

    private static func errnoText(_ code: Int32) -> String {
        String(cString: strerror(code)).lowercased()
    }

    private static func unwrap(_ value: Any) -> (any Error)? {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value as? any Error }
        return mirror.children.first.flatMap { $0.value as? any Error }
    }
}
