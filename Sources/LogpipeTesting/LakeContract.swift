import Foundation
import LogpipeLake
import LogpipeParquet
import LogpipeRecords

/// A broken promise of the `FileStore` protocol or of the lake's commit protocol on a store.
public struct LakeContractViolation: Error, CustomStringConvertible {
    /// What was expected and what happened.
    public var description: String

    /// A violation.
    public init(_ description: String) { self.description = description }
}

/// The `FileStore` and lake contract suite: what the commit protocol needs of a store,
/// checked through the protocol only, so the local directory, S3 and WebHDFS stores run
/// the same checks. Each check takes `makeStore`, which returns a fresh, empty store
/// (its own directory or key prefix) every time it is called.
public enum LakeContract {
    /// Opens a fresh, empty store.
    public typealias MakeStore = @Sendable () async throws -> any FileStore

    /// Every check, by name.
    public static let checks: [(name: String, run: @Sendable (MakeStore) async throws -> Void)] = [
        ("writeReadStatListDelete", writeReadStatListDelete),
        ("createExclusiveNeverOverwrites", createExclusiveNeverOverwrites),
        ("concurrentExclusiveCreatesHaveOneWinner", concurrentExclusiveCreatesHaveOneWinner),
        ("streamedWriterRenameAndAbort", streamedWriterRenameAndAbort),
        ("largeStreamedFileIsWhole", largeStreamedFileIsWhole),
        ("pathsMustStayInsideTheRoot", pathsMustStayInsideTheRoot),
        ("commitMakesFilesVisibleWithTheirOffsets", commitMakesFilesVisibleWithTheirOffsets),
        ("crashAtEveryStepIsAllOrNothing", crashAtEveryStepIsAllOrNothing),
        ("aFencedWorkerCannotCommit", aFencedWorkerCannotCommit),
        ("theLogStaysBounded", theLogStaysBounded),
        ("partitionsHaveIndependentLogs", partitionsHaveIndependentLogs),
        ("compactionKeepsEveryRowOnce", compactionKeepsEveryRowOnce),
    ]

    /// Runs the check named `name`, labelling any failure with it.
    public static func run(_ name: String, makeStore: @escaping MakeStore) async throws {
        guard let check = checks.first(where: { $0.name == name }) else {
            throw LakeContractViolation("no lake contract check named \(name)")
        }
        do {
            try await check.run(makeStore)
        } catch {
            throw LakeContractViolation("\(name): \(error)")
        }
    }

