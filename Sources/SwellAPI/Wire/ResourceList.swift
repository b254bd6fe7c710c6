/// The body of a list call: items plus the revision to start a watch from.
public struct ResourceList<Item: Resource>: Sendable, Codable {
    public struct ListMeta: Sendable, Hashable, Codable {
        public var resourceVersion: String?

        public init(resourceVersion: String?) {
            self.resourceVersion = resourceVersion
        }
    }

    public var apiVersion: String
    public var kind: String
    public var metadata: ListMeta
    public var items: [Item]

    public init(items: [Item], resourceVersion: String?) {
        self.apiVersion = swellAPIVersion
        self.kind = "\(Item.kind)List"
        self.metadata = ListMeta(resourceVersion: resourceVersion)
        self.items = items
    }
}

/// `GET /version`.
public struct VersionInfo: Sendable, Hashable, Codable {
    public var version: String
    public var apiVersion: String
    public var gitCommit: String?

    public init(version: String, apiVersion: String = swellAPIVersion, gitCommit: String? = nil) {
        self.version = version
        self.apiVersion = apiVersion
        self.gitCommit = gitCommit
    }

    public static let current = VersionInfo(version: swellVersion)
}

public let swellVersion = "0.1.0"
