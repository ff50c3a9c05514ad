import Foundation
import LogpipeLake
import LogpipeParquet
import LogpipeRecords
import LogpipeTesting
import Testing

@Suite struct CompactionTests {
    /// Commits `files` small files of 50 rows each into one hour, through a partition log.
    func smallFiles(_ files: Int, store: any FileStore) async throws {
        var log = try await PartitionCommitLog.open(store: store, topic: "logs.raw", partition: 0, owner: "w")
        for i in 0..<files {
            let f = try await stage(logRows(50, start: hour0 + Int64(i) * 60_000_000, prefix: "f\(i)"), store: store, log: log)
            try await log.commit(files: [f], nextOffset: Int64((i + 1) * 50))
        }
    }

    func requestIds(_ store: LocalFileStore) async throws -> [String] {
        var ids: [String] = []
        for file in try await store.list("logs/raw", recursive: true) {
            let table = try ParquetFileReader(path: try store.absolutePath(file.path)).read(columns: ["metadata"])
            guard case .group(let children) = table.column("metadata")!.values,
                  case .byteArray(let bytes, let offsets) = children[0].values else { continue }
            for i in 0..<table.rowCount {
                ids.append(String(decoding: bytes[Int(offsets[i])..<Int(offsets[i + 1])], as: UTF8.self))
            }
        }
        return ids.sorted()
    }

    @Test func closedHoursBecomeOneFileWithTheSameRows() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-compact")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        try await smallFiles(6, store: store)
        let before = try await requestIds(store)
        #expect(before.count == 300)
        let compactor = LakeCompactor(store: store, options: .init(minFiles: 4, closedAfterSeconds: 0))
        let records = try await compactor.compactClosedHours()
        #expect(records.count == 1)
        #expect(records[0].inputs.count == 6 && records[0].outputs.count == 1)
        let listing = try await LakeListing.partitions(store: store)
        #expect(listing.map(\.files) == [1])
        #expect(listing.map(\.rows) == [300])
        #expect(try await requestIds(store) == before)
        #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
        // Nothing left to do the second time.
        #expect(try await compactor.compactClosedHours().isEmpty)
    }

    @Test func openHoursAreLeftAlone() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-compact")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        try await smallFiles(5, store: store)
        let compactor = LakeCompactor(store: store, options: .init(minFiles: 4, closedAfterSeconds: 600))
        // The wall clock is inside the hour: it is still open.
        let during = Date(timeIntervalSince1970: Double(hour0) / 1e6 + 1800)
        #expect(try await compactor.compactClosedHours(now: during).isEmpty)
        #expect(try await LakeListing.partitions(store: store).map(\.files) == [5])
    }

    @Test func crashAtEveryStepKeepsEveryRowOnce() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-compact-crash")
        defer { dir.remove() }
        var budget = 0
        while true {
            let store = try LocalFileStore(root: dir.appending("run-\(budget)"))
            try await smallFiles(4, store: store)
            let expected = try await requestIds(store)
            let crashing = CrashingStore(base: store, budget: budget)
            var completed = false
            do {
                try await LakeCompactor(store: crashing, options: .init(minFiles: 2, closedAfterSeconds: 0)).compactClosedHours()
                completed = true
            } catch is Crash {}
            try await LakeCompactor(store: store, options: .init(minFiles: 100, closedAfterSeconds: 0)).compactClosedHours()
            #expect(try await requestIds(store) == expected, "budget \(budget)")
            #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty, "budget \(budget)")
            if completed {
                #expect(try await LakeListing.partitions(store: store).map(\.files) == [1])
                break
            }
            budget += 1
        }
        #expect(budget > 4)
    }
}
