import ArgumentParser
import Foundation
import LogpipeServers

/// The `logpipe` command: every role of the pipeline, one process or many.
@main
struct Logpipe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logpipe",
        abstract: "A distributed log pipeline: collect, queue, analyse and store logs and activity events.",
        discussion: """
            `logpipe run` starts every role on one machine with embedded defaults. Each role can \
            also run on its own (`collect`, `generate`, `stream`, `scheduler`) against a shared \
            bus and lake.

            Settings come from flags, then LOGPIPE_* environment variables (e.g. \
            LOGPIPE_COLLECTOR_PORT), then a JSON file given with --config, then defaults.
            """,
        version: LogpipeBuild.version,
        subcommands: [
            RunCommand.self, CollectCommand.self, GenerateCommand.self, StreamCommandLine.self, TopicsCommand.self,
            LakeCommand.self, ReportCommand.self, SearchCommand.self, SchedulerCommand.self, JobsCommand.self, ParquetCommand.self, BenchCommand.self, BusCrashChildCommand.self,
        ]
    )

    /// ArgumentParser's `main`, except for a `ValidationError` a command's `run` throws (a
    /// date, a duration or a lake found wrong once read): ArgumentParser would print the
    /// root command's usage under it, which describes no command the user typed.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError {
            FileHandle.standardError.write(Data("Error: \(error.message)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        } catch {
            exit(withError: error)
        }
    }
}
