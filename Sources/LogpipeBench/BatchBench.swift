import Foundation
import LogpipeBatch
import LogpipeGenerator
import LogpipeLake
import LogpipeParquet
import LogpipeRecords

/// `logpipe bench report` and `logpipe bench search`: the batch layer against DuckDB on the
/// same lake in the same run.
///
/// The lake: `records` generated log records (and a tenth as many activity events) spread
/// evenly over 48 hours from 2026-11-22 00:00 UTC, two snappy Parquet files per hour
/// partition with 16 MiB row groups, as the stream's raw sink writes them.
/// - report: `DailyReport.compute` for 2026-11-22 (half the lake) against DuckDB running the
///   SQL of every table of the report (the queries `DailyReportTests` checks it against) over
///   that day's partitions. Best of two each; the report's rows read / second is the rate.
/// - search: `LogSearch` for 5xx records in one hour (2026-11-23 05:00–06:00), newest 100,
///   best of five in process, and `logpipe search` as a process once; DuckDB's same query
///   over the whole lake's glob with a timestamp filter, best of five.
public enum BatchBench {
    static let start = 1_795_305_600.0  // 2026-11-22 00:00 UTC

    /// Writes the 48-hour lake under `root` (emptied first); returns its bytes.
    static func buildLake(root: String, records: Int) throws -> Int64 {
        try? FileManager.default.removeItem(atPath: root)
        var generator = RecordGenerator(seed: 20_261_122)
        var reader = JSONBodyReader()
        var options = ParquetWriterOptions()
        options.compression = .snappy
        options.rowGroupSize = 16 << 20
        options.sync = false
        var bytes: Int64 = 0
        for h in 0..<48 {
            let hourStart = start + Double(h) * 3600
            let hour = HourPartition(timestampMicros: Int64(hourStart * 1_000_000))
            let logCount = records / 48, eventCount = max(1, records / 480)
            var logs = LogBatch()
            _ = try reader.readLogs(body: generator.logs(count: logCount, start: hourStart, spacing: 3600 / Double(logCount)), into: &logs)
            var events = ActivityBatch()
            _ = try reader.readActivities(body: generator.events(count: eventCount, start: hourStart, spacing: 3600 / Double(eventCount)), into: &events)
            bytes += try write(logs, root: root, hour: hour, options: options)
            bytes += try write(events, root: root, hour: hour, options: options)
        }
        return bytes
    }

