import AsyncHTTPClient
import Foundation
import SwellClient

/// What the control plane looked like at one moment of the run. Any part may be unknown.
public struct ClusterSample: Sendable, Equatable {
    public var readyReplicas: Int?
    public var desiredReplicas: Int?
    public var queueLength: Double?

    public init(readyReplicas: Int? = nil, desiredReplicas: Int? = nil, queueLength: Double? = nil) {
        self.readyReplicas = readyReplicas
        self.desiredReplicas = desiredReplicas
        self.queueLength = queueLength
    }
}

/// Ready and desired replicas of a service, from wherever they are kept (the Swell API server).
public protocol ReplicaCountSource: Sendable {
    /// nil when the counts cannot be had right now; that must not stop the run.
    func replicaCounts(service: String) async -> (ready: Int?, desired: Int?)?
}

/// Requests waiting at the target, from its `/metrics`: the router's queue for the service when
/// the target is a router, else the engine's waiting requests.
public struct QueueLengthProbe: Sendable {
    public let http: HTTPClient
    public let metricsURL: String
    public let service: String

    public init(http: HTTPClient, targetURL: String, service: String) {
        self.http = http
        metricsURL = TargetAddress.base(targetURL) + "/metrics"
        self.service = service
    }

    public func queueLength() async -> Double? {
        guard let response = try? await http.execute(HTTPClientRequest(url: metricsURL), timeout: .seconds(2)),
              response.status == .ok, let body = try? await response.body.collect(upTo: 16 << 20),
              let exposition = try? PrometheusExposition(parsing: String(buffer: body))
        else { return nil }
        return Self.queueLength(in: exposition, service: service)
    }

    /// The router's series for the service when there are any, else the engine's.
    public static func queueLength(in exposition: PrometheusExposition, service: String) -> Double? {
        exposition.sum("swell_router_queue_length", matching: ["service": service])
            ?? exposition.sum("swell_engine_requests_waiting")
    }
}

/// Samples the cluster about once a second while the run goes on.
public struct ClusterObserver: Sendable {
    public let replicas: (any ReplicaCountSource)?
    public let queue: QueueLengthProbe?
    public let service: String

    public init(replicas: (any ReplicaCountSource)?, queue: QueueLengthProbe?, service: String) {
        self.replicas = replicas
        self.queue = queue
        self.service = service
    }

    public func sample() async -> ClusterSample {
        async let counts = replicas?.replicaCounts(service: service)
        async let queueLength = queue?.queueLength()
        let replicaCounts = await counts
        return ClusterSample(readyReplicas: replicaCounts?.ready, desiredReplicas: replicaCounts?.desired,
                             queueLength: await queueLength)
    }
}
