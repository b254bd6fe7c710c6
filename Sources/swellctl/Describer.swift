import SwellAPI

/// The text of `swellctl describe`: metadata, the kind's summary, its fields as readable
/// sections, conditions as a table, and the object's events, newest last.
enum Describer {
    static func describe<R: CLIResource>(_ object: R, events: [Event], now: Timestamp = .now()) throws -> String {
        var writer = DescribeWriter()
        let metadata = object.metadata
        writer.field("Name", metadata.name)
        if R.isNamespaced {
            writer.field("Namespace", metadata.namespace ?? "default")
        }
        writer.field("Labels", pairs(metadata.labels))
        writer.field("Annotations", pairs(metadata.annotations))
        writer.field("CreationTimestamp", metadata.creationTimestamp?.description ?? "<unknown>")
        if let deletion = metadata.deletionTimestamp {
            writer.field("DeletionTimestamp", deletion.description)
        }
        if let owner = metadata.controllerReference {
            writer.field("Controlled By", "\(owner.kind)/\(owner.name)")
        }
        if let finalizers = metadata.finalizers, !finalizers.isEmpty {
            writer.field("Finalizers", finalizers.joined(separator: ", "))
        }
        if let generation = metadata.generation {
            writer.field("Generation", "\(generation)")
        }
        for line in object.describeSummary() {
            writer.field(line.label, line.value)
        }

        // Everything else the object carries, spec first and status last, read generically so
        // new fields show up without touching this file.
        let document = try JSONValue(encoding: object)
        let fields = document.objectValue ?? [:]
        let skipped: Set = ["apiVersion", "kind", "metadata", "spec", "status"]
        var keys = fields.keys.filter { !skipped.contains($0) }.sorted()
        if fields["spec"] != nil { keys.insert("spec", at: 0) }
        for key in keys {
            guard let value = fields[key], value != .null else { continue }
            if case .object = value {
                writer.section(DescribeWriter.titleCase(key))
                writer.document(value, lead: "  ")
            } else if case .array = value {
                writer.section(DescribeWriter.titleCase(key))
                writer.document(.object(["items": value]), lead: "  ")
            } else {
                writer.field(DescribeWriter.titleCase(key), DescribeWriter.scalar(value))
            }
        }
        if case .object(var status)? = fields["status"] {
            let conditions = status.removeValue(forKey: "conditions")
            for field in R.summarizedStatusFields { status.removeValue(forKey: field) }
            writer.section("Status")
            writer.document(.object(status), lead: "  ")
            if case .array(let items)? = conditions, !items.isEmpty {
                writer.section("Conditions", lead: "  ")
                writer.table(conditionTable(items, now: now), lead: "    ")
            }
        }

        let related = events.filter { isAbout($0, object) }.sorted(by: Event.listOrder)
        if related.isEmpty {
            writer.field("Events", "<none>")
        } else {
            writer.section("Events")
            writer.table(eventTable(related, now: now), lead: "  ")
        }
        return writer.render()
    }

    /// Whether an event is about this object (same kind, name and, for namespaced kinds, namespace).
    static func isAbout<R: Resource>(_ event: Event, _ object: R) -> Bool {
        event.involvedObject.kind == R.kind && event.involvedObject.name == object.metadata.name
            && (!R.isNamespaced || (event.involvedObject.namespace ?? event.metadata.namespace) == object.metadata.namespace)
            && (event.involvedObject.uid == nil || object.metadata.uid == nil || event.involvedObject.uid == object.metadata.uid)
    }

    static func pairs(_ map: [String: String]?) -> String {
        guard let map, !map.isEmpty else { return "<none>" }
        return map.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
    }

    static func conditionTable(_ items: [JSONValue], now: Timestamp) -> TextTable {
        var table = TextTable(header: ["Type", "Status", "Reason", "Age", "Message"])
        table.rows.append(table.header.map { String(repeating: "-", count: $0.count) })
        for item in items {
            let age = item["lastTransitionTime"]?.stringValue.flatMap(Timestamp.init(rfc3339:))?.age(now: now)
            table.rows.append([
                item["type"]?.stringValue ?? "",
                item["status"]?.stringValue ?? "",
                item["reason"]?.stringValue ?? "",
                age ?? "<unknown>",
                item["message"]?.stringValue ?? "",
            ])
        }
        return table
    }

    static func eventTable(_ events: [Event], now: Timestamp) -> TextTable {
        var table = TextTable(header: ["Type", "Reason", "Age", "From", "Message"])
        table.rows.append(table.header.map { String(repeating: "-", count: $0.count) })
        for event in events {
            var age = event.lastSeen?.age(now: now) ?? "<unknown>"
            if let count = event.count, count > 1, let first = event.firstTimestamp {
                age += " (x\(count) over \(first.age(now: now)))"
            }
            table.rows.append([(event.type ?? .normal).rawValue, event.reason, age, event.source ?? "", event.message])
        }
        return table
    }
}
