import Foundation
import SwellAPI
import SwellHTTP
import Testing
@testable import SwellRouter

@Suite("Routed request and affinity key")
struct RoutedRequestTests {
    func decode(_ json: String, _ endpoint: RoutedRequest.Endpoint = .chat) throws(OpenAIError) -> RoutedRequest {
        try RoutedRequest.decode(Data(json.utf8), endpoint: endpoint)
    }

    @Test("model, priority (name or number) and stream are read; the rest passes through")
    func fields() throws {
        let chat = try decode(#"{"model":"chat","priority":"batch","stream":true,"temperature":0,"messages":[{"role":"user","content":"hi"}]}"#)
        #expect(chat.model == "chat")
        #expect(chat.priority == .batch)
        #expect(chat.stream)
        #expect(try decode(#"{"model":"ns/chat","priority":0,"messages":[]}"#).priority == .critical)
        #expect(try decode(#"{"model":"chat","messages":[]}"#).priority == nil)
    }

    @Test("bad bodies are 400s that name the field", arguments: [
        (#"{"messages":[]}"#, "model"),
        (#"{"model":"","messages":[]}"#, "model"),
        (#"{"model":"chat","priority":"urgent"}"#, "priority"),
        (#"{"model":"chat","priority":7}"#, "priority"),
        (#"{"model":42}"#, "model"),
        (#"not json"#, nil),
        (#"[1,2]"#, nil),
    ])
    func badBodies(json: String, param: String?) {
        #expect {
            try decode(json)
        } throws: { error in
            guard let error = error as? OpenAIError else { return false }
            return error.status == .badRequest && error.param == param
        }
    }

    @Test("chat affinity text: system messages and the first user message, not later turns")
    func chatOpening() throws {
        let first = try decode(#"{"model":"m","messages":[{"role":"system","content":"S"},{"role":"user","content":"Q1"}]}"#)
        let followUp = try decode(#"{"model":"m","messages":[{"role":"system","content":"S"},{"role":"user","content":"Q1"},{"role":"assistant","content":"A1"},{"role":"user","content":"Q2"}]}"#)
        let other = try decode(#"{"model":"m","messages":[{"role":"system","content":"S"},{"role":"user","content":"Q9"}]}"#)
        #expect(first.affinityText == followUp.affinityText)
        #expect(first.affinityText != other.affinityText)
        #expect(first.affinityText.contains("S") && first.affinityText.contains("Q1"))
        // Content given as parts counts as its text.
        let parts = try decode(#"{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"S"}]},{"role":"user","content":"Q1"}]}"#)
        #expect(parts.affinityText == first.affinityText)
    }

    @Test("completion affinity text is the prompt; the key covers only its first prefixBytes bytes")
    func completionPrefix() throws {
        let shared = String(repeating: "few-shot example. ", count: 20)
        let a = try decode(#"{"model":"m","prompt":"\#(shared)question A"}"#, .completion)
        let b = try decode(#"{"model":"m","prompt":"\#(shared)question B"}"#, .completion)
        #expect(AffinityKey.hash(a.affinityText, prefixBytes: 64) == AffinityKey.hash(b.affinityText, prefixBytes: 64))
        #expect(AffinityKey.hash(a.affinityText, prefixBytes: 4096) != AffinityKey.hash(b.affinityText, prefixBytes: 4096))
        #expect(AffinityKey.hash("", prefixBytes: 64) == nil)
        #expect(try decode(#"{"model":"m","prompt":[1,2,3]}"#, .completion).affinityText == "1 2 3")
    }
}
