import Testing
@testable import SwellControllers

@Suite("Engine readings")
struct EngineReadingTests {
    /// A real scrape of `swell engine serve` (histogram buckets left out) after one request.
    static let scrape = """
# HELP swell_engine_requests_running Requests being computed.
# TYPE swell_engine_requests_running gauge
swell_engine_requests_running 0.0
# HELP swell_engine_prefix_cache_queries_total Prompt tokens looked up in the prefix cache.
# TYPE swell_engine_prefix_cache_queries_total counter
swell_engine_prefix_cache_queries_total 31
# HELP swell_engine_kv_cache_usage_ratio KV cache blocks referenced by running requests, 0 to 1.
# TYPE swell_engine_kv_cache_usage_ratio gauge
swell_engine_kv_cache_usage_ratio 0.0
# HELP swell_engine_requests_waiting Requests waiting to be scheduled, by priority class.
# TYPE swell_engine_requests_waiting gauge
swell_engine_requests_waiting{priority="critical"} 0.0
swell_engine_requests_waiting{priority="batch"} 0.0
swell_engine_requests_waiting{priority="standard"} 0.0
# HELP swell_engine_request_queue_time_seconds Time requests waited before first being scheduled.
# TYPE swell_engine_request_queue_time_seconds histogram
swell_engine_request_queue_time_seconds_sum 0.00018565300000017437
swell_engine_request_queue_time_seconds_count 1
# HELP swell_engine_requests_total Requests ended, by finish reason.
# TYPE swell_engine_requests_total counter
swell_engine_requests_total{finish_reason="length"} 1
# HELP swell_engine_preemptions_total Running requests preempted for KV cache space (recomputed later).
# TYPE swell_engine_preemptions_total counter
swell_engine_preemptions_total 0
# HELP swell_engine_prompt_tokens_total Prompt tokens of admitted requests.
# TYPE swell_engine_prompt_tokens_total counter
swell_engine_prompt_tokens_total 31
# HELP swell_engine_e2e_request_latency_seconds From request arrival to its last token.
# TYPE swell_engine_e2e_request_latency_seconds histogram
swell_engine_e2e_request_latency_seconds_sum 2.107534892
swell_engine_e2e_request_latency_seconds_count 1
# HELP swell_engine_time_to_first_token_seconds From request arrival to the first generated token.
# TYPE swell_engine_time_to_first_token_seconds histogram
swell_engine_time_to_first_token_seconds_sum 0.683492531
swell_engine_time_to_first_token_seconds_count 1
# HELP swell_engine_model_load_seconds Time it took to load the model.
# TYPE swell_engine_model_load_seconds gauge
swell_engine_model_load_seconds 0.382854053
# HELP swell_engine_generation_tokens_total Tokens generated.
# TYPE swell_engine_generation_tokens_total counter
swell_engine_generation_tokens_total 3
# HELP swell_engine_cpu_seconds_total CPU time of the engine process (user + system).
# TYPE swell_engine_cpu_seconds_total counter
swell_engine_cpu_seconds_total 2.5002459999999997
# HELP swell_engine_inter_token_latency_seconds Time between consecutive generated tokens.
# TYPE swell_engine_inter_token_latency_seconds histogram
swell_engine_inter_token_latency_seconds_sum 1.4239658560000001
swell_engine_inter_token_latency_seconds_count 2
# HELP swell_engine_draining 1 while the engine drains and admits nothing new.
# TYPE swell_engine_draining gauge
swell_engine_draining 0.0
# HELP swell_engine_prefix_cache_hits_total Prompt tokens found in the prefix cache.
# TYPE swell_engine_prefix_cache_hits_total counter
swell_engine_prefix_cache_hits_total 0
"""

    @Test("a real engine scrape gives the gauges and counters the autoscaler uses")
    func parsesEngineScrape() throws {
        let now = ContinuousClock.now
        let reading = try EngineReading(exposition: Self.scrape, at: now)
        #expect(reading == EngineReading(time: now, waiting: 0, running: 0, kvCacheUsage: 0, cpuSeconds: 2.5002459999999997,
                                         requestsSeen: 1, prefixCacheHits: 0))
    }

    @Test("waiting requests are summed over the priority classes; rejected requests count as seen")
    func sumsClasses() throws {
        let text = """
            swell_engine_requests_waiting{priority="critical"} 2
            swell_engine_requests_waiting{priority="batch"} 5
            swell_engine_requests_running 3
            swell_engine_kv_cache_usage_ratio 0.25
            swell_engine_cpu_seconds_total 10
            swell_engine_requests_total{finish_reason="stop"} 4
            swell_engine_rejected_total{reason="queue_full"} 2
            """
        let reading = try EngineReading(exposition: text, at: .now)
        #expect(reading.waiting == 7)
        #expect(reading.running == 3)
        #expect(reading.kvCacheUsage == 0.25)
        #expect(reading.requestsSeen == 6)
    }

    @Test("a page without a required gauge, or not Prometheus text, is a failed scrape", arguments: [
        ("swell_engine_requests_running 1\nswell_engine_kv_cache_usage_ratio 0\nswell_engine_cpu_seconds_total 1",
         EngineReading.ParseFailure.missing("swell_engine_requests_waiting")),
        ("<html>not metrics</html>", nil),
    ])
    func rejectsBadPages(text: String, expected: EngineReading.ParseFailure?) {
        #expect {
            _ = try EngineReading(exposition: text, at: .now)
        } throws: { error in
            guard let failure = error as? EngineReading.ParseFailure else { return false }
            if let expected { return failure == expected }
            if case .exposition = failure { return true }
            return false
        }
    }

    @Test("CPU utilization: CPU-seconds per second over the request's cores, in percent", arguments: [
        // (cpu seconds before, after, wall seconds, cores, expected percent)
        (10.0, 10.5, 1.0, 1.0, 50.0 as Double?),
        (10.0, 11.5, 1.0, 2.0, 75.0),
        (10.0, 10.25, 0.5, 0.5, 100.0),
        (4.0, 4.0, 2.0, 1.0, 0.0),
        (10.0, 2.0, 1.0, 1.0, nil), // the counter went back: a restarted engine
        (10.0, 11.0, 0.0, 1.0, nil), // no time between the readings
    ])
    func cpuUtilization(before: Double, after: Double, seconds: Double, cores: Double, expected: Double?) {
        let start = ContinuousClock.now
        let earlier = EngineReading(time: start, waiting: 0, running: 0, kvCacheUsage: 0, cpuSeconds: before, requestsSeen: 0)
        let later = EngineReading(time: start + .milliseconds(Int(seconds * 1000)), waiting: 0, running: 0, kvCacheUsage: 0,
                                  cpuSeconds: after, requestsSeen: 0)
        let value = EngineReading.cpuUtilization(from: earlier, to: later, cores: cores)
        if let expected, let value {
            #expect(abs(value - expected) < 1e-9)
        } else {
            #expect(value == nil && expected == nil)
        }
    }
}
