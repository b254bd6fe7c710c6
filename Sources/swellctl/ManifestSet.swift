import SwellAPI

/// One object read from a manifest, typed, defaulted and valid, with where it came from.
struct ManifestObject: Sendable {
    var manifest: Manifest
    var object: any Resource

    /// `inferenceservice/chat`
    var reference: String { object.reference }
}

/// Every object in a set of manifest files, or every problem with them.
///
/// Parsing the whole set before sending anything is what makes `apply` all-or-nothing with
/// respect to bad input: one typo anywhere, and nothing reaches the server.
struct ManifestSet: Sendable {
    var objects: [ManifestObject] = []
    /// `FILE:LINE: field: message`, in file order.
    var problems: [String] = []

    /// - Parameters:
    ///   - namespace: for namespaced objects whose manifest names none.
    ///   - validate: defaults and validates each object as the server would (apply); off for
    ///     `delete -f`, which only needs kinds and names.
    init(sources: [ManifestSource], namespace: String, validate: Bool = true) {
        for source in sources {
            let manifests: [Manifest]
            do {
                manifests = try ManifestParser.parse(source.text, source: source.name)
            } catch {
                problems.append(error.description)
                continue
            }
            for manifest in manifests {
                load(manifest, namespace: namespace, validate: validate)
            }
        }
    }

    private mutating func load(_ manifest: Manifest, namespace: String, validate: Bool) {
        var object: any Resource
        do {
            object = try ResourceCodec.decodeAny(manifest.document)
        } catch {
            problems.append(manifest.describe(error.errors))
            return
        }
        if type(of: object).isNamespaced, object.metadata.namespace == nil {
            object.metadata.namespace = namespace
        }
        if validate {
            object.applyDefaults()
            let errors = object.validateAll()
            if !errors.isEmpty {
                problems.append(manifest.describe(errors))
                return
            }
        } else if object.metadata.name.isEmpty {
            problems.append(manifest.describe([.required("metadata.name")]))
            return
        }
        objects.append(ManifestObject(manifest: manifest, object: object))
    }
}
