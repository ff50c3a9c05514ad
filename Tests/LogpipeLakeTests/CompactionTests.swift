import Foundation
import LogpipeLake
import LogpipeParquet
import LogpipeRecords
import LogpipeTesting
import Synchronization
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

    @Test func aListerSeesTheOldFilesOrTheNewOnesNeverBoth() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-swap")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        try await smallFiles(30, store: store)
        let hourDirectory = store.root + "/logs/raw/year=2026/month=1/day=12/hour=2"
        let inputs = Set(try FileManager.default.contentsOfDirectory(atPath: hourDirectory))
        #expect(inputs.count == 30)
        let watch = SwapWatch()
        let lister = Thread {
            while !watch.stop.load(ordering: .relaxed) {
                guard let names = try? FileManager.default.contentsOfDirectory(atPath: hourDirectory) else { continue }
                let old = names.filter { inputs.contains($0) }.count
                if !(old == inputs.count && names.count == inputs.count) && !(old == 0 && names.count == 1) {
                    watch.mixed.add(1, ordering: .relaxed)
                }
                watch.listings.add(1, ordering: .relaxed)
            }
        }
        lister.start()
        while watch.listings.load(ordering: .relaxed) < 10 { try await Task.sleep(nanoseconds: 1_000_000) }
        let records = try await LakeCompactor(store: store, options: .init(minFiles: 4, closedAfterSeconds: 0)).compactClosedHours()
        let seen = watch.listings.load(ordering: .relaxed)
        while watch.listings.load(ordering: .relaxed) < seen + 10 { try await Task.sleep(nanoseconds: 1_000_000) }
        watch.stop.store(true, ordering: .relaxed)
        #expect(records.count == 1)
        #expect(watch.mixed.load(ordering: .relaxed) == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: hourDirectory).count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.root + "/.swap").isEmpty)
    }

    @Test func anExchangeInterruptedAfterTheSwapIsFinishedOnRecovery() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-swap-recover")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        // The state a crash right after the exchange leaves: the hour holds the new file, the
        // build directory holds the old version, including a file committed during the build.
        try await store.write("d/new.parquet", contents: [1])
        try await store.write(".swap/x/old1.parquet", contents: [2])
        try await store.write(".swap/x/late.parquet", contents: [3])
        try await store.write(".swap/x/new.parquet", contents: [1])
        try await store.write(".swap/x.manifest", contents: Array("d\nold1.parquet\nnew.parquet".utf8))
        // And one interrupted before its exchange: undone.
        try await store.write("e/keep.parquet", contents: [4])
        try await store.write(".swap/y/keep.parquet", contents: [4])
        try await store.write(".swap/y/out.parquet", contents: [5])
        try await store.write(".swap/y.manifest", contents: Array("e\nin.parquet\nout.parquet".utf8))
        try await store.recoverReplacements()
        #expect(try await store.list("d", recursive: false).map(\.path) == ["d/late.parquet", "d/new.parquet"])
        #expect(try await store.list("e", recursive: false).map(\.path) == ["e/keep.parquet"])
        #expect(try await store.list(".swap", recursive: true).isEmpty)
    }
}

final class SwapWatch: Sendable {
    let stop = Atomic<Bool>(false)
    let mixed = Atomic<Int>(0)
    let listings = Atomic<Int>(0)
}
