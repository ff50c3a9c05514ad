import Foundation
import Logging
import Synchronization
import LogpipeAnalytics
import LogpipeGenerator
import LogpipeRecords

/// `logpipe bench analytics`: windowed-metrics throughput of the stream analytics
/// against DuckDB (and Spark Structured Streaming when asked) on the same records in
/// the same run.
///
/// `records` generated log records (1000 per second of event time) are written as
/// NDJSON. Timed:
/// - Logpipe, aggregation: the records parsed once into `LogBatch`es of 64 Ki rows (not
///   timed), then `StreamAnalytics` over them: every family of the seed (per service
///   and minute with p50/p95/p99, per client IP and 5 minutes, per IP and minute for
///   DDoS, system-wide per minute), watermarks, the detectors, and closing all windows;
/// - Logpipe, parse + aggregation: the same from the NDJSON bytes;
/// - Logpipe, parse only: the NDJSON bytes into one refilled batch, nothing aggregated;
/// - Logpipe, parse on 2 threads + aggregation: the same with two threads parsing
///   alternate batches (a few ahead) while the aggregation takes them in order as they are
///   ready;
/// - DuckDB, read + aggregate: `read_json` of the NDJSON and the per-service-minute
///   aggregation (count, avg, min, max, stddev, errors, successes, fast requests,
///   `approx_quantile` p50/p95/p99) in one query;
/// - DuckDB, aggregate only: the same query over a table loaded beforehand (not timed);
/// - Spark Structured Streaming (`spark: true`, pyspark, `local[2]`): file source of the
///   NDJSON, `withWatermark("ts", "5 minutes")`, the same aggregation per 1-minute window
///   and service, append mode into the `noop` sink, trigger `availableNow` (JVM start excluded).
/// Logpipe computes more than the peers (four window families and detectors, against
/// one), so the ratios understate it.
public enum AnalyticsBench {
    /// Runs the benchmark in `workDir` (emptied first) and returns a text report.
    public static func run(records: Int = 1_000_000, workDir: String, python: String = "python3",
                           spark: Bool = false) throws -> String {
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir + "/input", withIntermediateDirectories: true)
        var generator = RecordGenerator(seed: 20_260_112)
        let ndjson = generator.logs(count: records, start: 1_768_183_100, spacing: 0.001)
        let input = workDir + "/input/logs.ndjson"
        try Data(ndjson).write(to: URL(fileURLWithPath: input))

        var reader = JSONBodyReader()
        // The batches' line ranges, found once and outside every timing: a stream worker gets
        // its records framed by the bus.
        let ranges = batchRanges(ndjson)
        let batches = try parseBatches(ndjson, ranges, reader: &reader)
        guard batches.reduce(0, { $0 + $1.count }) == records else { throw AnalyticsBenchError.mismatch("parsed row count") }

        let logger = Logger(label: "logpipe.bench.analytics", factory: { _ in SwiftLogNoOpLogHandler() })
        // Best of three: the machine is shared.
        var aggregateSeconds = Double.infinity
        var windows = 0
        for _ in 0..<3 {
            var analytics = StreamAnalytics(logger: logger)
            let began = ContinuousClock.now
            var emitted = 0
            for batch in batches { emitted += analytics.process(logs: batch).services.count }
            emitted += analytics.finish().services.count
            aggregateSeconds = min(aggregateSeconds, Peers.seconds(since: began))
            windows = emitted
        }
        var parseSeconds = Double.infinity
        for _ in 0..<2 {
            var analytics = StreamAnalytics(logger: logger)
            let began = ContinuousClock.now
            // One batch, emptied and refilled: parsing into memory already touched, as a
            // stream worker reusing its buffers does.
            var batch = LogBatch()
            for range in ranges {
                batch.removeAll(keepingCapacity: true)
                try parse(ndjson, range, reader: &reader, into: &batch)
                _ = analytics.process(logs: batch)
            }
            _ = analytics.finish()
            parseSeconds = min(parseSeconds, Peers.seconds(since: began))
        }
        // Parsing alone into one refilled batch (best of three): the parse's part of the run above.
        var parseOnlySeconds = Double.infinity
        var refilled = LogBatch()
        for _ in 0..<3 {
            let began = ContinuousClock.now
            for range in ranges {
                refilled.removeAll(keepingCapacity: true)
                try parse(ndjson, range, reader: &reader, into: &refilled)
            }
            parseOnlySeconds = min(parseOnlySeconds, Peers.seconds(since: began))
        }
        var overlappedSeconds = Double.infinity
        // Kept across the runs, as the single-threaded runs' refilled batch is.
        let spare = SpareBatches()
        for _ in 0..<2 {
            let began = ContinuousClock.now
            let rows = try parseAndAggregateOverlapped(ndjson, ranges, logger: logger, spare: spare)
            overlappedSeconds = min(overlappedSeconds, Peers.seconds(since: began))
            guard rows == records else { throw AnalyticsBenchError.mismatch("overlapped run saw \(rows) rows") }
        }

