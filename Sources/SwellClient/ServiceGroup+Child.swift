import AsyncHTTPClient
import ServiceLifecycle

extension ServiceGroup {
    /// Runs the group inside another service's `run()`: that service's graceful shutdown becomes
    /// the group's, which stops its services in reverse order before this returns.
    public func runAsChild() async throws {
        try await withGracefulShutdownHandler {
            try await self.run()
        } onGracefulShutdown: {
            Task { await self.triggerGracefulShutdown() }
        }
    }
}

extension HTTPClient {
    /// Runs `body` with a client of its own, shut down afterwards whether `body` throws or not.
    public static func withClient<T>(configuration: Configuration = Configuration(),
                                     _ body: (HTTPClient) async throws -> T) async throws -> T {
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let result: T
        do {
            result = try await body(client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return result
    }
}
