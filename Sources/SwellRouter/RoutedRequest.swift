import Foundation
import SwellAPI
import SwellHTTP

/// What the router reads of an OpenAI request body: which service it is for, its priority, and
/// the text its affinity key is made of. Everything else passes through to the replica untouched.
struct RoutedRequest: Sendable, Equatable {
    /// `"model"`: a service name (in the default namespace) or `namespace/name`.
    var model: String
    /// From the body's `priority`, else nil (the header may still give one).
    var priority: RequestPriority?
    var stream: Bool
    /// The leading text that identifies the reusable prefix; see `AffinityKey`.
    var affinityText: String

    enum Endpoint: Sendable {
        case chat
        case completion
    }

    private struct Message: Decodable {
        var role: String?
        var content: Content?
    }

    /// Chat content: a string or a list of parts, of which only the text counts here.
    private struct Content: Decodable {
        var text: String

        private struct Part: Decodable {
            var text: String?
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self.text = text
            } else if let parts = try? container.decode([Part].self) {
                text = parts.compactMap(\.text).joined()
            } else {
                text = ""
            }
        }
    }

    /// `prompt`: text, a list with one text, or token ids (hashed as their decimal spelling).
    private struct Prompt: Decodable {
        var text: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self.text = text
            } else if let texts = try? container.decode([String].self) {
                text = texts.first ?? ""
            } else if let tokens = try? container.decode([Int].self) {
                text = tokens.map(String.init).joined(separator: " ")
            } else if let batches = try? container.decode([[Int]].self) {
                text = (batches.first ?? []).map(String.init).joined(separator: " ")
            } else {
                text = ""
            }
        }
    }

    private struct Body: Decodable {
        var model: String?
        var priority: RequestPriority?
        var stream: Bool?
        var messages: [Message]?
        var prompt: Prompt?
    }

    /// Decodes the fields the router needs; the replica validates the rest.
    static func decode(_ data: Data, endpoint: Endpoint) throws(OpenAIError) -> RoutedRequest {
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: data)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.first?.stringValue == "priority" {
            throw .invalid("priority \(RequestPriority.expectation)", param: "priority")
        } catch let DecodingError.typeMismatch(_, context) where !context.codingPath.isEmpty {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .invalid("\(field) has the wrong type: \(context.debugDescription)", param: field)
        } catch {
            throw .invalid("the body is not a JSON object: \(Self.describe(error))", param: nil)
        }
        guard let model = body.model, !model.isEmpty else {
            throw .invalid("you must provide a model parameter (the name of an InferenceService)", param: "model")
        }
        let text: String = switch endpoint {
        case .chat: AffinityKey.chatText(body.messages?.map { ($0.role ?? "", $0.content?.text ?? "") } ?? [])
        case .completion: body.prompt?.text ?? ""
        }
        return RoutedRequest(model: model, priority: body.priority, stream: body.stream ?? false, affinityText: text)
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? context.debugDescription
        }
        return "\(error)"
    }
}
