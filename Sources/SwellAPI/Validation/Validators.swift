/// Validation rules shared by every kind, worded as Kubernetes words them.
public enum Validators {
    public enum NameRule: Sendable {
        /// DNS-1123 label: at most 63 of `[a-z0-9-]`, alphanumeric at both ends.
        case label
        /// DNS-1123 subdomain: at most 253, labels joined by dots.
        case subdomain
    }

    public static func objectMeta(_ meta: ObjectMeta, namespaced: Bool, nameRule: NameRule, path: FieldPath) -> [FieldError] {
        var errors = [FieldError]()
        if meta.name.isEmpty {
            if meta.generateName == nil {
                errors.append(.required(path.child("name").description))
            }
        } else if let problem = nameProblem(meta.name, rule: nameRule) {
            errors.append(.invalid(path.child("name").description, "Invalid value: \"\(meta.name)\": \(problem)"))
        }
        if namespaced {
            if let namespace = meta.namespace, let problem = dns1123LabelProblem(namespace) {
                errors.append(.invalid(path.child("namespace").description, "Invalid value: \"\(namespace)\": \(problem)"))
            }
        } else if let namespace = meta.namespace, !namespace.isEmpty {
            errors.append(.forbidden(path.child("namespace").description, "not allowed on this type"))
        }
        for (key, value) in (meta.labels ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let problem = qualifiedNameProblem(key) {
                errors.append(.invalid(path.child("labels").description, "Invalid value: \"\(key)\": \(problem)"))
            }
            if let problem = labelValueProblem(value) {
                errors.append(.invalid(path.child("labels").key(key).description, "Invalid value: \"\(value)\": \(problem)"))
            }
        }
        var annotationBytes = 0
        for key in (meta.annotations ?? [:]).keys.sorted() {
            if let problem = qualifiedNameProblem(key) {
                errors.append(.invalid(path.child("annotations").description, "Invalid value: \"\(key)\": \(problem)"))
            }
            annotationBytes += key.utf8.count + (meta.annotations?[key]?.utf8.count ?? 0)
        }
        if annotationBytes > 256 * 1024 {
            errors.append(.invalid(path.child("annotations").description, "Too long: must have at most 262144 bytes"))
        }
        for (index, finalizer) in (meta.finalizers ?? []).enumerated() {
            if let problem = qualifiedNameProblem(finalizer) {
                errors.append(.invalid(path.child("finalizers").index(index).description, "Invalid value: \"\(finalizer)\": \(problem)"))
            }
        }
        for (index, owner) in (meta.ownerReferences ?? []).enumerated() {
            let ownerPath = path.child("ownerReferences").index(index)
            if owner.kind.isEmpty { errors.append(.required(ownerPath.child("kind").description)) }
            if owner.name.isEmpty { errors.append(.required(ownerPath.child("name").description)) }
            if owner.uid.isEmpty { errors.append(.required(ownerPath.child("uid").description)) }
        }
        let controllers = (meta.ownerReferences ?? []).filter { $0.controller == true }.count
        if controllers > 1 {
            errors.append(.invalid(path.child("ownerReferences").description, "Only one reference can have Controller set to true"))
        }
        return errors
    }

    public static func nameProblem(_ name: String, rule: NameRule) -> String? {
        switch rule {
        case .label: dns1123LabelProblem(name)
        case .subdomain: dns1123SubdomainProblem(name)
        }
    }

    public static func dns1123LabelProblem(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        if bytes.count > 63 { return "must be no more than 63 characters" }
        let valid = !bytes.isEmpty && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
            && isLowerAlphanumeric(bytes.first!) && isLowerAlphanumeric(bytes.last!)
        if !valid {
            return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')"
        }
        return nil
    }

    public static func dns1123SubdomainProblem(_ value: String) -> String? {
        if value.utf8.count > 253 { return "must be no more than 253 characters" }
        let labels = value.split(separator: ".", omittingEmptySubsequences: false)
        let valid = labels.allSatisfy { label in
            let bytes = Array(label.utf8)
            return !bytes.isEmpty && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
                && isLowerAlphanumeric(bytes.first!) && isLowerAlphanumeric(bytes.last!)
        }
        if !valid {
            return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
        }
        return nil
    }

    /// Label and annotation keys: an optional DNS subdomain prefix and `/`, then a name of at most 63.
    public static func qualifiedNameProblem(_ value: String) -> String? {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
        if parts.count == 2 {
            if parts[0].isEmpty { return "prefix part must be non-empty" }
            if let problem = dns1123SubdomainProblem(String(parts[0])) { return "prefix part \(problem)" }
        }
        let name = Array(parts.last!.utf8)
        if name.isEmpty { return "name part must be non-empty" }
        if name.count > 63 { return "name part must be no more than 63 characters" }
        if !isNameToken(name) {
            return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')"
        }
        return nil
    }

    public static func labelValueProblem(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        if bytes.isEmpty { return nil }
        if bytes.count > 63 { return "must be no more than 63 characters" }
        if !isNameToken(bytes) {
            return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345')"
        }
        return nil
    }

    private static func isNameToken(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
            && isAlphanumeric(bytes.first!) && isAlphanumeric(bytes.last!)
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
