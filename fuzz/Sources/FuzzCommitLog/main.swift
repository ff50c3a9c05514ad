import Foundation
import FuzzDriver
import LogpipeLake

/// One input: the bytes of a partition's newest commit record. Opening the commit log
/// recovers from it (finishing the renames it names, claiming the partition) or refuses it
/// as corrupt; after a successful open the next commit must land and read back.
let root = scratchDirectory("commit-log")
let topic = "fuzz"
let store = try! LocalFileStore(root: root)
let recordPath = LakeLayout.commitDirectory(topic: topic, partition: 0) + "/" + CommitRecord.fileName(sequence: 1)

writeSeedIfAsked {
    let made = blocking { () async throws -> [UInt8] in
        var log = try await PartitionCommitLog.open(store: store, topic: topic, partition: 0, owner: "seed")
        let staging = log.stagingPath(id: "seed")
        try await store.write(staging, contents: Array("PAR1".utf8))
        let hour = HourPartition(hoursSinceEpoch: 490_896)
        let file = CommittedFile(dataset: .logs, staging: staging,
                                 final: LakeLayout.partitionDirectory(.logs, hour) + "/" + LakeLayout.dataFileName(id: "seed"),
                                 rows: 10, bytes: 4)
        let record = try await log.commit(files: [file], nextOffset: 10, states: ["analytics": Data([1, 2, 3])])
        return try await store.read(LakeLayout.commitDirectory(topic: topic, partition: 0) + "/" + CommitRecord.fileName(sequence: record.sequence))
    }
    return try made.get()
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzCommitLog(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    try? FileManager.default.removeItem(atPath: root)
    try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let outcome = blocking { () async throws -> Void in
        try await store.write(recordPath, contents: bytes)
        var log = try await PartitionCommitLog.open(store: store, topic: topic, partition: 0, owner: "fuzz")
        let next = (log.nextOffset ?? 0) &+ 1
        let record = try await log.commit(files: [], nextOffset: next)
        let newest = try await PartitionCommitLog.newestRecord(store: store, topic: topic, partition: 0)
        precondition(newest == record, "the commit just made does not read back as the newest record")
    }
    if case .failure(let error) = outcome, !(error is CommitLogError), !(error is FileStoreError) {
        preconditionFailure("unexpected error type \(type(of: error)): \(error)")
    }
    return 0
}

runFuzzer(fuzzCommitLog)
