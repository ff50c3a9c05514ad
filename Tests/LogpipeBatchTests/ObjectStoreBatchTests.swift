import Foundation
import LogpipeBatch
import LogpipeLake
import LogpipeObjectStore
import LogpipeParquet
import LogpipeTesting
import Synchronization
import Testing

/// The batch layer on a lake in S3 (moto's server): the same results as on a local lake of
/// the same files, read with ranged requests, with compaction's swap invisible to readers
/// and the scheduler's job locks as leases in the bucket.
@Suite(.serialized) struct ObjectStoreBatchTests {
    /// Copies every file of the local lake into `remote`; returns their total size.
    @discardableResult
    static func upload(_ local: LocalFileStore, to remote: any FileStore) async throws -> Int64 {
        var bytes: Int64 = 0
        for file in try await local.list("", recursive: true) {
            try await remote.write(file.path, contents: try await local.read(file.path))
            bytes += file.size
        }
        return bytes
    }

    /// Runs `body` with a `TestLake` (of `logs`, `events`, `filesPerHour`, `rowGroupBytes`)
    /// built in a temporary directory named after `directory` and copied into a fresh moto
    /// bucket under `prefix`: the directory, the lake on disk, the server and the S3 store.
    static func withLakeOnS3(directory: String, prefix: String, logs: Int, events: Int, filesPerHour: Int, rowGroupBytes: Int = 1 << 20,
                             _ body: (TemporaryDirectory, LocalFileStore, MotoS3Server, S3FileStore) async throws -> Void) async throws {
        let dir = try TemporaryDirectory(prefix: directory)
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: logs, events: events, filesPerHour: filesPerHour, rowGroupBytes: rowGroupBytes)
        let local = try LocalFileStore(root: dir.path)
        try await MotoS3Server.withLakeBucket { server in
            let s3 = try server.store(prefix: prefix)
            try await upload(local, to: s3)
            try await body(dir, local, server, s3)
        }
    }

    @Test func reportSearchAndListingOnS3EqualTheLocalLake() async throws {
        try await Self.withLakeOnS3(directory: "batch-s3", prefix: "lake", logs: 60_000, events: 3_000, filesPerHour: 1, rowGroupBytes: 64 << 10) { _, local, _, s3 in
            let day = ReportDate("2026-11-22")!

            let onS3 = try await DailyReport.compute(store: s3, date: day)
            let onDisk = try await DailyReport.compute(store: local, date: day)
            #expect(onS3.tables.map(\.name) == onDisk.tables.map(\.name))
            for (a, b) in zip(onS3.tables, onDisk.tables) { #expect(try a.parquetBytes() == b.parquetBytes(), "table \(a.name)") }
            #expect(onS3.scan.rowsRead == onDisk.scan.rowsRead && onS3.scan.filesOpened == onDisk.scan.filesOpened)
            // Only footers and projected column chunks travel, never whole files.
            let dayBytes = try await (day.hours).asyncReduce(Int64(0)) { sum, hour in
                sum + (try await local.list(LakeLayout.partitionDirectory(.logs, hour), recursive: false).reduce(0) { $0 + $1.size })
                    + (try await local.list(LakeLayout.partitionDirectory(.activity, hour), recursive: false).reduce(0) { $0 + $1.size })
            }
            #expect(onS3.scan.bytesFetched > 0 && Int64(onS3.scan.bytesFetched) < dayBytes, "\(onS3.scan.bytesFetched) of \(dayBytes)")

            // Written back into the bucket as the same bytes, and read back by the service analysis.
            try await onS3.write(store: s3)
            try await onDisk.write(store: local)
            for table in onDisk.tables {
                let path = "\(DailyReport.directory(day))/\(table.name)/\(ReportWriter.fileName)"
                #expect(try await s3.read(path) == local.read(path), "\(path)")
            }
            let analysis = try await ServiceAnalysis.compute(store: s3, date: day)
            let localAnalysis = try await ServiceAnalysis.compute(store: local, date: day)
            for (a, b) in zip(analysis.tables, localAnalysis.tables) { #expect(try a.parquetBytes() == b.parquetBytes(), "table \(a.name)") }

            let from = Int64(TestLake.day) * 1_000_000
            var query = SearchQuery(fromMicros: from, toMicros: from + 6 * 3_600_000_000, limit: 50)
            query.statusMin = 500
            query.statusMax = 599
            var s3Stats = ScanStatistics(), localStats = ScanStatistics()
            let hits = try await LogSearch(store: s3).run(query, statistics: &s3Stats)
            let expected = try await LogSearch(store: local).run(query, statistics: &localStats)
            #expect(hits.count == 50)
            #expect(hits == expected)
            #expect(s3Stats.hoursListed == localStats.hoursListed && s3Stats.rowGroupsRead == localStats.rowGroupsRead)

            // `lake ls`: the same counts, from footers fetched by ranged reads.
            let counting = CountingStore(s3)
            #expect(try await LakeListing.partitions(store: counting) == LakeListing.partitions(store: local))
            var files: [FileStatus] = []
            for dataset in LakeDataset.allCases { files += try await local.list(dataset.path, recursive: true).filter { LakeLayout.isDataFile($0.name) } }
            // Per file: the first 64 KiB tail request, and the rest of the footer when it is longer.
            let footers = try files.reduce(Int64(0)) { sum, file in
                let footer = Int64(try ParquetFileReader(path: try local.absolutePath(file.path)).info.footerLength + 8)
                return sum + min(file.size, max(footer, Int64(ParquetFileReader.suggestedTailLength)))
            }
            #expect(counting.bytesRead == footers && footers < files.reduce(0) { $0 + $1.size }, "\(counting.bytesRead) of \(footers)")
        }
    }

    /// The same on HDFS through WebHDFS (the test server of the documented REST protocol):
    /// report tables, search hits and `lake ls` equal the local lake's.
    @Test func reportSearchAndListingOnWebHDFSEqualTheLocalLake() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-hdfs")
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: 10_000, events: 1_000, filesPerHour: 1, rowGroupBytes: 64 << 10)
        let local = try LocalFileStore(root: dir.path)
        try await WebHDFSServer.start().serve { server in
            let hdfs = WebHDFSFileStore(configuration: WebHDFSConfiguration(namenode: server.namenode, root: "/lake", user: "logpipe"))
            try await Self.upload(local, to: hdfs)
            let day = ReportDate("2026-11-22")!
            let remote = try await DailyReport.compute(store: hdfs, date: day)
            let onDisk = try await DailyReport.compute(store: local, date: day)
            #expect(remote.tables.count == onDisk.tables.count && remote.scan.rowsRead == onDisk.scan.rowsRead)
            for (a, b) in zip(remote.tables, onDisk.tables) { #expect(try a.parquetBytes() == b.parquetBytes(), "table \(a.name)") }
            try await remote.write(store: hdfs)
            #expect(try await hdfs.read("\(DailyReport.directory(day))/services/\(ReportWriter.fileName)") == onDisk.table("services")!.parquetBytes())
            let from = Int64(TestLake.day) * 1_000_000
            var query = SearchQuery(fromMicros: from, toMicros: from + 6 * 3_600_000_000, limit: 15)
            query.level = "ERROR"
            var a = ScanStatistics(), b = ScanStatistics()
            let hits = try await LogSearch(store: hdfs).run(query, statistics: &a)
            #expect(hits.count == 15)
            #expect(try await hits == LogSearch(store: local).run(query, statistics: &b))
            #expect(try await LakeListing.partitions(store: hdfs) == LakeListing.partitions(store: local))
        }
    }

    /// The commands take `--lake s3://…`: the report lands in the bucket, search prints what
    /// it prints on the local lake, and a manual job run is recorded in the bucket's history.
    /// Compaction is off there unless asked for: neither the scheduler nor a stream worker
    /// touches an hour of four small files, until `--compaction on`.
    @Test func commandsRunOnAnS3Lake() async throws {
        try await Self.withLakeOnS3(directory: "batch-s3-cli", prefix: "cli", logs: 5_000, events: 500, filesPerHour: 4) { dir, local, server, s3 in
            var environment = ProcessInfo.processInfo.environment
            environment["AWS_ACCESS_KEY_ID"] = server.accessKeyId
            environment["AWS_SECRET_ACCESS_KEY"] = server.secretAccessKey
            func logpipe(_ arguments: [String]) async throws -> (status: Int32?, output: String, error: String) {
                let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments, environment: environment)
                let status = await child.waitForExit()
                return (ChildProcess.exitCode(status), String(decoding: child.standardOutput, as: UTF8.self),
                        String(decoding: child.standardError, as: UTF8.self))
            }
            let lake = ["--lake", "s3://lake/cli", "--s3-endpoint", server.endpoint]
            let report = try await logpipe(["report", "daily", "--date", "2026-11-22"] + lake)
            #expect(report.status == 0, "\(report.error)")
            let day = ReportDate("2026-11-22")!
            let expected = try await DailyReport.compute(store: local, date: day)
            for table in expected.tables {
                let bytes = try await s3.read("\(DailyReport.directory(day))/\(table.name)/\(ReportWriter.fileName)")
                #expect(bytes == (try table.parquetBytes()), "\(table.name)")
            }
            #expect(try await s3.stat("\(DailyReport.directory(day))/report.html") != nil)

            let search = ["search", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-22T06:00:00Z", "--level", "ERROR", "--format", "csv"]
            let onS3 = try await logpipe(search + lake)
            let onDisk = try await logpipe(search + ["--lake", dir.path])
            #expect(onS3.status == 0 && onDisk.status == 0, "\(onS3.error)")
            #expect(onS3.output == onDisk.output && onS3.output.split(separator: "\r\n").count > 1)

            let run = try await logpipe(["jobs", "run", "service-analysis", "--date", "2026-11-22"] + lake)
            #expect(run.status == 0, "\(run.error)")
            #expect(run.output.contains("service-analysis 2026-11-22 attempt 1: succeeded"))
            let history = try await logpipe(["jobs", "history", "service-analysis"] + lake)
            #expect(history.output.split(separator: "\n").count == 2 && history.output.contains("succeeded"), "\(history.output)")

            let hour = LakeLayout.partitionDirectory(.logs, HourPartition(year: 2026, month: 11, day: 22, hour: 3))
            #expect(try await s3.list(hour, recursive: false).count == 4)
            let jobs = try await logpipe(["jobs", "ls"] + lake)
            #expect(jobs.status == 0 && jobs.output.contains("report-daily") && !jobs.output.contains("compaction"), "\(jobs.output)")
            let refused = try await logpipe(["jobs", "run", "compaction"] + lake)
            #expect(refused.status == 64 && refused.error.contains("compaction is off on this lake"), "\(refused.error)")
            var drill = KillNineDrill(busDirectory: dir.appending("bus"), seed: 3)
            try await drill.feed(logs: 50, events: 10)
            let stream = try await logpipe(["stream", "--once", "--bus", "local:\(drill.busDirectory)", "--api-port", "0"] + lake)
            #expect(stream.status == 0, "\(stream.error)")
            #expect(stream.error.contains("compaction off"), "\(stream.error)")
            #expect(try await s3.list(LakeLayout.compactionDirectory(.logs), recursive: false).isEmpty)
            #expect(try await s3.list(hour, recursive: false).count == 4)

            let off = try await logpipe(["jobs", "run", "compaction", "--compaction", "off"] + lake)
            #expect(off.status == 64 && off.error.contains("compaction is off (--compaction off"), "\(off.error)")
            let wrong = try await logpipe(["jobs", "run", "compaction", "--compaction", "sometimes"] + lake)
            #expect(wrong.status == 1 && wrong.error.contains("--compaction sometimes: must be auto, on or off"), "\(wrong.error)")
            let compacted = try await logpipe(["jobs", "run", "compaction", "--compaction", "on"] + lake)
            #expect(compacted.status == 0 && compacted.output.contains("succeeded"), "\(compacted.output) \(compacted.error)")
            #expect(try await s3.list(hour, recursive: false).count == 1)
        }
    }

    /// S3 has no atomic swap: a compaction copies its outputs in, then deletes its inputs.
    /// Both in-between states a lister can catch are rebuilt here by hand and read: every
    /// row is counted once.
    @Test func readersSeeACompactionsInputsOrOutputsNeverBoth() async throws {
        try await Self.withLakeOnS3(directory: "batch-s3-compact", prefix: "lake", logs: 2_600, events: 260, filesPerHour: 4) { _, local, _, s3 in
            func rows(_ hour: HourPartition) async throws -> (scanned: Int, listed: Int64) {
                var stats = ScanStatistics()
                try await LakeScan(store: s3, dataset: .logs).forEachRowGroup(hours: [hour], columns: ["timestamp"], statistics: &stats) { _ in true }
                let listed = try await LakeListing.partitions(store: s3, datasets: [.logs]).first { $0.hour == hour }?.rows ?? 0
                return (stats.rowsRead, listed)
            }
            let records = try await LakeCompactor(store: s3, options: .init(minFiles: 4, closedAfterSeconds: 0))
                .compactClosedHours(datasets: [.logs])
            #expect(records.count == 26)
            // The newest compaction: its record is among those kept, as an in-flight one always is.
            let record = try #require(records.max { $0.sequence < $1.sequence })
            #expect(record.inputs.count == 4 && record.outputs.count == 1)
            let hourDirectory = record.directory
            let hour = try #require(HourPartition(path: Substring(hourDirectory)))
            let before = (scanned: 100, listed: Int64(100))
            #expect(try await rows(hour) == before)
            let rows = { try await rows(hour) }
            let inputs = record.inputs

            // Outputs copied in, inputs not yet deleted.
            for input in inputs { try await s3.write(input, contents: try await local.read(input)) }
            #expect(try await s3.list(hourDirectory, recursive: false).count == 5)
            #expect(try await rows() == before)

            // Record committed, inputs present, the output not copied yet.
            let output = try #require(record.outputs.first)
            let outputBytes = try await s3.read(output.final)
            try await s3.delete(output.final)
            #expect(try await rows() == before)

            // Both at once with a second, unrelated file beside them: it counts as usual.
            try await s3.write(output.final, contents: outputBytes)
            try await s3.write("\(hourDirectory)/\(LakeLayout.dataFileName(id: "late"))", contents: try await local.read(inputs[0]))
            #expect(try await rows() == (before.scanned + 25, before.listed + 25))
        }
    }

    @Test func leasesInTheBucketLetOneSchedulerRunEachInterval() async throws {
        try await MotoS3Server.withLakeBucket { server in
            let s3 = try server.store(prefix: "sched")
            let a = StoreJobLeases(store: s3, ttlSeconds: 30, owner: "a")
            let b = StoreJobLeases(store: s3, ttlSeconds: 30, owner: "b")
            let held = try #require(try await a.acquire("report-daily"))
            #expect(try await b.acquire("report-daily") == nil)
            #expect(try await b.acquire("compaction") != nil)
            await held.release()
            let taken = try #require(try await b.acquire("report-daily"))
            #expect(try await a.acquire("report-daily") == nil)
            await taken.release()

            // A holder that died: its lease lapses after the TTL, then another takes the job.
            let lease = "{\"owner\":\"dead\",\"expires\":\(Date().timeIntervalSince1970 + 1.5)}"
            #expect(try await s3.createExclusive("\(StoreJobLeases.directory("retention"))/00000000000000000007.json", contents: Array(lease.utf8)))
            #expect(try await a.acquire("retention") == nil)
            try await Task.sleep(nanoseconds: 2_000_000_000)
            let next = try await a.acquire("retention")
            #expect(next != nil)
            await next?.release()

            // Two schedulers after a 3-day outage with one success before it: each missed day runs once.
            let log = RunLog()
            try await JobHistory(store: s3).record(JobRun(job: "report-daily", interval: "2026-11-21", attempt: 1, owner: "x",
                                                          start: SchedulerTests.day0 + 900, end: SchedulerTests.day0 + 901, status: "succeeded", rows: 1, error: nil))
            let schedulers = try ["a", "b"].map { owner in
                Scheduler(store: s3, jobs: [try SchedulerTests.dailyJob(log, work: 0.05)], clock: ManualClock(SchedulerTests.day0 + 3 * 86_400 + 1200),
                          locks: StoreJobLeases(store: s3, owner: owner), owner: owner)
            }
            for _ in 0..<3 {
                async let x = schedulers[0].tick()
                async let y = schedulers[1].tick()
                _ = try await (x, y)
            }
            #expect(log.all.sorted() == ["2026-11-22", "2026-11-23", "2026-11-24"])
            let runs = try await JobHistory(store: s3).runs(job: "report-daily").filter { $0.status == "succeeded" }
            #expect(runs.map(\.interval).sorted() == ["2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"])
        }
    }
}

