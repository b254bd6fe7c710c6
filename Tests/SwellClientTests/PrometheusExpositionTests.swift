import Testing
@testable import SwellClient

@Suite("Prometheus text format")
struct PrometheusExpositionTests {
    static let engine = """
        # HELP swell_engine_requests_waiting Requests waiting to be scheduled, by priority class.
        # TYPE swell_engine_requests_waiting gauge
        swell_engine_requests_waiting{priority="batch"} 2
        swell_engine_requests_waiting{priority="standard"} 3.0
        swell_engine_requests_waiting{priority="critical"} 0
        # TYPE swell_engine_time_to_first_token_seconds histogram
        swell_engine_time_to_first_token_seconds_bucket{le="0.1"} 4
        swell_engine_time_to_first_token_seconds_bucket{le="+Inf"} 5
        swell_engine_time_to_first_token_seconds_sum 0.75
        swell_engine_time_to_first_token_seconds_count 5
        # a free comment
        swell_router_queue_length{service="chat",priority="batch"} 4 1700000000000
        swell_router_queue_length{service="chat",priority="critical"} 1
        swell_router_queue_length{service="other",priority="batch"} 9

        """

    @Test("samples, labels, types, help text and timestamps of an engine scrape")
    func parses() throws {
        let exposition = try PrometheusExposition(parsing: Self.engine)
        #expect(exposition.samples.count == 10)
        #expect(exposition.types["swell_engine_requests_waiting"] == .gauge)
        #expect(exposition.types["swell_engine_time_to_first_token_seconds"] == .histogram)
        #expect(exposition.help["swell_engine_requests_waiting"] == "Requests waiting to be scheduled, by priority class.")
        #expect(exposition.sum("swell_engine_requests_waiting") == 5)
        #expect(exposition.sum("swell_engine_requests_waiting", matching: ["priority": "batch"]) == 2)
        #expect(exposition.sum("swell_engine_time_to_first_token_seconds_bucket", matching: ["le": "+Inf"]) == 5)
        #expect(exposition.samples(named: "swell_router_queue_length").first?.timestamp == 1_700_000_000_000)
        #expect(exposition.sum("swell_engine_prompt_tokens_total") == nil)
    }

    @Test("label escapes, special values, spacing and an optional trailing comma")
    func values() throws {
        let exposition = try PrometheusExposition(parsing: """
            a{path="C:\\\\dir",quote="say \\"hi\\"",nl="x\\ny",} +Inf
            b -Inf
            c NaN
            d{} 1.5e3
            e\t  -0.25
            f:g 7\r
            """)
        let a = try #require(exposition.samples.first)
        #expect(a.labels == ["path": "C:\\dir", "quote": "say \"hi\"", "nl": "x\ny"])
        #expect(a.value == .infinity)
        #expect(exposition.sum("b") == -.infinity)
        #expect(exposition.sum("c")?.isNaN == true)
        #expect(exposition.sum("d") == 1500)
        #expect(exposition.sum("e") == -0.25)
        #expect(exposition.sum("f:g") == 7)
    }

    @Test("malformed input is an error naming its line", arguments: [
        ("ok 1\nbad-name 1", 2, "expected a space"),
        ("x{a=\"1", 1, "unterminated label value"),
        ("x{a=\"1\"", 1, "unterminated label set"),
        ("x{a=1} 2", 1, "expected \""),
        ("x{a=\"1\" b=\"2\"} 3", 1, "expected , or }"),
        ("x{a=\"1\",a=\"2\"} 3", 1, "label a is repeated"),
        ("x{1a=\"1\"} 3", 1, "expected a label name"),
        ("x", 1, "expected a space and a value"),
        ("x one", 1, "\"one\" is not a sample value"),
        ("x inf", 1, "\"inf\" is not a sample value"),
        ("x 0x10", 1, "\"0x10\" is not a sample value"),
        ("x 1 12.5", 1, "not a timestamp"),
        ("x 1 2 3", 1, "unexpected text"),
        ("x{a=\"\\t\"} 1", 1, "unknown escape"),
        ("x 1\nx 2", 2, "duplicate series x"),
        ("# TYPE x countr", 1, "unknown metric type"),
        ("# TYPE x gauge\n# TYPE x gauge", 2, "a second # TYPE"),
        ("x 1\n# TYPE x gauge", 2, "comes after its samples"),
        ("# TYPE x gauge extra", 1, "unexpected text"),
        ("# HELP", 1, "expected a metric name"),
        ("9x 1", 1, "expected a metric name"),
    ])
    func rejects(text: String, line: Int, message: String) {
        #expect {
            try PrometheusExposition(parsing: text)
        } throws: { error in
            guard let error = error as? PrometheusParseError else { return false }
            return error.line == line && error.message.contains(message)
        }
    }

    @Test("the same labels in another order are the same series")
    func duplicateLabelOrder() {
        #expect(throws: PrometheusParseError.self) {
            try PrometheusExposition(parsing: "x{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 1")
        }
    }
}
