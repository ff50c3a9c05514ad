import Foundation
import LogpipeBatch
import LogpipeLake
import LogpipeTesting
import Testing

@Suite struct ServiceAnalysisTests {
    /// DuckDB computes the SLA, histogram, peaks and slowest endpoints from the raw lake and
    /// compares them with the analysis read back with hive partitioning.
    static let duckDBCheck = #"""
import duckdb, sys
root, date = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
con.execute(f"""create view logs as select * from read_parquet('{root}/logs/raw/*/*/*/*/*.parquet', hive_partitioning=true)
  where timestamp >= TIMESTAMPTZ '{date} 00:00:00+00' and timestamp < TIMESTAMPTZ '{date} 00:00:00+00' + interval 1 day""")
def report(table, cols):
    return sorted(con.execute(f"select {cols} from read_parquet('{root}/analysis/service/*/{table}/*.parquet', hive_partitioning=true) where date = DATE '{date}'").fetchall())
checks = {
 "sla": ("service, requests, availability, performance, response_time_p95",
         """select service, count(*), count(*) filter (where metadata.status_code between 200 and 299) / count(*),
            count(*) filter (where metadata.response_time_ms < 1000) / count(metadata.response_time_ms),
            quantile_cont(metadata.response_time_ms, 0.95) from logs group by service"""),
 "latency_histogram": ("service, bucket_lower_ms, count",
         """with b as (select unnest([0, 50, 100, 200, 500, 1000, 2000, 5000]::double[]) lo), s as (select distinct service from logs)
            select s.service, b.lo, (select count(*) from logs l where l.service = s.service and l.metadata.response_time_ms >= b.lo
              and l.metadata.response_time_ms < coalesce((select min(lo) from b b2 where b2.lo > b.lo), 'inf'::double)) from s, b"""),
 "peaks": ("service, peak_minute, peak_minute_requests, peak_hour, peak_hour_requests",
         """with m as (select service, strftime(date_trunc('minute', timestamp), '%Y-%m-%dT%H:%MZ') mi, count(*) c from logs group by all),
              h as (select service, hour(timestamp) hr, count(*) c from logs group by all)
            select m.service, arg_max(mi, (c, -epoch(strptime(mi, '%Y-%m-%dT%H:%MZ')))), max(c),
              (select arg_max(hr, (c, -hr)) from h where h.service = m.service), (select max(c) from h where h.service = m.service)
            from m group by m.service"""),
 "slowest_endpoints": ("service, rank, endpoint, requests, response_time_p95, response_time_max",
         """with e as (select service, metadata.endpoint ep, count(*) r, quantile_cont(metadata.response_time_ms, 0.95) p, max(metadata.response_time_ms) mx
            from logs where metadata.endpoint is not null group by all)
            select service, row_number() over (partition by service order by p desc, ep), ep, r, p, mx from e
            qualify row_number() over (partition by service order by p desc, ep) <= 10"""),
}
problems = []
for table, (cols, sql) in checks.items():
    got, want = report(table, cols), sorted(con.execute(sql).fetchall())
    if not want or len(got) != len(want): problems.append(f"{table}: {len(got)} rows, DuckDB {len(want)}")
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            if a != b and not (isinstance(a, float) and abs(a - b) <= 1e-12 * max(abs(a), abs(b), 1)):
                problems.append(f"{table}: {g} != {w}"); break
    print(table, len(got))
if problems: print("\n".join(problems[:20])); sys.exit(1)
print("ok")
"""#

    @Test func tablesEqualDuckDBAndTheNextDayComparesWithThisOne() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-analysis")
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: 30_000, events: 10)
        let store = try LocalFileStore(root: dir.path)
        let day = ReportDate("2026-11-22")!
        let analysis = try await ServiceAnalysis.compute(store: store, date: day)
        try await analysis.write(store: store)
        let result = try await LakeTesting.runPython(Self.duckDBCheck, arguments: [dir.path, "\(day)"])
        #expect(result.exitCode == 0, "\(result.output)\n\(result.error)")
        #expect(result.output.hasSuffix("ok\n"), "\(result.output)")
        // No previous analysis: no change figures. The next day (one hour of data) has them.
        let sla = try #require(analysis.table("sla"))
        let previousColumn = try #require(sla.index(of: "requests_previous"))
        #expect(sla.rows.allSatisfy { $0[previousColumn] == .int(nil) })
        let next = try await ServiceAnalysis.compute(store: store, date: day.next)
        let nextSLA = try #require(next.table("sla"))
        for row in nextSLA.rows {
            let today = try #require(sla.rows.first { $0[0] == row[0] })
            #expect(row[previousColumn] == today[sla.index(of: "requests")!])
        }
        // A rerun is byte-identical.
        func bytes() async throws -> [[UInt8]] {
            var out: [[UInt8]] = []
            for f in try await store.list(ServiceAnalysis.directory(day), recursive: true) { out.append(try await store.read(f.path)) }
            return out
        }
        let first = try await bytes()
        try await ServiceAnalysis.compute(store: store, date: day).write(store: store)
        #expect(try await bytes() == first)
    }
}
