import Testing
@testable import SwellAPI

@Suite("LabelSelector")
struct LabelSelectorTests {
    static let labels = ["app": "chat", "tier": "gold", "env": "prod"]

    @Test("matches", arguments: [
        ("", true),
        ("app=chat", true),
        ("app==chat", true),
        ("app=other", false),
        ("app!=other", true),
        ("app!=chat", false),
        ("missing!=x", true),
        ("env in (prod,staging)", true),
        ("env in (staging)", false),
        ("env notin (staging, dev)", true),
        ("env notin (prod)", false),
        ("missing notin (a)", true),
        ("tier", true),
        ("missing", false),
        ("!missing", true),
        ("!tier", false),
        ("app=chat,tier=gold", true),
        ("app=chat,tier=silver", false),
        ("app=chat, env in (prod,dev), !canary", true),
    ])
    func matches(selector: String, expected: Bool) throws {
        let parsed = try LabelSelector(parsing: selector)
        #expect(parsed.matches(Self.labels) == expected)
    }

    @Test("rejects malformed selectors", arguments: ["app=chat,", "env in prod", "env in (a", "a b c d", "bad key!=x", "app=bad value", ",", "-x=1"])
    func rejects(selector: String) {
        #expect(throws: LabelSelector.ParseError.self) { try LabelSelector(parsing: selector) }
    }

    @Test("matchLabels selects exactly those labels")
    func matchLabels() {
        let selector = LabelSelector(matchLabels: ["app": "chat"])
        #expect(selector.matches(["app": "chat", "x": "y"]))
        #expect(!selector.matches(["app": "other"]))
        #expect(!selector.matches(nil))
        #expect(selector.description == "app=chat")
    }
}