    static func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw LakeContractViolation(message()) }
    }

    static func requireThrows<E: Error & Equatable>(_ expected: E, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as E where error == expected {
            return
        } catch {
            throw LakeContractViolation("expected \(expected), got \(error)")
        }
        throw LakeContractViolation("expected \(expected), nothing was thrown")
    }

    // MARK: FileStore

    /// Whole-file writes, ranged reads, stat, recursive and flat listings, idempotent deletes.
    public static func writeReadStatListDelete(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        try await store.write("a/b/one.bin", contents: [1, 2, 3])
        try await store.write("a/two.bin", contents: Array(repeating: 7, count: 1000))
        try require(try await store.read("a/b/one.bin") == [1, 2, 3], "read back")
        try require(try await store.read("a/two.bin", offset: 998, length: 10) == [7, 7], "ranged read at the end")
        try require(try await store.read("a/two.bin", offset: 10, length: 3) == [7, 7, 7], "ranged read")
        try require(try await store.stat("a/two.bin")?.size == 1000, "stat size")
        try require(try await store.stat("a/missing") == nil, "stat of a missing file")
        let all = try await store.list("a", recursive: true).map(\.path)
        try require(all == ["a/b/one.bin", "a/two.bin"], "recursive listing \(all)")
        let flat = try await store.list("a", recursive: false).map(\.path)
        try require(flat == ["a/two.bin"], "flat listing \(flat)")
        try require(try await store.list("nothing/here", recursive: true).isEmpty, "missing directory lists empty")
        try await store.write("a/two.bin", contents: [5])
        try require(try await store.read("a/two.bin") == [5], "write replaces")
        try await store.delete("a/b/one.bin")
        try await store.delete("a/b/one.bin")
        try require(try await store.list("a", recursive: true).map(\.path) == ["a/two.bin"], "listing after delete")
        try await requireThrows(FileStoreError.notFound("a/b/one.bin")) { _ = try await store.read("a/b/one.bin") }
    }

    /// `createExclusive` creates once and never overwrites, leaving nothing beside the file.
    public static func createExclusiveNeverOverwrites(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        try require(try await store.createExclusive("log/1.json", contents: Array("first".utf8)), "first create")
        try require(try await store.createExclusive("log/1.json", contents: Array("second".utf8)) == false, "second create refused")
        try require(try await store.read("log/1.json") == Array("first".utf8), "contents kept")
        let names = try await store.list("log", recursive: true).map(\.path)
        try require(names == ["log/1.json"], "nothing beside the record: \(names)")
    }

    /// Sixteen concurrent creates of one path: exactly one wins (the fence between workers).
    public static func concurrentExclusiveCreatesHaveOneWinner(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<16 { group.addTask { try await store.createExclusive("x/seq.json", contents: [UInt8(i)]) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try require(wins == 1, "\(wins) winners")
    }

    /// A streamed file is invisible until finished, renames move it, aborts remove it.
    public static func streamedWriterRenameAndAbort(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        let writer = try await store.openWriter("_staging/f.tmp")
        try await writer.write([1, 2])
        try await writer.write([3])
        try await writer.finish()
        try await store.rename("_staging/f.tmp", to: "data/year=2026/f.bin")
        try require(try await store.read("data/year=2026/f.bin") == [1, 2, 3], "renamed contents")
        try require(try await store.stat("_staging/f.tmp") == nil, "source gone")
        try await requireThrows(FileStoreError.notFound("_staging/f.tmp")) {
            try await store.rename("_staging/f.tmp", to: "data/again.bin")
        }
        try await store.write("data/old.bin", contents: [0])
        try await store.write("_staging/h.tmp", contents: [4])
        try await store.rename("_staging/h.tmp", to: "data/old.bin")
        try require(try await store.read("data/old.bin") == [4], "rename replaces the destination")
        let aborted = try await store.openWriter("_staging/g.tmp")
        try await aborted.write([9])
        await aborted.abort()
        try require(try await store.stat("_staging/g.tmp") == nil, "aborted file gone")
    }

    /// A streamed file larger than an object store's upload part (12 MiB in odd-sized writes)
    /// arrives whole and in order.
    public static func largeStreamedFileIsWhole(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        var expected: [UInt8] = []
        let writer = try await store.openWriter("_staging/big.bin")
        var generator = SplitMix(seed: 7)
        while expected.count < 12 << 20 {
            let chunk = (0..<(700_001)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            expected += chunk
            try await writer.write(chunk)
        }
        try await writer.finish()
        try await store.rename("_staging/big.bin", to: "data/big.bin")
        try require(try await store.stat("data/big.bin")?.size == Int64(expected.count), "size")
        try require(try await store.read("data/big.bin") == expected, "contents")
        try require(try await store.read("data/big.bin", offset: 6 << 20, length: 100) == Array(expected[(6 << 20)..<((6 << 20) + 100)]), "ranged read across parts")
    }

    /// Absolute paths and `..` are refused.
    public static func pathsMustStayInsideTheRoot(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        try await requireThrows(FileStoreError.invalidPath("../escape")) { try await store.write("../escape", contents: []) }
        try await requireThrows(FileStoreError.invalidPath("/etc/passwd")) { _ = try await store.read("/etc/passwd") }
    }

    // MARK: Commit protocol

    static let hour0: Int64 = 1_768_183_200_000_000  // 2026-01-12T02:00:00Z

    /// Rows with event times from `start` (microseconds), one per millisecond, ids `prefix-i`.
    public static func logRows(_ count: Int, start: Int64, prefix: String) -> LogBatch {
        var batch = LogBatch()
        for i in 0..<count {
            batch.append(LogRecord(
                timestampMicros: start + Int64(i) * 1000, level: .info, service: "svc", host: "h",
                message: "m \(i)", metadata: LogRecord.Metadata(requestId: "\(prefix)-\(i)", statusCode: 200)))
        }
        return batch
    }

    /// Stages one file of `rows` for a partition's log and returns what to commit.
    public static func stage(_ rows: LogBatch, store: any FileStore, log: PartitionCommitLog) async throws -> CommittedFile {
        let id = UUID().uuidString.lowercased()
        let file = try await StagedParquetFile<LogBatch>(
            store: store, stagingPath: log.stagingPath(id: id), id: id,
            hour: HourPartition(timestampMicros: rows.timestampMicros.values[0]))
        try await file.append(rows, rows: 0..<rows.count)
        return try await file.finish()
    }

    /// A commit makes its files visible in their hour partitions, with offsets and states
    /// that a reopened log resumes from.
    public static func commitMakesFilesVisibleWithTheirOffsets(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        var log = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 0, owner: "w1")
        try require(log.nextOffset == 0, "fresh log at 0")
        let file = try await stage(logRows(100, start: hour0, prefix: "a"), store: store, log: log)
        try require(file.staging.hasPrefix("_logpipe/staging/logs.raw/0/"), "staging path \(file.staging)")
        try require(file.final.hasPrefix("logs/raw/year=2026/month=1/day=12/hour=2/part-") && file.final.hasSuffix(".snappy.parquet"), "final path \(file.final)")
        try require(try await store.list("logs", recursive: true).isEmpty, "nothing visible before the commit")
        try await log.commit(files: [file], nextOffset: 100, states: ["analytics": Data([1, 2, 3])])
        try require(try await store.stat(file.final)?.size == file.bytes, "final file size")
        try require(try await store.stat(file.staging) == nil, "staging file gone")
        let listing = try await LakeListing.partitions(store: store)
        try require(listing.count == 1 && listing[0].rows == 100 && listing[0].files == 1 && listing[0].bytes == file.bytes, "listing \(listing)")
        let reopened = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 0, owner: "w2")
        try require(reopened.nextOffset == 100, "resumes at 100")
        try require(reopened.state(of: "analytics") == Data([1, 2, 3]), "state kept")
        try require(reopened.last?.kind == .claim && reopened.last?.totalRows == 100, "claim record")
    }

    /// Crashes a second commit after every possible number of store operations (including
    /// during recovery), reopens on the same store and checks the all-or-nothing rule.
    public static func crashAtEveryStepIsAllOrNothing(makeStore: MakeStore) async throws {
        var budget = 0
        var outcomes: Set<Int64> = []
        while true {
            let store = try await makeStore()
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
            guard let next = recovered.nextOffset else { throw LakeContractViolation("budget \(budget): no offset") }
            try require(next == 100 || next == 150, "budget \(budget): next offset \(next)")
            outcomes.insert(next)
            let rows = try await LakeListing.partitions(store: store).reduce(Int64(0)) { $0 + $1.rows }
            try require(rows == next, "budget \(budget): lake has \(rows) rows, log says \(next)")
            try require(try await store.stat(a.final) != nil, "budget \(budget): first commit's file")
            if next == 100, let bFinal { try require(try await store.stat(bFinal) == nil, "budget \(budget): uncommitted file visible") }
            try require(try await store.list("_logpipe/staging", recursive: true).isEmpty, "budget \(budget): staging left")
            if completed { break }
            budget += 1
        }
        try require(outcomes == [100, 150], "outcomes \(outcomes)")
        try require(budget > 8, "only \(budget) crash points")
    }

    /// A worker whose partition was claimed by another fails its next commit, invisibly.
    public static func aFencedWorkerCannotCommit(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        var old = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 2, owner: "old")
        let staged = try await stage(logRows(10, start: hour0, prefix: "x"), store: store, log: old)
        let new = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 2, owner: "new")
        try require(new.nextOffset == 0, "new owner at 0")
        try await requireThrows(CommitLogError.fenced(topic: "logs.raw", partition: 2, sequence: 2)) {
            try await old.commit(files: [staged], nextOffset: 10)
        }
        try require(try await store.list("logs", recursive: true).isEmpty, "fenced commit invisible")
        try require(try await PartitionCommitLog.newestRecord(store: store, topic: "logs.raw", partition: 2)?.owner == "new", "new owner's record")
    }

    /// Old records are pruned; the newest carries every state forward.
    public static func theLogStaysBounded(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        var log = try await PartitionCommitLog.open(store: store, topic: "events.activity", partition: 0, owner: "w", retainedRecords: 5)
        for i in 1...40 {
            try await log.commit(files: [], nextOffset: Int64(i * 10), states: i == 3 ? ["s": Data([9])] : [:])
        }
        try require(try await store.list(log.directory, recursive: false).count == 5, "five records")
        let reopened = try await PartitionCommitLog.open(store: store, topic: "events.activity", partition: 0, owner: "w", retainedRecords: 5)
        try require(reopened.nextOffset == 400 && reopened.state(of: "s") == Data([9]), "reopened state")
        try require(try await store.list(log.directory, recursive: false).count == 5, "still five records")
    }

    /// Two partitions commit into the same hour independently.
    public static func partitionsHaveIndependentLogs(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        var p0 = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 0, owner: "a")
        var p1 = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 1, owner: "b")
        let f0 = try await stage(logRows(5, start: hour0, prefix: "p0"), store: store, log: p0)
        let f1 = try await stage(logRows(7, start: hour0, prefix: "p1"), store: store, log: p1)
        try await p0.commit(files: [f0], nextOffset: 5)
        try await p1.commit(files: [f1], nextOffset: 7)
        try require(try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 0, owner: "c").nextOffset == 5, "p0")
        try require(try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 1, owner: "c").nextOffset == 7, "p1")
        let listing = try await LakeListing.partitions(store: store)
        try require(listing.map(\.rows) == [12] && listing.map(\.files) == [2], "listing \(listing)")
    }

    /// Compaction of a closed hour leaves one file with every row exactly once.
    public static func compactionKeepsEveryRowOnce(makeStore: MakeStore) async throws {
        let store = try await makeStore()
        var log = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 0, owner: "w")
        for i in 0..<6 {
            let f = try await stage(logRows(50, start: hour0 + Int64(i) * 60_000_000, prefix: "f\(i)"), store: store, log: log)
            try await log.commit(files: [f], nextOffset: Int64((i + 1) * 50))
        }
        let compactor = LakeCompactor(store: store, options: .init(minFiles: 4, closedAfterSeconds: 0))
        let records = try await compactor.compactClosedHours()
        try require(records.count == 1 && records[0].inputs.count == 6 && records[0].outputs.count == 1, "one compaction of six files")
        let listing = try await LakeListing.partitions(store: store)
        try require(listing.map(\.files) == [1] && listing.map(\.rows) == [300], "listing \(listing)")
        var ids: [String] = []
        for file in try await store.list("logs/raw", recursive: true) {
            let table = try ParquetFileReader(bytes: try await store.read(file.path)).read(columns: ["metadata"])
            guard case .group(let children) = table.column("metadata")!.values,
                  case .byteArray(let bytes, let offsets) = children[0].values else { continue }
            for i in 0..<table.rowCount {
                ids.append(String(decoding: bytes[Int(offsets[i])..<Int(offsets[i + 1])], as: UTF8.self))
            }
        }
        try require(Set(ids).count == 300 && ids.count == 300, "\(ids.count) ids, \(Set(ids).count) distinct")
        try require(try await store.list("_logpipe/staging", recursive: true).isEmpty, "staging left")
        try require(try await compactor.compactClosedHours().isEmpty, "nothing left to compact")
    }
}

