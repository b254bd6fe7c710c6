import ServiceLifecycle

/// One model served to many concurrent requests: admission with priority classes, a paged KV
/// cache with prefix reuse, and a continuous-batching step loop on its own thread.
///
/// Run it as a `Service`; `run()` returns after a graceful shutdown has drained every request
/// (or at once when cancelled, aborting what is left).
public final class ServingEngine: Service, Sendable {
    public let model: LlamaModel
    public let configuration: ServingConfiguration

    public init(model: LlamaModel, configuration: ServingConfiguration) {
        self.model = model
        self.configuration = configuration
    }

    /// Queues a request. The stream yields its events; ending the stream early (the consumer's
    /// task is cancelled or drops the iterator) aborts the request and frees its blocks.
    public func submit(_ request: ServingRequest) throws(AdmissionError) -> AsyncStream<ServingEvent> {
        fatalError("ServingEngine.submit: not implemented yet")
    }

    /// Stops admitting new requests; running and waiting ones continue.
    public func beginDrain() {
        fatalError("ServingEngine.beginDrain: not implemented yet")
    }

    /// Returns once draining has begun and no request is running or waiting.
    public func waitUntilDrained() async {
        fatalError("ServingEngine.waitUntilDrained: not implemented yet")
    }

    public func statistics() -> ServingStatistics {
        fatalError("ServingEngine.statistics: not implemented yet")
    }

    public func run() async throws {
        fatalError("ServingEngine.run: not implemented yet")
    }
}
