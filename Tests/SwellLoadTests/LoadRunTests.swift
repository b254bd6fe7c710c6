import AsyncHTTPClient
import Foundation
import Testing
@testable import SwellLoad

/// The run's bookkeeping and bounds, against a loopback port where nothing listens (every
/// request fails at once with a refused connection, so no server is needed). The request path
/// against a real engine is covered by the end-to-end test in IntegrationTests.
@Suite("Load run bounds", .serialized)
struct LoadRunTests {
    static let closedPort = "http://127.0.0.1:1"

    static func run(_ phases: [Phase], limits: Limits = Limits(), interrupt: Bool = false) async throws -> LoadRun.Outcome {
        let scenario = Scenario(name: "t", target: closedPort, model: "m", phases: phases, limits: limits)
        let http = LoadRun.makeHTTPClient(for: scenario)
        let run = LoadRun(scenario: scenario, http: http, observer: nil, runTag: "t")
        if interrupt { run.interrupt() }
        let outcome = await run.run()
        try await http.shutdown()
        return outcome
    }

    @Test("every scheduled arrival is sent, counted, and its failure described")
    func counts() async throws {
        let outcome = try await Self.run([Phase(name: "p", load: .open(.constant(rate: 20, seconds: 1, poisson: false)))])
        let report = outcome.report
        #expect(report.overall.requests.sent == 20)
        #expect(report.overall.requests.failed == 20)
        #expect(report.stoppedEarly == nil)
        #expect(report.phases.map(\.sent) == [20])
        #expect(report.generator.lateness.count == 20)
        #expect(report.overall.failures.first?.count == 20)
        #expect(outcome.timeline.rows.reduce(0) { $0 + $1.offered } == 20)
        #expect(outcome.timeline.rows.reduce(0) { $0 + $1.errors } == 20)
    }

    @Test("maxRequests stops sending and says so")
    func maxRequests() async throws {
        let outcome = try await Self.run([Phase(name: "p", load: .open(.constant(rate: 50, seconds: 2, poisson: false)))],
                                         limits: Limits(maxRequests: 5))
        #expect(outcome.report.overall.requests.sent == 5)
        #expect(outcome.report.stoppedEarly == "maxRequests")
    }

    @Test("maxDuration ends a longer scenario")
    func maxDuration() async throws {
        let outcome = try await Self.run([Phase(name: "p", load: .open(.constant(rate: 1, seconds: 600, poisson: false)))],
                                         limits: Limits(maxSeconds: 1))
        #expect(outcome.report.stoppedEarly == "maxDuration")
        #expect(outcome.report.overall.requests.sent <= 2)
    }

    @Test("an interrupted run returns its partial report")
    func interrupted() async throws {
        let outcome = try await Self.run([Phase(name: "p", load: .closed(users: 2, thinkSeconds: 1, seconds: 600))], interrupt: true)
        #expect(outcome.report.stoppedEarly == "interrupted")
        #expect(outcome.report.overall.requests.sent <= 2)
    }

    @Test("closed loop: each user sends again after its answer and its think time, until the phase ends")
    func closedLoop() async throws {
        let outcome = try await Self.run([Phase(name: "p", load: .closed(users: 3, thinkSeconds: 0.4, seconds: 2))])
        let sent = outcome.report.overall.requests.sent
        // Three users, each sending at once and then at most once per think time: at 0, 0.4, … 1.6 s.
        #expect((3...15).contains(sent), "\(sent)")
        #expect(outcome.report.overall.requests.failed == sent)
        #expect(outcome.timeline.rows.reduce(0) { $0 + $1.offered } == sent)
        #expect(outcome.report.generator.lateness.count == 0)
        #expect(outcome.report.phases.first?.process == "closed")
    }
}
