import Foundation
import SwellLoad

/// Shows `LoadRun` progress on standard error: one line redrawn in place on a terminal, a plain
/// line every five seconds otherwise.
final class ProgressPrinter: Sendable {
    private let enabled: Bool
    private let plannedSeconds: Double
    private let terminal = isatty(STDERR_FILENO) == 1
    static let plainEvery = 5

    init(enabled: Bool, plannedSeconds: Double) {
        self.enabled = enabled
        self.plannedSeconds = plannedSeconds
    }

    func show(_ snapshot: ProgressSnapshot) {
        guard enabled else { return }
        let line = ProgressLine.render(snapshot, plannedSeconds: plannedSeconds)
        if terminal {
            write(Data("\r\u{1B}[2K\(line)".utf8), to: .standardError)
        } else if Int(snapshot.elapsed.rounded()) % Self.plainEvery == 0 {
            write(Data("\(line)\n".utf8), to: .standardError)
        }
    }

    /// Ends the redrawn line so the report starts on a clean one.
    func finish() {
        if enabled, terminal { write(Data("\r\u{1B}[2K".utf8), to: .standardError) }
    }
}
