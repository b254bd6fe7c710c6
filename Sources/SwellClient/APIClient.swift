import AsyncHTTPClient
import Foundation
import SwellAPI

/// A typed client for the Swell REST API (DESIGN.md §4).
///
/// Failing calls throw the server's `Status`; transport failures throw the underlying error.
/// PLACEHOLDER: the signatures are the contract; the bodies are being written.
public struct APIClient: Sendable {
    public let baseURL: String

    public init(baseURL: String, httpClient: HTTPClient = .shared) {
        self.baseURL = baseURL
    }

    public func get<R: Resource>(_ type: R.Type, namespace: String?, name: String) async throws -> R {
        fatalError("not implemented")
    }

    /// `namespace: nil` lists across all namespaces (or a cluster-scoped kind).
    public func list<R: Resource>(_ type: R.Type, namespace: String?, labelSelector: String? = nil) async throws -> ResourceList<R> {
        fatalError("not implemented")
    }

    public func create<R: Resource>(_ object: R) async throws -> R {
        fatalError("not implemented")
    }

    /// PUT; 409 `Status` with reason Conflict when `metadata.resourceVersion` is stale.
    public func update<R: Resource>(_ object: R) async throws -> R {
        fatalError("not implemented")
    }

    /// PUT to the `/status` subresource.
    public func updateStatus<R: Resource>(_ object: R) async throws -> R {
        fatalError("not implemented")
    }

    /// PATCH with `application/merge-patch+json`.
    public func patch<R: Resource>(_ type: R.Type, namespace: String?, name: String, mergePatch: JSONValue) async throws -> R {
        fatalError("not implemented")
    }

    /// DELETE; returns the object as the server last had it (with deletionTimestamp set when
    /// finalizers keep it around).
    public func delete<R: Resource>(_ type: R.Type, namespace: String?, name: String) async throws -> R {
        fatalError("not implemented")
    }

    /// `?watch=true&resourceVersion=N`; nil resourceVersion starts with ADDED for every current object.
    public func watch<R: Resource>(_ type: R.Type, namespace: String?, labelSelector: String? = nil, resourceVersion: String?) -> AsyncThrowingStream<WatchEvent<R>, any Error> {
        fatalError("not implemented")
    }

    public func version() async throws -> VersionInfo {
        fatalError("not implemented")
    }
}
