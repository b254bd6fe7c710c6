import SwellClient
import Testing
@testable import SwellLoad

@Suite("Queue length probe")
struct QueueLengthProbeTests {
    static let page = """
        swell_engine_requests_waiting{priority="batch"} 2
        swell_engine_requests_waiting{priority="standard"} 3.0
        swell_router_queue_length{namespace="default",service="chat",priority="batch"} 4
        swell_router_queue_length{namespace="default",service="chat",priority="critical"} 1
        swell_router_queue_length{namespace="default",service="other",priority="batch"} 9
        """

    @Test("the router's series for the service when present, else the engine's waiting requests")
    func queueLength() throws {
        let router = try PrometheusExposition(parsing: Self.page)
        #expect(QueueLengthProbe.queueLength(in: router, service: "chat") == 5)
        #expect(QueueLengthProbe.queueLength(in: router, service: "other") == 9)
        let engine = try PrometheusExposition(parsing: Self.page.split(separator: "\n").filter { !$0.hasPrefix("swell_router") }
            .joined(separator: "\n"))
        #expect(QueueLengthProbe.queueLength(in: engine, service: "chat") == 5)
        #expect(QueueLengthProbe.queueLength(in: try PrometheusExposition(parsing: "up 1\n"), service: "chat") == nil)
    }
}
