import ArgumentParser
import Foundation
import SwellAPI

/// `-o`: how `get` prints objects.
enum OutputFormat: String, CaseIterable, ExpressibleByArgument, Sendable {
    case table
    case wide
    case yaml
    case json
    case name
}

/// Several objects in a form `apply -f` reads back: `kind: List` with the objects as items.
struct ObjectList<Item: Resource>: Encodable {
    var apiVersion = "v1"
    var kind = "List"
    var items: [Item]
}

/// Turns objects into the text `get` prints, for every `-o` format; pure, so tests call it directly.
struct ObjectPrinter<R: CLIResource> {
    var format: OutputFormat
    /// Adds a NAMESPACE column (`get -A`).
    var showNamespace: Bool
    var now: Timestamp

    init(format: OutputFormat, showNamespace: Bool = false, now: Timestamp = .now()) {
        self.format = format
        self.showNamespace = showNamespace && R.isNamespaced
        self.now = now
    }

    var isTabular: Bool { format == .table || format == .wide }

    func table(_ objects: [R]) -> TextTable {
        TextTable(header: header, rows: objects.map(row))
    }

    var header: [String] {
        (showNamespace ? ["NAMESPACE"] : []) + R.tableColumns(wide: format == .wide)
    }

    func row(_ object: R) -> [String] {
        (showNamespace ? [object.metadata.namespace ?? ""] : []) + object.tableCells(wide: format == .wide, now: now)
    }

    /// The whole output for a list (or for the objects named on the command line).
    ///
    /// `single` prints one object bare rather than as a one-item `List`, as kubectl does for
    /// `get KIND NAME -o yaml`.
    func render(_ objects: [R], single: Bool) throws -> String {
        switch format {
        case .table, .wide:
            return table(objects).render()
        case .name:
            return objects.map(\.reference).joined(separator: "\n")
        case .yaml:
            if single, let object = objects.first, objects.count == 1 {
                return try ResourceCodec.yaml(object).trimmingTrailingNewlines()
            }
            return try ResourceCodec.yaml(ObjectList(items: objects)).trimmingTrailingNewlines()
        case .json:
            let data: Data
            if single, let object = objects.first, objects.count == 1 {
                data = try ResourceCodec.jsonData(object, pretty: true)
            } else {
                data = try ResourceCodec.jsonData(ObjectList(items: objects), pretty: true)
            }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// One object as a watch prints it after the initial listing.
    func renderWatched(_ object: R, widths: [Int]) throws -> String {
        switch format {
        case .table, .wide:
            return TextTable.line(row(object), widths: widths)
        case .name:
            return object.reference
        case .yaml:
            return "---\n" + (try ResourceCodec.yaml(object)).trimmingTrailingNewlines()
        case .json:
            return String(decoding: try ResourceCodec.jsonData(object, pretty: true), as: UTF8.self)
        }
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = self
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
