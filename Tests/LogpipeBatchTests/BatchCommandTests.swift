import Foundation
import LogpipeBatch
import LogpipeLake
import LogpipeTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `logpipe search` and `logpipe jobs` commands as processes.
@Suite struct BatchCommandTests {
    func logpipe(_ arguments: [String]) async throws -> (status: Int32?, output: String, error: String) {
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments)
        let status = await child.waitForExit()
        return (ChildProcess.exitCode(status), String(decoding: child.standardOutput, as: UTF8.self),
                String(decoding: child.standardError, as: UTF8.self))
    }

    @Test func searchCommandPrintsWhatTheLibraryFinds() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-cli")
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: 20_000, events: 10)
        let from = Int64(TestLake.day) * 1_000_000
        var query = SearchQuery(fromMicros: from, toMicros: from + 6 * 3_600_000_000, limit: 20)
        query.statusMin = 500
        query.statusMax = 599
        var stats = ScanStatistics()
        let expected = try await LogSearch(store: LocalFileStore(root: dir.path)).run(query, statistics: &stats)
        #expect(expected.count == 20)
        let r = try await logpipe(["search", "--lake", dir.path, "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-22T06:00:00Z",
                                   "--status", "5xx", "--limit", "20", "--format", "json"])
        #expect(r.status == 0, "\(r.error)")
        let lines = r.output.split(separator: "\n")
        let decoded = try lines.map { try JSONDecoder().decode(SearchHit.self, from: Data($0.utf8)) }
        #expect(decoded == expected)
        let csv = try await logpipe(["search", "--lake", dir.path, "--from", "\(TestLake.day)", "--to", "\(TestLake.day + 21_600)",
                                     "--status", "500-599", "--limit", "20", "--format", "csv"])
        #expect(csv.output.split(separator: "\r\n").count == 21)
        #expect(csv.output.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",")[10] } == expected.map { Substring($0.requestId!) })
    }

    @Test func aJobHeldByAnotherProcessIsNotRunTwice() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-cli")
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: 2_000, events: 100)
        let lockPath = dir.appending("_logpipe/jobs/report-daily.lock")
        try FileManager.default.createDirectory(atPath: dir.appending("_logpipe/jobs"), withIntermediateDirectories: true)
        // This process holds the job's lock, as a scheduler in the middle of a run would.
        let fd = open(lockPath, O_RDWR | O_CREAT, 0o644)
        #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        let busy = try await logpipe(["jobs", "run", "report-daily", "--date", "2026-11-22", "--lake", dir.path])
        #expect(busy.status != 0)
        #expect(busy.error.contains("running in another process"), "\(busy.error)")
        #expect(!FileManager.default.fileExists(atPath: dir.appending("reports/daily/date=2026-11-22")))
        close(fd)
        let ran = try await logpipe(["jobs", "run", "report-daily", "--date", "2026-11-22", "--lake", dir.path])
        #expect(ran.status == 0, "\(ran.error)")
        #expect(ran.output.contains("report-daily 2026-11-22 attempt 1: succeeded"))
        let history = try await logpipe(["jobs", "history", "report-daily", "--lake", dir.path])
        #expect(history.output.split(separator: "\n").count == 2)
        #expect(history.output.contains("succeeded"))
    }
}
