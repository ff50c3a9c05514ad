import Foundation
import LogpipeBatch
import LogpipeLake
import LogpipeTesting
import Testing

@Suite struct SearchTests {
    /// DuckDB's answer to the same search: request ids, newest first (ties by request id).
    static let duckDBSearch = #"""
import duckdb, sys
root, lo, hi, where, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
con = duckdb.connect()
rows = con.execute(f"""select metadata.request_id from read_parquet('{root}/logs/raw/*/*/*/*/*.parquet', hive_partitioning=true)
  where epoch_us(timestamp) >= {lo} and epoch_us(timestamp) < {hi} and ({where})
  order by timestamp desc, metadata.request_id limit {limit}""").fetchall()
print("\n".join(r[0] for r in rows))
"""#

    static let dayStart = Int64(TestLake.day) * 1_000_000
    static let hour: Int64 = 3_600_000_000

    func duckDB(_ root: String, _ q: SearchQuery, where clause: String) async throws -> [String] {
        let r = try await LakeTesting.runPython(Self.duckDBSearch, arguments: [root, "\(q.fromMicros)", "\(q.toMicros)", clause, "\(q.limit)"])
        #expect(r.exitCode == 0, "\(r.error)")
        return r.output.split(separator: "\n").map(String.init)
    }

    @Test func resultsEqualDuckDBWithTheSameFilters() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-search")
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: 40_000, events: 10)
        let search = LogSearch(store: try LocalFileStore(root: dir.path))
        var stats = ScanStatistics()

        var errors = SearchQuery(fromMicros: Self.dayStart, toMicros: Self.dayStart + 3 * Self.hour, limit: 1000)
        errors.service = "payment-service"
        errors.statusMin = 500
        errors.statusMax = 599
        let found = try await search.run(errors, statistics: &stats).map { $0.requestId ?? "" }
        #expect(found.count > 50)
        #expect(found == (try await duckDB(dir.path, errors, where: "service = 'payment-service' and metadata.status_code between 500 and 599")))

        var slow = SearchQuery(fromMicros: Self.dayStart, toMicros: Self.dayStart + 24 * Self.hour, limit: 25)
        slow.level = "WARN"
        slow.text = "Slow"
        let slowFound = try await search.run(slow, statistics: &stats).map { $0.requestId ?? "" }
        #expect(slowFound.count == 25)
        #expect(slowFound == (try await duckDB(dir.path, slow, where: "level = 'WARN' and contains(message, 'Slow')")))

        var one = SearchQuery(fromMicros: Self.dayStart - Self.hour, toMicros: Self.dayStart + 25 * Self.hour)
        one.requestId = found[17]
        let hit = try await search.run(one, statistics: &stats)
        #expect(hit.map(\.requestId) == [found[17]])
        #expect(hit.first?.service == "payment-service")

        var user = SearchQuery(fromMicros: Self.dayStart, toMicros: Self.dayStart + 12 * Self.hour, limit: 10_000)
        user.userId = hit[0].userId
        user.endpoint = hit[0].endpoint
        let byUser = try await search.run(user, statistics: &stats).map { $0.requestId ?? "" }
        #expect(byUser == (try await duckDB(dir.path, user, where: "metadata.user_id = '\(hit[0].userId!)' and metadata.endpoint = '\(hit[0].endpoint!)'")))
    }

    @Test func oneHourOfTheLakeTouchesOnlyThatHourAndSkipsRowGroupsByStatistics() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-search")
        defer { dir.remove() }
        // Small row groups, so the hour's files have several, each covering a slice of time.
        try TestLake.build(root: dir.path, logs: 120_000, events: 10, rowGroupBytes: 16 << 10)
        let search = LogSearch(store: try LocalFileStore(root: dir.path))
        var stats = ScanStatistics()
        let start = Self.dayStart + 5 * Self.hour
        let all = try await search.run(SearchQuery(fromMicros: start, toMicros: start + Self.hour, limit: 100_000), statistics: &stats)
        #expect(stats.hoursListed == 1)
        #expect(stats.filesOpened == 2)
        #expect(stats.rowGroupsRead == stats.rowGroupsSeen)
        #expect(stats.rowGroupsSeen >= 8)
        #expect(all.count == stats.rowsRead)

        // Five minutes of the hour: the other row groups are skipped by their timestamp range.
        var narrow = ScanStatistics()
        let five = try await search.run(SearchQuery(fromMicros: start, toMicros: start + 300_000_000, limit: 100_000), statistics: &narrow)
        #expect(narrow.filesOpened == 2)
        #expect(narrow.rowGroupsRead < narrow.rowGroupsSeen / 2)
        #expect(five == all.filter { $0.timestampMicros < start + 300_000_000 })
        #expect(five.count > 0)
    }
}
