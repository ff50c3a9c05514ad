import Foundation
import LogpipeLake
import LogpipeParquet
import LogpipeRecords
import LogpipeTesting
import Testing

/// Rows with event times from `start` (microseconds), one per millisecond, ids `prefix-i`.
func logRows(_ count: Int, start: Int64, prefix: String) -> LogBatch {
    var batch = LogBatch()
    for i in 0..<count {
        batch.append(LogRecord(
            timestampMicros: start + Int64(i) * 1000, level: .info, service: "svc", host: "h",
            message: "m \(i)", metadata: LogRecord.Metadata(requestId: "\(prefix)-\(i)", statusCode: 200)))
    }
    return batch
}

/// Stages one file of `rows` for a partition's log and returns what to commit.
func stage(_ rows: LogBatch, store: any FileStore, log: PartitionCommitLog) async throws -> CommittedFile {
    let id = UUID().uuidString.lowercased()
    let file = try await StagedParquetFile<LogBatch>(
        store: store, stagingPath: log.stagingPath(id: id), id: id,
        hour: HourPartition(timestampMicros: rows.timestampMicros.values[0]))
    try await file.append(rows, rows: 0..<rows.count)
    return try await file.finish()
}

let hour0: Int64 = 1_768_183_200_000_000  // 2026-01-12T02:00:00Z

@Suite struct CommitLogTests {
    @Test func commitMakesFilesVisibleWithTheirOffsets() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-commit")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        var log = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 0, owner: "w1")
        #expect(log.nextOffset == 0)
        let file = try await stage(logRows(100, start: hour0, prefix: "a"), store: store, log: log)
        #expect(file.staging.hasPrefix("_logpipe/staging/logs.raw/0/"))
        #expect(file.final.hasPrefix("logs/raw/year=2026/month=1/day=12/hour=2/part-"))
        #expect(file.final.hasSuffix(".snappy.parquet"))
        // Before the commit nothing is under the dataset.
        #expect(try await store.list("logs", recursive: true).isEmpty)
        try await log.commit(files: [file], nextOffset: 100, states: ["analytics": Data([1, 2, 3])])
        #expect(try await store.stat(file.final)?.size == file.bytes)
        #expect(try await store.stat(file.staging) == nil)
        let listing = try await LakeListing.partitions(store: store)
        #expect(listing.count == 1)
        #expect(listing[0].rows == 100 && listing[0].files == 1 && listing[0].bytes == file.bytes)

        let reopened = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 0, owner: "w2")
        #expect(reopened.nextOffset == 100)
        #expect(reopened.state(of: "analytics") == Data([1, 2, 3]))
        #expect(reopened.last?.kind == .claim)
        #expect(reopened.last?.totalRows == 100)
    }

    /// Crashes a second commit after every possible number of store operations (including
    /// during recovery), reopens on the same directory and checks the all-or-nothing rule.
    @Test func crashAtEveryStepIsAllOrNothing() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-crash")
        defer { dir.remove() }
        var budget = 0
        var outcomes: Set<Int64> = []
        while true {
            let root = dir.appending("run-\(budget)")
            let store = try LocalFileStore(root: root)
            var first = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 1, owner: "w1")
            let a = try await stage(logRows(100, start: hour0, prefix: "a"), store: store, log: first)
            try await first.commit(files: [a], nextOffset: 100)

            let crashing = CrashingStore(base: store, budget: budget)
            var completed = false
            var bFinal: String?
            do {
                var log = try await PartitionCommitLog.open(store: crashing, topic: "logs.raw", partition: 1, owner: "w2")
                // Two files in two hours, one commit.
                let b = try await stage(logRows(30, start: hour0 + 1_000_000, prefix: "b"), store: crashing, log: log)
                let c = try await stage(logRows(20, start: hour0 + HourPartition.microsPerHour, prefix: "c"), store: crashing, log: log)
                bFinal = b.final
                try await log.commit(files: [b, c], nextOffset: 150)
                completed = true
            } catch is Crash {}

            let recovered = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 1, owner: "w3")
            let next = try #require(recovered.nextOffset)
            #expect(next == 100 || next == 150, "budget \(budget)")
            outcomes.insert(next)
            let rows = try await LakeListing.partitions(store: store).reduce(Int64(0)) { $0 + $1.rows }
            #expect(rows == next, "budget \(budget): lake has \(rows) rows, log says \(next)")
            #expect(try await store.stat(a.final) != nil)
            if next == 100, let bFinal { #expect(try await store.stat(bFinal) == nil) }
            #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty, "budget \(budget)")
            if completed { break }
            budget += 1
        }
        #expect(outcomes == [100, 150])
        #expect(budget > 8)
    }

    @Test func aFencedWorkerCannotCommit() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-fence")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        var old = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 2, owner: "old")
        let staged = try await stage(logRows(10, start: hour0, prefix: "x"), store: store, log: old)
        // A new owner takes the partition (a rebalance) while the old one still runs.
        let new = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 2, owner: "new")
        #expect(new.nextOffset == 0)
        await #expect(throws: CommitLogError.fenced(topic: "logs.raw", partition: 2, sequence: 2)) {
            try await old.commit(files: [staged], nextOffset: 10)
        }
        #expect(try await store.list("logs", recursive: true).isEmpty)
        #expect(try await PartitionCommitLog.newestRecord(store: store, topic: "logs.raw", partition: 2)?.owner == "new")
    }

    @Test func theLogStaysBounded() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-bounded")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        var log = try await PartitionCommitLog.open(store: store, topic: "events.activity", partition: 0, owner: "w",
                                                    retainedRecords: 5)
        for i in 1...40 {
            try await log.commit(files: [], nextOffset: Int64(i * 10), states: i == 3 ? ["s": Data([9])] : [:])
        }
        let records = try await store.list(log.directory, recursive: false)
        #expect(records.count == 5)
        let reopened = try await PartitionCommitLog.open(store: store, topic: "events.activity", partition: 0, owner: "w",
                                                         retainedRecords: 5)
        #expect(reopened.nextOffset == 400)
        #expect(reopened.state(of: "s") == Data([9]))  // carried forward by every record
        #expect(try await store.list(log.directory, recursive: false).count == 5)
    }

    @Test func partitionsHaveIndependentLogs() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-parts")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        var p0 = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 0, owner: "a")
        var p1 = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 1, owner: "b")
        let f0 = try await stage(logRows(5, start: hour0, prefix: "p0"), store: store, log: p0)
        let f1 = try await stage(logRows(7, start: hour0, prefix: "p1"), store: store, log: p1)
        try await p0.commit(files: [f0], nextOffset: 5)
        try await p1.commit(files: [f1], nextOffset: 7)
        #expect(try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 0, owner: "c").nextOffset == 5)
        #expect(try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 1, owner: "c").nextOffset == 7)
        let listing = try await LakeListing.partitions(store: store)
        #expect(listing.map(\.rows) == [12])
        #expect(listing.map(\.files) == [2])
    }
}
