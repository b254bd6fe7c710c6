import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import SwellLoad

@Suite("SVG chart")
struct ChartSVGTests {
    /// Collects the elements of a document, failing on anything not well-formed.
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [(name: String, attributes: [String: String])] = []
        var text = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append((name, attributes))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
    }

    static func parse(_ svg: String) throws -> Collector {
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = Collector()
        parser.delegate = collector
        let ok = parser.parse()
        if !ok { Issue.record("not well-formed XML: \(String(describing: parser.parserError))") }
        try #require(ok)
        return collector
    }

    static func timeline(seconds: Int, replicas: Bool) -> Timeline {
        var rows: [TimelineRow] = []
        for second in 0..<seconds {
            var row = TimelineRow(second: second, offered: second < 10 ? 2 : 6, completed: 2, errors: second == 12 ? 1 : 0)
            if second != 5 { row.ttftP99 = 0.1 + Double(second) / 100 }
            if replicas {
                row.readyReplicas = second < 15 ? 1 : 2
                row.desiredReplicas = second < 12 ? 1 : 2
            }
            rows.append(row)
        }
        return Timeline(rows: rows)
    }

    static func report(name: String = "burst") -> LoadReport {
        var scenario = ReportTests.scenario
        scenario.name = name
        scenario.phases = [Phase(name: "base", load: .open(.constant(rate: 2, seconds: 10, poisson: false))),
                           Phase(name: "spike <3×>", load: .open(.constant(rate: 6, seconds: 10, poisson: false)))]
        let facts = LoadRecorder.RunFacts(scenario: scenario, startedAt: Date(timeIntervalSince1970: 0), durationSeconds: 20,
                                          stoppedEarly: nil, phaseStarts: [0, 10])
        return LoadRecorder(slo: SLO()).report(facts)
    }

    @Test("well-formed SVG with every series, one point per known second, and the phases marked")
    func series() throws {
        let svg = ChartSVG.render(Self.timeline(seconds: 20, replicas: true), report: Self.report())
        let document = try Self.parse(svg)
        #expect(document.elements.first?.name == "svg")
        #expect(document.elements.first?.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        let paths = Dictionary(document.elements.filter { $0.name == "path" }.compactMap { element in
            element.attributes["id"].map { ($0, element.attributes) }
        }, uniquingKeysWith: { first, _ in first })
        let expected = ["series-offered": 20, "series-completed": 20, "series-errors": 20, "series-ready-replicas": 20,
                        "series-desired-replicas": 20, "series-ttft-p99": 19]
        for (id, points) in expected {
            let path = try #require(paths[id], "no \(id)")
            #expect(path["data-points"] == "\(points)", "\(id)")
            #expect(path["d"]?.hasPrefix("M") == true)
        }
        // TTFT is joined across the second without a value, with a dot per known second.
        #expect(paths["series-ttft-p99"]?["d"]?.filter { $0 == "M" }.count == 1)
        #expect(document.elements.filter { $0.name == "circle" }.count == 19)
        #expect(document.text.contains("spike <3×>"))
        #expect(!svg.contains("<script"))
        #expect(!svg.contains("href"))
    }

    @Test("without replica counts the panel says so instead of drawing a line")
    func noReplicas() throws {
        let svg = ChartSVG.render(Self.timeline(seconds: 5, replicas: false), report: Self.report(name: "a & b"))
        let document = try Self.parse(svg)
        #expect(document.text.contains("no replica counts"))
        let ready = document.elements.first { $0.attributes["id"] == "series-ready-replicas" }
        #expect(ready?.attributes["data-points"] == "0")
        #expect(document.text.contains("a & b"))
    }

    @Test("load is drawn as a centred 5-second moving average")
    func movingAverage() {
        let averaged = ChartSVG.movingAverage([0, 0, 5, 0, 0, 10, 0])
        let expected: [Double?] = [5.0 / 3, 5.0 / 4, 1, 3, 3, 2.5, 10.0 / 3]
        #expect(averaged == expected)
    }

    @Test("axis maxima are 1, 2 or 5 times a power of ten", arguments: [(0.3, 0.5), (1, 1), (7, 10), (12, 20), (450, 500), (0, 1)])
    func niceCeiling(value: Double, expected: Double) {
        #expect(abs(ChartSVG.niceCeiling(value) - expected) < 1e-9)
    }
}