    static func write<Rows: LakeRows>(_ batch: Rows, root: String, hour: HourPartition, options: ParquetWriterOptions) throws -> Int64 {
        let directory = "\(root)/\(LakeLayout.partitionDirectory(Rows.dataset, hour))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var bytes: Int64 = 0
        let half = batch.count / 2
        for (f, range) in [0..<half, half..<batch.count].enumerated() {
            var part = Rows()
            part.append(contentsOf: batch, rows: range)
            let path = "\(directory)/\(LakeLayout.dataFileName(id: "bench-\(f)"))"
            let writer = try ParquetWriter(path: path, schema: Rows.parquetSchema, options: options)
            try writer.write(part.parquetColumns())
            _ = try writer.finish()
            bytes += Int64((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        }
        return bytes
    }

    static func peers(_ python: String, mode: String, root: String) throws -> [(String, Double, String)] {
        var out: [(String, Double, String)] = []
        for line in try Peers.runPython(python, script: peerScript, arguments: [mode, root]).split(separator: "\n") where line.hasPrefix("{") {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let name = o["name"] as? String else { continue }
            out.append((name, o["seconds"] as? Double ?? .nan, o["error"] as? String ?? o["note"] as? String ?? ""))
        }
        return out
    }

    /// The report benchmark in `workDir`; with `spark`, Spark batch (the seed's engine, pyspark
    /// `local[2]` from `LOGPIPE_SPARK_PYTHON`, default `.venv-spark/bin/python` as
    /// `scripts/setup spark` makes it) runs the same queries too.
    public static func report(records: Int, workDir: String, python: String, spark: Bool = false) async throws -> String {
        let root = workDir + "/lake"
        let lakeBytes = try buildLake(root: root, records: records)
        let store = try LocalFileStore(root: root)
        let day = ReportDate("2026-11-22")!
        var best = Double.infinity
        var rows = 0
        for _ in 0..<2 {
            let began = ContinuousClock.now
            let report = try await DailyReport.compute(store: store, date: day)
            best = min(best, Peers.seconds(since: began))
            rows = report.scan.rowsRead
        }
        var out = "report bench: \(records) log records + \(records / 10) events over 48 h (\(lakeBytes >> 20) MiB of Parquet); "
        out += "daily report of 2026-11-22 reads \(rows) rows\n"
        out += "  \("run".padding(toLength: 48, withPad: " ", startingAt: 0))  seconds   rows/s      time / logpipe time\n"
        func line(_ name: String, _ s: Double, _ note: String = "") {
            guard !s.isNaN else { out += "  \(name.padding(toLength: 48, withPad: " ", startingAt: 0))  not run: \(note)\n"; return }
            out += "  " + name.padding(toLength: 48, withPad: " ", startingAt: 0)
            out += String(format: "  %7.3f  %10.0f  %6.2fx", s, Double(rows) / s, s / best) + (note.isEmpty ? "\n" : "  (\(note))\n")
        }
        line("logpipe DailyReport.compute (every table)", best)
        for (name, s, note) in try peers(python, mode: "report", root: root) { line(name, s, note) }
        if spark {
            let sparkPython = ProcessInfo.processInfo.environment["LOGPIPE_SPARK_PYTHON"] ?? ".venv-spark/bin/python"
            do {
                for output in try Peers.runPython(sparkPython, script: sparkScript, arguments: [root]).split(separator: "\n") where output.hasPrefix("{") {
                    guard let o = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], let name = o["name"] as? String else { continue }
                    line(name, o["seconds"] as? Double ?? .nan, o["error"] as? String ?? o["note"] as? String ?? "")
                }
            } catch {
                line("spark batch", .nan, "\(error) (scripts/setup spark installs it)")
            }
        }
        return out
    }

    /// The search benchmark in `workDir`.
    public static func search(records: Int, workDir: String, python: String, binary: String) async throws -> String {
        let root = workDir + "/lake"
        let lakeBytes = try buildLake(root: root, records: records)
        let store = try LocalFileStore(root: root)
        let from = Int64(start + 29 * 3600) * 1_000_000
        var query = SearchQuery(fromMicros: from, toMicros: from + 3_600_000_000, limit: 100)
        query.statusMin = 500
        query.statusMax = 599
        var best = Double.infinity
        var statistics = ScanStatistics()
        var hits = 0
        for _ in 0..<5 {
            statistics = ScanStatistics()
            let began = ContinuousClock.now
            hits = try await LogSearch(store: store).run(query, statistics: &statistics).count
            best = min(best, Peers.seconds(since: began))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["search", "--lake", root, "--from", "2026-11-23T05:00:00Z", "--to", "2026-11-23T06:00:00Z",
                             "--status", "5xx", "--limit", "100", "--format", "csv"]
        process.standardOutput = FileHandle.nullDevice
        let began = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        let processSeconds = Peers.seconds(since: began)

        var out = "search bench: \(records) log records over 48 h (\(lakeBytes >> 20) MiB of Parquet); 5xx in one hour, newest 100: "
        out += "\(hits) hits, \(statistics.filesOpened) files opened, \(statistics.rowGroupsRead) of \(statistics.rowGroupsSeen) row groups read\n"
        out += String(format: "  %@  %8.1f ms\n", "logpipe LogSearch (in process, best of 5)".padding(toLength: 48, withPad: " ", startingAt: 0), best * 1000)
        out += String(format: "  %@  %8.1f ms  (exit %d)\n", "logpipe search (a process, start to exit)".padding(toLength: 48, withPad: " ", startingAt: 0),
                      processSeconds * 1000, process.terminationStatus)
        for (name, s, note) in try peers(python, mode: "search", root: root) {
            out += s.isNaN ? "  \(name): not run: \(note)\n"
                : String(format: "  %@  %8.1f ms  %6.2fx  (%@)\n", name.padding(toLength: 48, withPad: " ", startingAt: 0), s * 1000, s / best, note)
        }
        return out
    }

    /// The SQL of every table of the report, once for both peers: a Python list of templates
    /// filled with `S` (the service or 'ALL'), `E` (the error condition), `PCT` (the exact
    /// percentile function: Spark's `percentile`, DuckDB's `quantile_cont`) and `DIV` (integer
    /// division). Top-10 lists filter `row_number()` in a subquery, which both dialects run.
    static let reportQueries = #"""
[
 """select {S}, count(*), count(*) filter (where {E}), count(*) filter (where metadata.status_code >= 400),
    count(*) filter (where level in ('ERROR','CRITICAL','FATAL')), count(*) filter (where {E}) / count(*),
    count(metadata.response_time_ms), avg(metadata.response_time_ms), min(metadata.response_time_ms), max(metadata.response_time_ms),
    stddev(metadata.response_time_ms), {PCT}(metadata.response_time_ms, 0.5), {PCT}(metadata.response_time_ms, 0.95),
    {PCT}(metadata.response_time_ms, 0.99) from logs group by grouping sets ((service), ())""",
 "select {S}, level, count(*) from logs group by grouping sets ((service, level), (level))",
 """select {S}, (metadata.status_code {DIV} 100), count(*) from logs where metadata.status_code is not null
    group by grouping sets ((service, metadata.status_code {DIV} 100), (metadata.status_code {DIV} 100))""",
 "select {S}, hour(timestamp), count(*), count(*) filter (where {E}) from logs group by grouping sets ((service, hour(timestamp)), (hour(timestamp)))",
 """with e as (select {S} s, metadata.endpoint ep, count(*) r, count(*) filter (where {E}) er from logs where metadata.endpoint is not null
      group by grouping sets ((service, metadata.endpoint), (metadata.endpoint)))
    select * from (select s, 'requests', row_number() over (partition by s order by r desc, ep) n, ep, r, er from e) where n <= 10
    union all
    select * from (select s, 'errors', row_number() over (partition by s order by er desc, ep) n, ep, r, er from e where er > 0) where n <= 10""",
 """with m as (select {S} s, message, count(*) c from logs where {E} and message is not null group by grouping sets ((service, message), (message)))
    select * from (select s, row_number() over (partition by s order by c desc, message) n, message, c from m) where n <= 10""",
 "select case when grouping(event_type) = 1 then 'ALL' else event_type end, count(*), count(distinct user_id), count(distinct session_id) from ev group by grouping sets ((event_type), ())",
 """select 'type', device.type, count(*) from ev where device.type is not null group by 2
    union all select 'os', device.os, count(*) from ev where device.os is not null group by 2
    union all select 'browser', device.browser, count(*) from ev where device.browser is not null group by 2""",
]
"""#

    /// Spark batch over the same day: `reportQueries` in Spark SQL, the session started
    /// before the clock.
    static let sparkScript = #"""
import json, sys, time
root = sys.argv[1]
try:
    from pyspark.sql import SparkSession
    s = SparkSession.builder.master("local[2]").appName("logpipe-report-bench") \
        .config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false") \
        .config("spark.sql.session.timeZone", "UTC").config("spark.driver.memory", "4g") \
        .config("spark.ui.showConsoleProgress", "false").getOrCreate()
    s.sparkContext.setLogLevel("ERROR")
    def run():
        s.read.parquet(f"{root}/logs/raw/year=2026/month=11/day=22").createOrReplaceTempView("logs")
        s.read.parquet(f"{root}/events/activity/year=2026/month=11/day=22").createOrReplaceTempView("ev")
        E = "(coalesce(metadata.status_code, 0) >= 400 or level in ('ERROR','CRITICAL','FATAL'))"
        S = "case when grouping(service) = 1 then 'ALL' else service end"
        PCT, DIV = "percentile", "div"
        queries = [q.format(S=S, E=E, PCT=PCT, DIV=DIV) for q in \#(reportQueries)]
        for q in queries: s.sql(q).collect()
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"name": "spark batch (local[2]), the 8 queries", "seconds": best, "note": "pyspark " + s.version + ", JVM start excluded"}), flush=True)
    s.stop()
except Exception as e:
    print(json.dumps({"name": "spark batch", "error": str(e)[:200]}), flush=True)
"""#

    /// Prints one JSON line per peer: name, seconds (best of N), note or error.
    static let peerScript = #"""
import duckdb, json, sys, time
mode, root = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
con.execute("SET threads TO 2")
if mode == "report":
    date = "2026-11-22"
    day = f"timestamp >= TIMESTAMPTZ '{date} 00:00:00+00' and timestamp < TIMESTAMPTZ '{date} 00:00:00+00' + interval 1 day"
    con.execute(f"create view logs as select * from read_parquet('{root}/logs/raw/year=2026/month=11/day=22/*/*.parquet', hive_partitioning=true) where {day}")
    con.execute(f"create view ev as select * from read_parquet('{root}/events/activity/year=2026/month=11/day=22/*/*.parquet', hive_partitioning=true) where {day}")
    E = "(coalesce(metadata.status_code, 0) >= 400 or level in ('ERROR','CRITICAL','FATAL'))"
    S = "case when grouping(service) = 1 then 'ALL' else service end"
    PCT, DIV = "quantile_cont", "//"
    queries = [q.format(S=S, E=E, PCT=PCT, DIV=DIV) for q in \#(reportQueries)]
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        for q in queries: con.execute(q).fetchall()
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"name": "duckdb, the report's 8 queries", "seconds": best, "note": f"duckdb {duckdb.__version__}, 2 threads"}), flush=True)
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        con.execute(queries[0]).fetchall()
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"name": "duckdb, per-service table only", "seconds": best, "note": "count, errors, avg/min/max/stddev, quantile_cont p50/p95/p99"}), flush=True)
else:
    q = f"""select timestamp, level, service, host, message, metadata.request_id from read_parquet('{root}/logs/raw/*/*/*/*/*.parquet', hive_partitioning=true)
      where timestamp >= TIMESTAMPTZ '2026-11-23 05:00:00+00' and timestamp < TIMESTAMPTZ '2026-11-23 06:00:00+00'
      and metadata.status_code between 500 and 599 order by timestamp desc, metadata.request_id limit 100"""
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        n = len(con.execute(q).fetchall())
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"name": "duckdb, whole-lake glob + time filter", "seconds": best, "note": f"{n} rows"}), flush=True)
    q2 = q.replace("logs/raw/*/*/*/*/*.parquet", "logs/raw/year=2026/month=11/day=23/hour=5/*.parquet")
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        n = len(con.execute(q2).fetchall())
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"name": "duckdb, the hour's directory only", "seconds": best, "note": f"{n} rows"}), flush=True)
"""#
}
