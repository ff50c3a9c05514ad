import Foundation
import LogpipeLake
import LogpipeTesting
import Synchronization
import Testing

/// Numbers fresh stores.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

@Suite struct FileStoreTests {
    /// The store and commit-protocol contract every lake store passes (S3 and WebHDFS run it too).
    @Test(arguments: LakeContract.checks.map(\.name))
    func contract(_ check: String) async throws {
        let dir = try TemporaryDirectory(prefix: "lake-store")
        defer { dir.remove() }
        let counter = Counter()
        try await LakeContract.run(check) {
            try LocalFileStore(root: dir.appending("store-\(counter.next())"))
        }
    }

    @Test func hourPartitionsAreSparkPaths() {
        // 2026-01-12T02:06:06Z
        let h = HourPartition(timestampMicros: 1_768_183_566_000_000)
        #expect(h.path == "year=2026/month=1/day=12/hour=2")
        #expect(HourPartition(path: "logs/raw/year=2026/month=1/day=12/hour=2") == h)
        #expect(h.startMicros <= 1_768_183_566_000_000 && 1_768_183_566_000_000 < h.endMicros)
        #expect(HourPartition(timestampMicros: 0).path == "year=1970/month=1/day=1/hour=0")
        #expect(HourPartition(timestampMicros: -1).path == "year=1969/month=12/day=31/hour=23")
        #expect(HourPartition(year: 2024, month: 2, day: 29, hour: 23).path == "year=2024/month=2/day=29/hour=23")
        #expect(HourPartition(path: "year=2026/month=13/day=1/hour=0") == nil)
        #expect(LakeLayout.partitionDirectory(.activity, h) == "events/activity/year=2026/month=1/day=12/hour=2")
    }
}
