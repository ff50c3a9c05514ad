import Foundation
import LogpipeBatch
import LogpipeLake
import LogpipeTesting
import Testing

@Suite struct ReportCommandTests {
    /// The seed's way of reading the reports (PySpark's `basePath` + hive partitioning), done
    /// with pyarrow: one table over every day, the `date` column coming from the directories.
    static let pyarrowRead = #"""
import sys, glob, pyarrow.dataset as ds
base = sys.argv[1] + "/reports/daily"
t = ds.dataset(sorted(glob.glob(base + "/*/services/*.parquet")), format="parquet", partitioning="hive", partition_base_dir=base).to_table()
rows = sorted((str(d), r) for d, s, r in zip(t["date"].to_pylist(), t["service"].to_pylist(), t["requests"].to_pylist()) if s == "ALL")
for d, r in rows: print(d, r)
"""#

    /// `logpipe report daily --from --to` over three days: one progress line per day, a
    /// Markdown summary per day, and every log record of the lake counted exactly once across
    /// the days' `ALL` rows as pyarrow reads them back.
    @Test func backfillWritesEveryDayReadableWithHivePartitioning() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-cli")
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: 6_000, events: 600)
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary,
                                     arguments: ["report", "daily", "--lake", dir.path, "--from", "2026-11-21", "--to", "2026-11-23"])
        let status = await child.waitForExit()
        let stderr = String(decoding: child.standardError, as: UTF8.self)
        let stdout = String(decoding: child.standardOutput, as: UTF8.self)
        #expect(ChildProcess.exitCode(status) == 0, "\(stderr)")
        let progress = stderr.split(separator: "\n").filter { $0.contains("rows from") }
        #expect(progress.count == 3, "\(stderr)")
        #expect(progress.last?.contains("3/3 2026-11-23") == true, "\(stderr)")
        #expect(stdout.components(separatedBy: "# Daily report 2026-11-2").count == 4)

        let read = try await LakeTesting.runPython(Self.pyarrowRead, arguments: [dir.path])
        #expect(read.exitCode == 0, "\(read.error)")
        let perDay = read.output.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(perDay.map { String($0[0]) } == ["2026-11-21", "2026-11-22", "2026-11-23"])
        // The lake spans 26 hours: the last hour of the 21st, the 22nd, the first hour of the 23rd.
        #expect(perDay.compactMap { Int($0[1]) }.allSatisfy { $0 > 200 })
        #expect(perDay.compactMap { Int($0[1]) }.reduce(0, +) == 6_000)
        #expect(!stdout.contains("holds no logs"))

        // A day the lake has nothing for says so above its zeros.
        let empty = try ChildProcess(executable: TestEnvironment.logpipeBinary,
                                     arguments: ["report", "daily", "--lake", dir.path, "--date", "2026-11-25"])
        #expect(ChildProcess.exitCode(await empty.waitForExit()) == 0)
        let emptyReport = String(decoding: empty.standardOutput, as: UTF8.self)
        #expect(emptyReport.hasPrefix("# Daily report 2026-11-25\n\nThe lake holds no logs or activity events for this day.\n"), "\(emptyReport)")
        let html = try String(contentsOfFile: dir.appending("reports/daily/date=2026-11-25/report.html"), encoding: .utf8)
        #expect(html.contains("<p>The lake holds no logs or activity events for this day.</p>"))
    }
}
