import Foundation
import LogpipeLake
import LogpipeTesting
import Testing

@Suite struct FileStoreTests {
    @Test func writeReadStatListDelete() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-store")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        try await store.write("a/b/one.bin", contents: [1, 2, 3])
        try await store.write("a/two.bin", contents: Array(repeating: 7, count: 1000))
        #expect(try await store.read("a/b/one.bin") == [1, 2, 3])
        #expect(try await store.read("a/two.bin", offset: 998, length: 10) == [7, 7])
        #expect(try await store.stat("a/two.bin")?.size == 1000)
        #expect(try await store.stat("a/missing") == nil)
        #expect(try await store.list("a", recursive: true).map(\.path) == ["a/b/one.bin", "a/two.bin"])
        #expect(try await store.list("a", recursive: false).map(\.path) == ["a/two.bin"])
        #expect(try await store.list("nothing/here", recursive: true).isEmpty)
        try await store.delete("a/b/one.bin")
        try await store.delete("a/b/one.bin")  // missing is fine
        #expect(try await store.list("a", recursive: true).map(\.path) == ["a/two.bin"])
        await #expect(throws: FileStoreError.notFound("a/b/one.bin")) { try await store.read("a/b/one.bin") }
    }

    @Test func createExclusiveNeverOverwrites() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-store")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        #expect(try await store.createExclusive("log/1.json", contents: Array("first".utf8)))
        #expect(try await store.createExclusive("log/1.json", contents: Array("second".utf8)) == false)
        #expect(try await store.read("log/1.json") == Array("first".utf8))
        // No temporary is left beside the record, whichever way it went.
        #expect(try await store.list("log", recursive: false).map(\.path) == ["log/1.json"])
    }

    @Test func concurrentExclusiveCreatesHaveOneWinner() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-store")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<16 { group.addTask { try await store.createExclusive("x/seq.json", contents: [UInt8(i)]) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
    }

    @Test func streamedWriterRenameAndAbort() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-store")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        let writer = try await store.openWriter("_staging/f.tmp")
        try await writer.write([1, 2])
        try await writer.write([3])
        try await writer.finish()
        try await store.rename("_staging/f.tmp", to: "data/year=2026/f.bin")
        #expect(try await store.read("data/year=2026/f.bin") == [1, 2, 3])
        #expect(try await store.stat("_staging/f.tmp") == nil)
        await #expect(throws: FileStoreError.notFound("_staging/f.tmp")) {
            try await store.rename("_staging/f.tmp", to: "data/again.bin")
        }
        let aborted = try await store.openWriter("_staging/g.tmp")
        try await aborted.write([9])
        await aborted.abort()
        #expect(try await store.stat("_staging/g.tmp") == nil)
    }

    @Test func pathsMustStayInsideTheRoot() async throws {
        let dir = try TemporaryDirectory(prefix: "lake-store")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        await #expect(throws: FileStoreError.invalidPath("../escape")) { try await store.write("../escape", contents: []) }
        await #expect(throws: FileStoreError.invalidPath("/etc/passwd")) { try await store.read("/etc/passwd") }
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