        var peers: [(String, Double, String)] = []
        let result = try Peers.runPython(python, script: peerScript, arguments: [input, workDir, spark ? "1" : "0"])
        for line in result.split(separator: "\n") where line.hasPrefix("{") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let name = object["name"] as? String else { continue }
            peers.append((name, object["seconds"] as? Double ?? .nan, object["error"] as? String ?? object["note"] as? String ?? ""))
        }

        var out = "analytics bench: \(records) log records (\(ndjson.count / 1_000_000) MB NDJSON, \(records / 60_000) min of event time), "
        out += "\(windows) service-minute windows\n"
        out += "  \("run".padding(toLength: 44, withPad: " ", startingAt: 0))  seconds   records/s  peer time / logpipe aggregation time\n"
        func line(_ name: String, _ s: Double, _ note: String = "") {
            if s.isNaN {
                out += "  \(name.padding(toLength: 44, withPad: " ", startingAt: 0))  not run: \(note)\n"
                return
            }
            out += "  " + name.padding(toLength: 44, withPad: " ", startingAt: 0)
            out += String(format: "  %7.3f  %10.0f  %7.2fx", s, Double(records) / s, s / aggregateSeconds)
            out += note.isEmpty ? "\n" : "  (\(note))\n"
        }
        line("logpipe analytics (parsed batches)", aggregateSeconds)
        line("logpipe parse only (from NDJSON)", parseOnlySeconds)
        line("logpipe parse + analytics (from NDJSON)", parseSeconds)
        line("logpipe parse on 2 threads + analytics", overlappedSeconds)
        for (name, s, note) in peers { line(name, s, note) }
        return out
    }

    /// Batches parsed ahead of the aggregation in `parseAndAggregateOverlapped`.
    static let parseAhead = 4

    /// Parse and aggregation overlapped, from the NDJSON bytes: two threads parse alternate
    /// batches while this one aggregates them in order as each becomes ready (rows must reach
    /// the windows in order; parsing has no such constraint), its families on two threads
    /// as `logpipe stream`'s analytics does with a large batch. Parsing runs at most
    /// `parseAhead` batches ahead, into batches from `spare`, where the aggregated ones go
    /// back: as a stream worker refills its parse chunks, parsing writes into memory
    /// already mapped (fresh 64 Ki-row batches cost ~23,000 page faults per million records,
    /// 0.33 s of the parsing threads' CPU against 0.28 s refilled). `ranges` are the
    /// batches' line ranges (`batchRanges`). Returns the rows aggregated.
    static func parseAndAggregateOverlapped(_ ndjson: [UInt8], _ ranges: [Range<Int>], logger: Logger,
                                            spare: SpareBatches) throws -> Int {
        let parsed = ranges.map { _ in ParsedSlot() }
        let ready = ranges.map { _ in DispatchSemaphore(value: 0) }
        // Batch i may be parsed once batch i - parseAhead is aggregated: per batch, not one
        // counting semaphore, so a parser cannot take a later batch's turn while the
        // aggregation waits for an earlier one. (Semaphores start at 0: libdispatch refuses
        // to free one left below its initial value.)
        let mayParse = ranges.map { _ in DispatchSemaphore(value: 0) }
        for i in mayParse.indices.prefix(parseAhead) { mayParse[i].signal() }
        let threads = 2
        for t in 0..<threads {
            Thread.detachNewThread {
                var reader = JSONBodyReader()
                for i in stride(from: t, to: ranges.count, by: threads) {
                    mayParse[i].wait()
                    let result = Result { () throws -> LogBatch in
                        var batch = spare.take()
                        try parse(ndjson, ranges[i], reader: &reader, into: &batch)
                        return batch
                    }
                    parsed[i].value.withLock { $0 = result }
                    ready[i].signal()
                }
            }
        }
        var analytics = StreamAnalytics(logger: logger)
        var rows = 0
        var allowed = min(parseAhead, ranges.count)
        // On a failed batch, the parsers still waiting for their turn are let go.
        defer { for i in allowed..<ranges.count { mayParse[i].signal() } }
        for i in ranges.indices {
            ready[i].wait()
            var batch = try parsed[i].value.withLock { slot in
                defer { slot = nil }
                return try slot!.get()
            }
            rows += batch.count
            _ = analytics.process(logs: batch)
            batch.removeAll(keepingCapacity: true)
            spare.put(batch)
            if allowed < ranges.count {
                mayParse[allowed].signal()
                allowed += 1
            }
        }
        _ = analytics.finish()
        return rows
    }

    /// Parses the NDJSON lines in `range` into `batch`, which must accept every one.
    static func parse(_ ndjson: [UInt8], _ range: Range<Int>, reader: inout JSONBodyReader,
                      into batch: inout LogBatch) throws {
        let outcome = try ndjson.withUnsafeBytes { bytes in
            try reader.readLogs(body: UnsafeRawBufferPointer(rebasing: bytes[range]), into: &batch)
        }
        guard outcome.errors.isEmpty else { throw AnalyticsBenchError.mismatch("invalid generated records") }
    }

    /// The byte ranges of 64 Ki-line batches of `ndjson` (newlines found with `memchr`).
    static func batchRanges(_ ndjson: [UInt8]) -> [Range<Int>] {
        ndjson.withUnsafeBytes { bytes -> [Range<Int>] in
            guard let base = bytes.baseAddress else { return [] }
            var out: [Range<Int>] = []
            var start = 0, lines = 0, batchStart = 0
            let count = bytes.count
            while start < count {
                let hit = memchr(base + start, Int32(UInt8(ascii: "\n")), count - start)
                let end = hit.map { base.distance(to: UnsafeRawPointer($0)) } ?? count
                lines += 1
                start = end + 1
                if lines == 65_536 || start >= count {
                    out.append(batchStart..<min(start, count))
                    lines = 0
                    batchStart = start
                }
            }
            return out
        }
    }

    static func parseBatches(_ ndjson: [UInt8], _ ranges: [Range<Int>], reader: inout JSONBodyReader) throws -> [LogBatch] {
        var batches: [LogBatch] = []
        for range in ranges {
            var batch = LogBatch()
            try parse(ndjson, range, reader: &reader, into: &batch)
            batches.append(batch)
        }
        return batches
    }


    /// Prints one JSON line per peer: name, seconds (best of three for DuckDB), note or error.
    static let peerScript = #"""
