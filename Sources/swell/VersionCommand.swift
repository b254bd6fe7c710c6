import ArgumentParser
import SwellAPI

/// `swell version`
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the version of this binary."
    )

    func run() {
        print("swell \(swellVersion) (API \(swellAPIVersion))")
    }
}