/// A store that counts the bytes read through it (to prove ranged reads).
final class CountingStore: FileStore, @unchecked Sendable {
    let inner: any FileStore
    private let counted = Mutex<Int64>(0)
    init(_ inner: any FileStore) { self.inner = inner }
    var bytesRead: Int64 { counted.withLock { $0 } }
    var location: String { inner.location }
    func write(_ path: String, contents: [UInt8]) async throws { try await inner.write(path, contents: contents) }
    func createExclusive(_ path: String, contents: [UInt8]) async throws -> Bool { try await inner.createExclusive(path, contents: contents) }
    func openWriter(_ path: String) async throws -> any FileWriter { try await inner.openWriter(path) }
    func rename(_ source: String, to destination: String) async throws { try await inner.rename(source, to: destination) }
    func list(_ prefix: String, recursive: Bool) async throws -> [FileStatus] { try await inner.list(prefix, recursive: recursive) }
    func read(_ path: String) async throws -> [UInt8] {
        let bytes = try await inner.read(path)
        counted.withLock { $0 += Int64(bytes.count) }
        return bytes
    }
    func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8] {
        let bytes = try await inner.read(path, offset: offset, length: length)
        counted.withLock { $0 += Int64(bytes.count) }
        return bytes
    }
    func delete(_ path: String) async throws { try await inner.delete(path) }
    func stat(_ path: String) async throws -> FileStatus? { try await inner.stat(path) }
}

extension Sequence {
    func asyncReduce<R>(_ initial: R, _ next: (R, Element) async throws -> R) async rethrows -> R {
        var result = initial
        for e in self { result = try await next(result, e) }
        return result
    }
}
