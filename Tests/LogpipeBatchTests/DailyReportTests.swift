import Foundation
import LogpipeBatch
import LogpipeLake
import LogpipeTesting
import Testing

@Suite struct DailyReportTests {
    static let date = ReportDate("2026-11-22")!

    /// DuckDB computes every table of the report from the raw lake and compares it with the
    /// report read back through hive partitioning (`reports/daily/date=…/<table>/`): counts,
    /// min/max and quantile_cont exactly, averages and deviations to 1e-9 relative.
    static let duckDBCheck = #"""
import duckdb, sys, math
root, date = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
day = f"timestamp >= TIMESTAMPTZ '{date} 00:00:00+00' and timestamp < TIMESTAMPTZ '{date} 00:00:00+00' + interval 1 day"
con.execute(f"create view logs as select * from read_parquet('{root}/logs/raw/*/*/*/*/*.parquet', hive_partitioning=true) where {day}")
con.execute(f"create view ev as select * from read_parquet('{root}/events/activity/*/*/*/*/*.parquet', hive_partitioning=true) where {day}")
E = "(coalesce(metadata.status_code, 0) >= 400 or level in ('ERROR','CRITICAL','FATAL'))"
S = "case when grouping(service) = 1 then 'ALL' else service end"
expected = {
 "services": f"""select {S}, count(*), count(*) filter (where {E}), count(*) filter (where metadata.status_code >= 400),
    count(*) filter (where level in ('ERROR','CRITICAL','FATAL')), count(*) filter (where {E}) / count(*),
    count(metadata.response_time_ms), avg(metadata.response_time_ms), min(metadata.response_time_ms), max(metadata.response_time_ms),
    stddev(metadata.response_time_ms), quantile_cont(metadata.response_time_ms, 0.5), quantile_cont(metadata.response_time_ms, 0.95),
    quantile_cont(metadata.response_time_ms, 0.99) from logs group by grouping sets ((service), ())""",
 "levels": f"select {S}, level, count(*) from logs group by grouping sets ((service, level), (level))",
 "status_classes": f"""select {S}, (metadata.status_code // 100)::varchar || 'xx', count(*) from logs where metadata.status_code is not null
    group by grouping sets ((service, metadata.status_code // 100), (metadata.status_code // 100))""",
 "hourly": f"select {S}, hour(timestamp), count(*), count(*) filter (where {E}) from logs group by grouping sets ((service, hour(timestamp)), (hour(timestamp)))",
 "top_endpoints": f"""with e as (select {S} s, metadata.endpoint ep, count(*) r, count(*) filter (where {E}) er from logs where metadata.endpoint is not null
      group by grouping sets ((service, metadata.endpoint), (metadata.endpoint)))
    select s, 'requests', row_number() over (partition by s order by r desc, ep), ep, r, er from e qualify row_number() over (partition by s order by r desc, ep) <= 10
    union all
    select s, 'errors', row_number() over (partition by s order by er desc, ep), ep, r, er from e where er > 0 qualify row_number() over (partition by s order by er desc, ep) <= 10""",
 "top_errors": f"""with m as (select {S} s, message, count(*) c from logs where {E} and message is not null group by grouping sets ((service, message), (message)))
    select s, row_number() over (partition by s order by c desc, message), message, c from m qualify row_number() over (partition by s order by c desc, message) <= 10""",
 "activity_events": "select case when grouping(event_type) = 1 then 'ALL' else event_type end, count(*), count(distinct user_id), count(distinct session_id) from ev group by grouping sets ((event_type), ())",
 "activity_devices": """select 'type', device.type, count(*) from ev where device.type is not null group by 2
    union all select 'os', device.os, count(*) from ev where device.os is not null group by 2
    union all select 'browser', device.browser, count(*) from ev where device.browser is not null group by 2""",
}
def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None: return a is b
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    return a == b
exact_float_columns = {"response_time_min", "response_time_max", "response_time_p50", "response_time_p95", "response_time_p99"}
problems = []
for table, sql in expected.items():
    want = sorted(con.execute(sql).fetchall(), key=repr)
    rel = con.execute(f"select * exclude (date) from read_parquet('{root}/reports/daily/*/{table}/*.parquet', hive_partitioning=true) where date = DATE '{date}'")
    names = [d[0] for d in rel.description]
    got = sorted(rel.fetchall(), key=repr)
    if not want:
        problems.append(f"{table}: DuckDB finds no rows, nothing was compared")
    if len(got) != len(want):
        problems.append(f"{table}: {len(got)} rows, DuckDB {len(want)}")
        continue
    for g, w in zip(got, want):
        for name, a, b in zip(names, g, w):
            ok = (a == b) if name in exact_float_columns else same(a, b)
            if not ok: problems.append(f"{table}.{name}: report {a!r}, DuckDB {b!r} in {g!r}")
    print(table, len(got))
if problems:
    print("\n".join(problems[:20])); sys.exit(1)
print("ok")
"""#

    @Test func tablesEqualDuckDBOverTheSameLake() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-daily")
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: 40_000, events: 8_000)
        let store = try LocalFileStore(root: dir.path)
        let report = try await DailyReport.compute(store: store, date: Self.date)
        try await report.write(store: store)
        // 24 hours of the day, two files each, per dataset; neighbouring days are not read.
        #expect(report.scan.hoursListed == 48)
        #expect(report.scan.filesOpened == 96)
        let result = try await LakeTesting.runPython(Self.duckDBCheck, arguments: [dir.path, "\(Self.date)"])
        #expect(result.exitCode == 0, "\(result.output)\n\(result.error)")
        #expect(result.output.hasSuffix("ok\n"), "\(result.output)")
        let services = try #require(report.table("services"))
        #expect(services.rows.first?.first == .string("ALL"))
    }

    @Test func rerunIsByteIdenticalAndReplacesThePreviousRun() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-daily")
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: 10_000, events: 2_000)
        let store = try LocalFileStore(root: dir.path)
        let directory = DailyReport.directory(Self.date)
        func snapshot() async throws -> [String: [UInt8]] {
            var out: [String: [UInt8]] = [:]
            for f in try await store.list(directory, recursive: true) { out[f.path] = try await store.read(f.path) }
            return out
        }
        try await DailyReport.compute(store: store, date: Self.date).write(store: store)
        let first = try await snapshot()
        #expect(first.keys.filter { $0.hasSuffix(".parquet") }.count == 8)
        #expect(first.keys.contains("\(directory)/report.html") && first.keys.contains("\(directory)/report.md"))
        try await DailyReport.compute(store: store, date: Self.date).write(store: store)
        #expect(try await snapshot() == first)
        // Nothing is left behind in staging or the swap area.
        #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
        #expect(try await store.list(".swap", recursive: true).isEmpty)
    }

    @Test func reportDatesParseStrictly() {
        let dates = ["2026-02-29", "2026-13-01", "2026-1-01"].map(ReportDate.init)
        #expect(dates.allSatisfy { $0 == nil })
        #expect(ReportDate("2028-02-29")?.description == "2028-02-29")
    }
}
