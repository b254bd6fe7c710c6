import ArgumentParser
import Foundation
import SwellAPI

/// `swellctl` — the command-line client of the Swell API, in the manner of kubectl.
@main
struct SwellCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swellctl",
        abstract: "Control a Swell cluster: apply manifests, inspect and scale inference services.",
        version: swellVersion,
        subcommands: [
            ApplyCommand.self,
            GetCommand.self,
            DescribeCommand.self,
            DeleteCommand.self,
            ScaleCommand.self,
            LogsCommand.self,
            LoadgenCommand.self,
            VersionCommand.self,
        ]
    )

    /// Runs a command and maps every failure to exit status 1 with a kubectl-like message;
    /// `--help` and `--version` still exit 0.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch is AlreadyReported {
            Foundation.exit(1)
        } catch let code as ExitCode where code != .success && code != .validationFailure {
            Foundation.exit(code.rawValue)  // a command chose its status (loadgen: 130 when interrupted)
        } catch let error as CLIError {
            printError(ErrorReport.text(for: error))
            Foundation.exit(1)
        } catch let error as Status {
            printError(ErrorReport.text(for: error))
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)  // --help, --version
            } else if isArgumentParserError(error) {
                // ArgumentParser says "Error:"; every other swellctl error says "error:".
                var message = fullMessage(for: error)
                if message.hasPrefix("Error: ") { message.replaceSubrange(message.startIndex..<message.index(message.startIndex, offsetBy: 5), with: "error") }
                printError(message)
            } else {
                printError(ErrorReport.text(for: error))
            }
            Foundation.exit(1)
        }
    }

    /// Usage problems come from ArgumentParser's own module; they print with the usage text.
    private static func isArgumentParserError(_ error: any Error) -> Bool {
        error is ExitCode || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }
}

/// Writes one message line to standard error.
func printError(_ message: String) {
    write(Data((message + "\n").utf8), to: .standardError)
}

/// Writes one line to standard output, unbuffered, so watches show up at once even in a pipe.
func printOutput(_ text: String) {
    write(Data((text + "\n").utf8), to: .standardOutput)
}

/// Writes to a standard stream. When its reader has gone (`swellctl get -w | head`), the command
/// ends quietly with the status a process killed by SIGPIPE has, as Unix tools do.
func write(_ data: Data, to handle: FileHandle) {
    do {
        try handle.write(contentsOf: data)
    } catch {
        Foundation.exit(128 + SIGPIPE)
    }
}
