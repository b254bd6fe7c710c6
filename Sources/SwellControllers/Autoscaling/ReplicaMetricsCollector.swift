import AsyncHTTPClient
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import SwellAPI
import SwellClient

/// Scrapes the `/metrics` of every replica that has an engine endpoint, every `interval`, and
/// keeps each one's latest reading and the one before it (for the CPU rate). The autoscaler
/// reads from here; nothing here decides anything.
///
/// A replica whose scrape fails, or whose reading is older than `staleAfter`, has no metrics —
/// which the autoscaler treats as missing, never as zero load.
public final class ReplicaMetricsCollector: Service, Sendable {
    public struct Configuration: Sendable {
        public var interval: Duration
        public var scrapeTimeout: Duration
        public var staleAfter: Duration

        public init(interval: Duration = .seconds(1), scrapeTimeout: Duration = .milliseconds(800), staleAfter: Duration = .seconds(3)) {
            self.interval = interval
            self.scrapeTimeout = scrapeTimeout
            self.staleAfter = staleAfter
        }
    }

    /// A replica's readings: the newest and the one before.
    public struct Readings: Sendable, Equatable {
        public var latest: EngineReading
        public var previous: EngineReading?
        /// When its request counter last moved (or its running count was above zero).
        public var lastActivity: ContinuousClock.Instant?
    }

    private struct Entry {
        var uid: String
        var readings: Readings
    }

    public let configuration: Configuration
    private let replicas: ObjectCache<Replica>
    private let http: HTTPClient
    private let logger: Logger
    private let entries = Mutex<[String: Entry]>([:])

    public init(replicas: ObjectCache<Replica>, http: HTTPClient, configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "swell.autoscaler.metrics")) {
        self.replicas = replicas
        self.http = http
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let started = ContinuousClock.now
                await self.scrapeAll()
                try? await Task.sleep(until: started + self.configuration.interval)
            }
        }
    }

    /// The readings of `replica` if they are fresh and belong to this incarnation of it.
    public func readings(of replica: Replica, now: ContinuousClock.Instant = .now) -> Readings? {
        readings(forKey: replica.metadata.key, uid: replica.metadata.uid ?? "", now: now)
    }

    /// The fresh readings of the replica `namespace/name`, of the incarnation `uid` when given.
    func readings(forKey key: String, uid: String? = nil, now: ContinuousClock.Instant = .now) -> Readings? {
        guard let entry = entries.withLock({ $0[key] }), uid == nil || entry.uid == uid,
              now - entry.readings.latest.time <= configuration.staleAfter else { return nil }
        return entry.readings
    }

    func scrapeAll() async {
        let targets = replicas.list().compactMap { replica -> (key: String, uid: String, url: String)? in
            guard !replica.metadata.isBeingDeleted, let endpoint = replica.status?.endpoint else { return nil }
            return (replica.metadata.key, replica.metadata.uid ?? "", endpoint + "/metrics")
        }
        let live = Set(targets.map(\.key))
        entries.withLock { entries in entries = entries.filter { live.contains($0.key) } }
        await withTaskGroup(of: Void.self) { group in
            for target in targets {
                group.addTask { await self.scrape(key: target.key, uid: target.uid, url: target.url) }
            }
        }
    }

    private func scrape(key: String, uid: String, url: String) async {
        do {
            let response = try await http.execute(HTTPClientRequest(url: url), timeout: .nanoseconds(configuration.scrapeTimeout.nanoseconds))
            guard response.status == .ok else { throw ScrapeFailure("HTTP \(response.status.code)") }
            let body = try await response.body.collect(upTo: 4 << 20)
            let reading = try EngineReading(exposition: String(buffer: body), at: .now)
            entries.withLock { entries in
                var readings: Readings
                if let old = entries[key], old.uid == uid {
                    readings = Readings(latest: reading, previous: old.readings.latest, lastActivity: old.readings.lastActivity)
                } else {
                    readings = Readings(latest: reading, previous: nil, lastActivity: nil)
                }
                if reading.running > 0 || (readings.previous.map { reading.requestsSeen != $0.requestsSeen } ?? false) {
                    readings.lastActivity = reading.time
                }
                entries[key] = Entry(uid: uid, readings: readings)
            }
        } catch {
            logger.debug("scrape failed", metadata: ["replica": "\(key)", "error": "\(error)"])
        }
    }
}

struct ScrapeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
