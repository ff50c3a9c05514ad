import Foundation
import LogpipeLake
import LogpipeParquet
import LogpipeRecords
import LogpipeTesting
import Testing

// The commit-log checks themselves are the lake contract (LakeContract in LogpipeTesting),
// run against every store by FileStoreTests.contract; these helpers serve the compaction tests.

/// Rows with event times from `start` (microseconds), one per millisecond, ids `prefix-i`.
func logRows(_ count: Int, start: Int64, prefix: String) -> LogBatch {
    LakeContract.logRows(count, start: start, prefix: prefix)
}

/// Stages one file of `rows` for a partition's log and returns what to commit.
func stage(_ rows: LogBatch, store: any FileStore, log: PartitionCommitLog) async throws -> CommittedFile {
    try await LakeContract.stage(rows, store: store, log: log)
}

let hour0: Int64 = 1_768_183_200_000_000  // 2026-01-12T02:00:00Z
