import SwellAPI

/// What `apply` does with one object.
enum ApplyAction<R: Resource>: Equatable {
    case create(R)
    case unchanged
    /// PUT this: the desired state on top of the live object's identity, version and status.
    case update(R)
}

/// Decides create / unchanged / configure by comparing what the user wrote (after defaulting)
/// with the live object, ignoring what the server owns: uid, resourceVersion, generation,
/// timestamps and status.
enum ApplyPlanner {
    static func plan<R: Resource>(desired: R, live: R?) -> ApplyAction<R> {
        guard let live else { return .create(desired) }
        if !differs(desired: desired, live: live) { return .unchanged }
        var updated = desired
        var metadata = live.metadata
        metadata.labels = desired.metadata.labels
        metadata.annotations = desired.metadata.annotations
        // Owner references and finalizers are kept unless the manifest sets them itself.
        if let owners = desired.metadata.ownerReferences { metadata.ownerReferences = owners }
        if let finalizers = desired.metadata.finalizers { metadata.finalizers = finalizers }
        updated.metadata = metadata
        updated.copyStatus(from: live)
        return .update(updated)
    }

    static func differs<R: Resource>(desired: R, live: R) -> Bool {
        if desired.specDiffers(from: live) { return true }
        if (desired.metadata.labels ?? [:]) != (live.metadata.labels ?? [:]) { return true }
        if (desired.metadata.annotations ?? [:]) != (live.metadata.annotations ?? [:]) { return true }
        if let owners = desired.metadata.ownerReferences, owners != (live.metadata.ownerReferences ?? []) { return true }
        if let finalizers = desired.metadata.finalizers, finalizers != (live.metadata.finalizers ?? []) { return true }
        return false
    }
}
