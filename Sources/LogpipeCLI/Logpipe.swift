import ArgumentParser

/// The `logpipe` command: every role of the pipeline, one process or many.
@main
struct Logpipe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logpipe",
        abstract: "A distributed log pipeline: collect, queue, analyse and store logs and activity events.",
        discussion: """
            `logpipe run` starts every role on one machine with embedded defaults. Each role can also
            run on its own (`collect`, `generate`) against a shared bus.

            Settings come from flags, then LOGPIPE_* environment variables (e.g. LOGPIPE_COLLECTOR_PORT),
            then a JSON file given with --config, then defaults.
            """,
        subcommands: [
            RunCommand.self, CollectCommand.self, GenerateCommand.self, StreamCommandLine.self, TopicsCommand.self,
            LakeCommand.self, ReportCommand.self, SearchCommand.self, SchedulerCommand.self, JobsCommand.self, ParquetCommand.self, BenchCommand.self, BusCrashChildCommand.self,
        ]
    )
}
