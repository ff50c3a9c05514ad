import Foundation
import LogpipeTesting
import Testing

@Suite struct BatchCommandErrorTests {
    /// A value found wrong once the command runs (a date, a duration, a missing lake or bus) is
    /// reported in one line naming it, with the usage error's exit code 64, and without the
    /// root command's usage, which would describe no command the user typed.
    @Test(arguments: [
        (["report", "daily", "--date", "2026-13-01"], "--date 2026-13-01: expected YYYY-MM-DD"),
        (["search", "--since", "1x"], "expected a duration like 90s, 15m, 1h, 2d"),
        (["search", "--since", "1h", "--lake", "/nonexistent/lake"], "no lake at /nonexistent/lake"),
        (["topics", "--bus", "local:/nonexistent/bus"], "no bus at /nonexistent/bus"),
        (["stream", "--once", "--bus", "local:/nonexistent/bus"], "no bus at /nonexistent/bus"),
    ])
    func wrongValuesAreOneLineErrors(arguments: [String], message: String) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestEnvironment.logpipeBinary),
                     "no logpipe binary at \(TestEnvironment.logpipeBinary) (set LOGPIPE_BIN)")
        let dir = try TemporaryDirectory(prefix: "cli-errors")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.appending("data/lake"), withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["LOGPIPE_LAKE_DIR"] = dir.appending("data/lake")
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments, environment: environment)
        let status = await child.waitForExit()
        let stderr = String(decoding: child.standardError, as: UTF8.self)
        #expect(ChildProcess.exitCode(status) == 64, "\(stderr)")
        #expect(stderr.contains(message), "\(stderr)")
        #expect(!stderr.contains("Usage: logpipe <subcommand>"), "\(stderr)")
    }

    /// A damaged file in the lake is named in the error of every command that reads it, so
    /// a user with thousands of files knows which one to move aside.
    @Test func aDamagedLakeFileIsNamed() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestEnvironment.logpipeBinary),
                     "no logpipe binary at \(TestEnvironment.logpipeBinary) (set LOGPIPE_BIN)")
        let dir = try TemporaryDirectory(prefix: "cli-damaged")
        defer { dir.remove() }
        let file = "logs/raw/year=2026/month=1/day=12/hour=4/part-damaged.snappy.parquet"
        try FileManager.default.createDirectory(atPath: dir.appending("lake/" + (file as NSString).deletingLastPathComponent),
                                                withIntermediateDirectories: true)
        try Data("PAR1 cut short".utf8).write(to: URL(fileURLWithPath: dir.appending("lake/" + file)))
        for arguments in [["lake", "ls"], ["report", "daily", "--date", "2026-01-12"]] {
            let child = try ChildProcess(executable: TestEnvironment.logpipeBinary,
                                         arguments: arguments + ["--lake", dir.appending("lake")])
            let status = await child.waitForExit()
            let stderr = String(decoding: child.standardError, as: UTF8.self)
            #expect(ChildProcess.exitCode(status) != 0, "\(arguments): \(stderr)")
            #expect(stderr.contains("\(file): not a Parquet file"), "\(arguments): \(stderr)")
        }
    }
}