import json, sys, time
src, work, spark = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
AGG = """count(*) as n, avg(rt) as avg_rt, min(rt) as min_rt, max(rt) as max_rt, stddev_samp(rt) as sd_rt,
  count(*) filter (where status >= 400) as errors, count(*) filter (where status between 200 and 299) as ok,
  count(*) filter (where rt < 1000) as fast, approx_quantile(rt, [0.5, 0.95, 0.99]) as q"""
try:
    import duckdb
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    read = f"""select floor(timestamp / 60)::BIGINT as w, service, metadata.response_time_ms as rt, metadata.status_code as status
      from read_json('{src}', format='newline_delimited', columns={{'timestamp': 'DOUBLE', 'service': 'VARCHAR',
      'metadata': 'STRUCT(response_time_ms DOUBLE, status_code INTEGER)'}})"""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        rows = con.execute(f"select w, service, {AGG} from ({read}) group by all").fetchall()
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"name": "duckdb read_json + aggregate", "seconds": best, "note": f"{len(rows)} windows, duckdb {duckdb.__version__}"}), flush=True)
    con.execute(f"create table logs as {read}")
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        con.execute(f"select w, service, {AGG} from logs group by all").fetchall()
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"name": "duckdb aggregate (table in memory)", "seconds": best}), flush=True)
except Exception as e:
    print(json.dumps({"name": "duckdb", "error": str(e)[:200]}), flush=True)
