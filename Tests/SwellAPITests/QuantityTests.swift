import Foundation
import Testing
@testable import SwellAPI

@Suite("Quantity")
struct QuantityTests {
    @Test("parses exactly", arguments: [
        ("250m", "0.25"),
        ("2", "2"),
        ("0.5", "0.5"),
        ("1.5", "1.5"),
        ("512Mi", "536870912"),
        ("1Gi", "1073741824"),
        ("1Ki", "1024"),
        ("1Ti", "1099511627776"),
        ("1Ei", "1152921504606846976"),
        ("1k", "1000"),
        ("1M", "1000000"),
        ("1G", "1000000000"),
        ("1E", "1000000000000000000"),
        ("100n", "0.0000001"),
        ("5u", "0.000005"),
        ("1e3", "1000"),
        ("1E3", "1000"),
        ("1.5e-3", "0.0015"),
        ("-1", "-1"),
        ("+2", "2"),
        (".5", "0.5"),
        ("0.1", "0.1"),
    ])
    func parses(text: String, expected: String) throws {
        let quantity = try Quantity(text)
        #expect(quantity.value == Decimal(string: expected)!)
        #expect(quantity.text == text)
    }

    @Test("rejects malformed text", arguments: ["", "abc", "1.2.3", "1Qi", "Mi", "1 Gi", "1mi", "--1", ".", "1e", "1e99"])
    func rejects(text: String) {
        #expect(throws: Quantity.ParseError.self) { try Quantity(text) }
    }

    @Test("millis and integer values round up like Kubernetes")
    func rounding() throws {
        #expect(try Quantity("250m").millis == 250)
        #expect(try Quantity("1").millis == 1000)
        #expect(try Quantity("0.0001").millis == 1)
        #expect(try Quantity("1.2").integerValue == 2)
        #expect(try Quantity("512Mi").integerValue == 536_870_912)
    }

    @Test("compares by value, not by text")
    func comparison() throws {
        #expect(try Quantity("1000m") < Quantity("1.5"))
        #expect(try Quantity("1Gi") > Quantity("1G"))
        #expect(try !(Quantity("1") < Quantity("1000m")))
    }

    @Test("constructors write what kubectl would")
    func constructors() {
        #expect(Quantity(millis: 1500).text == "1500m")
        #expect(Quantity(millis: 2000).text == "2")
        #expect(Quantity(bytes: 536_870_912).text == "512Mi")
        #expect(Quantity(bytes: 1_073_741_824).text == "1Gi")
        #expect(Quantity(bytes: 1000).text == "1000")
    }

    @Test("decodes YAML numbers and strings and keeps the text")
    func decoding() throws {
        let manifests = try ManifestParser.parse("a: 2\nb: \"250m\"\nc: 0.5\n", source: "q.yaml")
        let document = try #require(manifests.first).document
        struct Holder: Codable { var a: Quantity; var b: Quantity; var c: Quantity }
        let holder = try document.decode(Holder.self)
        #expect(holder.a.text == "2")
        #expect(holder.b.text == "250m")
        #expect(holder.c.value == Decimal(string: "0.5")!)
        #expect(try JSONValue(encoding: holder)["b"] == .string("250m"))
    }
}
