/// A failure `swellctl` explains itself; printed as `error: message`.
struct CLIError: Error, Sendable, CustomStringConvertible, Equatable {
    var message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}

/// The command already printed why it failed (for example one line per bad object);
/// only the exit status is left to set.
struct AlreadyReported: Error, Sendable {}