if spark:
    try:
        import os
        from pyspark.sql import SparkSession, functions as F, types as T
        s = SparkSession.builder.master("local[2]").appName("logpipe-analytics-bench") \
            .config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false").getOrCreate()
        s.sparkContext.setLogLevel("ERROR")
        schema = T.StructType([T.StructField("timestamp", T.DoubleType()), T.StructField("service", T.StringType()),
            T.StructField("metadata", T.StructType([T.StructField("response_time_ms", T.DoubleType()),
                                                    T.StructField("status_code", T.IntegerType())]))])
        df = s.readStream.schema(schema).json(os.path.dirname(src)) \
            .select(F.col("timestamp").cast("timestamp").alias("ts"), "service",
                    F.col("metadata.response_time_ms").alias("rt"), F.col("metadata.status_code").alias("status"))
        agg = df.withWatermark("ts", "5 minutes").groupBy(F.window("ts", "1 minute"), "service").agg(
            F.count("*").alias("n"), F.avg("rt"), F.min("rt"), F.max("rt"), F.stddev("rt"),
            F.sum(F.when(F.col("status") >= 400, 1).otherwise(0)), F.sum(F.when(F.col("status").between(200, 299), 1).otherwise(0)),
            F.sum(F.when(F.col("rt") < 1000, 1).otherwise(0)), F.percentile_approx("rt", [0.5, 0.95, 0.99]))
        t = time.perf_counter()
        q = agg.writeStream.outputMode("append").format("noop").option("checkpointLocation", work + "/spark-checkpoint") \
            .trigger(availableNow=True).start()
        q.awaitTermination()
        print(json.dumps({"name": "spark structured streaming (local[2])", "seconds": time.perf_counter() - t,
                          "note": "pyspark " + s.version}), flush=True)
        s.stop()
    except Exception as e:
        print(json.dumps({"name": "spark structured streaming", "error": str(e)[:200]}), flush=True)
"""#
}

/// One batch handed from a parsing thread to the aggregating one.
private final class ParsedSlot: Sendable {
    let value = Mutex<Result<LogBatch, any Error>?>(nil)
}

/// Emptied batches handed back from the aggregating thread to the parsing ones.
final class SpareBatches: Sendable {
    let batches = Mutex<[LogBatch]>([])

    /// An emptied batch with its capacity, or a new one.
    func take() -> LogBatch { batches.withLock { $0.popLast() } ?? LogBatch() }

    /// Hands an emptied batch back.
    func put(_ batch: LogBatch) { batches.withLock { $0.append(batch) } }
}

/// Why the analytics benchmark stopped.
public enum AnalyticsBenchError: Error, CustomStringConvertible {
    /// The run did not process what it should have.
    case mismatch(String)

    /// A readable explanation.
    public var description: String {
        switch self {
        case .mismatch(let why): "analytics bench: \(why)"
        }
    }
}
