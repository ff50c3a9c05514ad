import Foundation
import Logging
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeStream

/// `logpipe bench lake`: bus → lake, the stream job of issue 4, against its peers on the
/// same records in the same run.
///
/// `records` generated log records (contract JSON, event time spread over about five
/// hours) are put on a fresh `LocalBus` (`logs.raw`, 3 partitions; not timed) and written
/// as NDJSON for the peers. Timed:
/// - Logpipe: a `StreamWorker` reads the bus to its end and commits the hourly lake
///   (parse, Parquet snappy, fsync, commit log, renames), default 128 MiB rolls;
/// - DuckDB: `COPY (SELECT … FROM read_json(NDJSON with the contract's columns)) TO …
///   (FORMAT parquet, PARTITION_BY (year, month, day, hour), COMPRESSION snappy)`;
/// - pyarrow: `pyarrow.json.read_json` with the same schema, partition columns computed,
///   `pyarrow.dataset.write_dataset` with hive partitioning;
/// - Spark Structured Streaming, when `pyspark` imports: the seed's job (file source of
///   JSON lines, 100k records per file and one file per micro-batch → `partitionBy` parquet
///   sink with a checkpoint, `local[2]`, trigger `availableNow`).
/// Each reports records/s, files, files per hour and mean file size.
public enum LakeBench {
    /// Runs the benchmark in `workDir` (emptied first) and returns a text report.
    public static func run(records: Int = 1_000_000, workDir: String, python: String = "python3",
                           spark: Bool = true) async throws -> String {
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        var generator = RecordGenerator(seed: 20_260_112)
        let spacing = 5 * 3600.0 / Double(max(1, records))
        let ndjson = generator.logs(count: records, start: 1_768_183_100, spacing: spacing)
        let input = workDir + "/input.ndjson"
        try Data(ndjson).write(to: URL(fileURLWithPath: input))

        let bus = try LocalBus(directory: workDir + "/bus")
        try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
        var batch = ProduceBatch()
        var start = 0
        var produced = 0
        while start < ndjson.count {
            let end = ndjson[start...].firstIndex(of: UInt8(ascii: "\n")) ?? ndjson.count
            batch.append(key: nil as [UInt8]?, value: ndjson[start..<end], partition: Int32(produced % 3))
            produced += 1
            if batch.count == 10_000 {
                _ = try await bus.produce(topic: "logs.raw", batch: batch)
                batch = ProduceBatch()
            }
            start = end + 1
        }
        if batch.count > 0 { _ = try await bus.produce(topic: "logs.raw", batch: batch) }

        let store = try LocalFileStore(root: workDir + "/lake")
        var configuration = StreamConfiguration(sources: [.init(topic: "logs.raw", kind: .logs)])
        configuration.compaction = nil
        var quiet = Logger(label: "logpipe.bench.lake")
        quiet.logLevel = .warning
        let worker = StreamWorker(bus: bus, store: store, configuration: configuration, logger: quiet)
        let began = ContinuousClock.now
        let stats = try await worker.runUntilCaughtUp()
        let elapsed = began.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        try await bus.close()
        let partitions = try await LakeListing.partitions(store: store, datasets: [.logs])
        let rows = partitions.reduce(Int64(0)) { $0 + $1.rows }
        guard rows == Int64(records), stats.records == Int64(records) else {
            throw LakeBenchError.mismatch("the lake holds \(rows) rows of \(records)")
        }
        let ours = Peer(name: "logpipe stream", seconds: seconds, files: partitions.reduce(0) { $0 + $1.files },
                        hours: partitions.count, bytes: partitions.reduce(Int64(0)) { $0 + $1.bytes }, note: "")

        var peers = [ours]
        let result = try Peers.runPython(python, script: peerScript, arguments: [input, workDir, String(records), spark ? "1" : "0"])
        for line in result.split(separator: "\n") where line.hasPrefix("{") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let name = object["name"] as? String else { continue }
            if let error = object["error"] as? String {
                peers.append(Peer(name: name, seconds: .nan, files: 0, hours: 0, bytes: 0, note: error))
                continue
            }
            peers.append(Peer(name: name, seconds: object["seconds"] as? Double ?? .nan, files: object["files"] as? Int ?? 0,
                              hours: object["hours"] as? Int ?? 0, bytes: Int64(object["bytes"] as? Int ?? 0),
                              note: object["note"] as? String ?? ""))
        }

        var out = "lake bench: \(records) log records (\(ndjson.count / 1_000_000) MB NDJSON, ~5 h of event time) → hourly snappy Parquet\n"
        out += "  \("peer".padding(toLength: 36, withPad: " ", startingAt: 0))  seconds   records/s  files  files/hour  mean file MB  vs logpipe\n"
        for p in peers {
            if p.seconds.isNaN {
                out += "  \(p.name.padding(toLength: 36, withPad: " ", startingAt: 0))  not run: \(p.note)\n"
                continue
            }
            let rate = Double(records) / p.seconds
            let perHour = p.hours > 0 ? Double(p.files) / Double(p.hours) : 0
            let mean = p.files > 0 ? Double(p.bytes) / Double(p.files) / 1e6 : 0
            out += "  " + p.name.padding(toLength: 36, withPad: " ", startingAt: 0)
            out += String(format: "  %7.2f  %10.0f  %5d  %10.1f  %12.2f  %8.2fx", p.seconds, rate, p.files, perHour, mean,
                          ours.seconds / p.seconds)
            out += p.note.isEmpty ? "\n" : "  (\(p.note))\n"
        }
        out += "  logpipe: \(stats.commits) commits, bus → parse → Parquet → fsync → commit log → rename, 3 partitions in parallel\n"
        return out
    }

    struct Peer {
        var name: String
        var seconds: Double
        var files: Int
        var hours: Int
        var bytes: Int64
        var note: String
    }

    /// Prints one JSON line per peer: name, seconds, files, hours, bytes.
    static let peerScript = #"""
import json, os, sys, time, glob
src, work, n, spark = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"

def summary(name, root, seconds, note=""):
    files = [f for f in glob.glob(root + "/**/*.parquet", recursive=True) if "/_" not in f[len(root):] and "/." not in f[len(root):]]
    hours = {os.path.dirname(f) for f in files}
    print(json.dumps({"name": name, "seconds": seconds, "files": len(files), "hours": len(hours),
                      "bytes": sum(os.path.getsize(f) for f in files), "note": note}), flush=True)

import duckdb
out = os.path.join(work, "duckdb")
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
t = time.perf_counter()
con.execute(f"""COPY (SELECT to_timestamp("timestamp") AS "timestamp", level, service, host, message, metadata,
      year(to_timestamp("timestamp")) AS year, month(to_timestamp("timestamp")) AS month,
      day(to_timestamp("timestamp")) AS day, hour(to_timestamp("timestamp")) AS hour
    FROM read_json('{src}', format='newline_delimited', columns={{
      'timestamp': 'DOUBLE', 'level': 'VARCHAR', 'service': 'VARCHAR', 'host': 'VARCHAR', 'message': 'VARCHAR',
      'metadata': 'STRUCT(request_id VARCHAR, response_time_ms DOUBLE, status_code INTEGER, endpoint VARCHAR, method VARCHAR, client_ip VARCHAR, user_id VARCHAR)'}}))
  TO '{out}' (FORMAT parquet, PARTITION_BY (year, month, day, hour), COMPRESSION snappy)""")
summary("duckdb COPY PARTITION_BY", out, time.perf_counter() - t, "duckdb " + duckdb.__version__)

import pyarrow as pa, pyarrow.json as pj, pyarrow.compute as pc, pyarrow.dataset as ds
out = os.path.join(work, "pyarrow")
schema = pa.schema([("timestamp", pa.float64()), ("level", pa.string()), ("service", pa.string()), ("host", pa.string()),
    ("message", pa.string()), ("metadata", pa.struct([("request_id", pa.string()), ("response_time_ms", pa.float64()),
    ("status_code", pa.int32()), ("endpoint", pa.string()), ("method", pa.string()), ("client_ip", pa.string()),
    ("user_id", pa.string())]))])
t = time.perf_counter()
table = pj.read_json(src, parse_options=pj.ParseOptions(explicit_schema=schema))
ts = pc.cast(pc.multiply(table["timestamp"], 1e6), pa.int64()).cast(pa.timestamp("us", tz="UTC"))
table = table.set_column(0, "timestamp", ts)
for unit in ["year", "month", "day", "hour"]:
    table = table.append_column(unit, getattr(pc, unit)(ts))
ds.write_dataset(table, out, format="parquet", partitioning=["year", "month", "day", "hour"], partitioning_flavor="hive",
                 file_options=ds.ParquetFileFormat().make_write_options(compression="snappy"), existing_data_behavior="overwrite_or_ignore")
summary("pyarrow write_dataset", out, time.perf_counter() - t, "pyarrow " + pa.__version__)

if spark:
    try:
        import pyspark
        from pyspark.sql import SparkSession, functions as F, types as T
    except ImportError:
        print(json.dumps({"name": "spark structured streaming", "error": "pyspark is not installed"}), flush=True)
        spark = False
if spark:
    s = SparkSession.builder.master("local[2]").appName("raw_to_lake").config("spark.ui.enabled", "false") \
        .config("spark.sql.session.timeZone", "UTC").getOrCreate()
    s.sparkContext.setLogLevel("ERROR")
    # The input arrives as a stream: files of 100k records, one micro-batch each (maxFilesPerTrigger=1),
    # like the seed's job consuming Kafka batch after batch.
    indir = os.path.join(work, "spark-in"); os.makedirs(indir, exist_ok=True)
    with open(src, "rb") as f:
        part, lines = 0, []
        for line in f:
            lines.append(line)
            if len(lines) == 100_000:
                with open(os.path.join(indir, f"part-{part:05d}.json"), "wb") as o: o.writelines(lines)
                part, lines = part + 1, []
        if lines:
            with open(os.path.join(indir, f"part-{part:05d}.json"), "wb") as o: o.writelines(lines)
    meta = T.StructType([T.StructField("request_id", T.StringType()), T.StructField("response_time_ms", T.DoubleType()),
        T.StructField("status_code", T.IntegerType()), T.StructField("endpoint", T.StringType()), T.StructField("method", T.StringType()),
        T.StructField("client_ip", T.StringType()), T.StructField("user_id", T.StringType())])
    sch = T.StructType([T.StructField("timestamp", T.DoubleType()), T.StructField("level", T.StringType()),
        T.StructField("service", T.StringType()), T.StructField("host", T.StringType()), T.StructField("message", T.StringType()),
        T.StructField("metadata", meta)])
    out = os.path.join(work, "spark")
    t = time.perf_counter()
    df = s.readStream.schema(sch).option("maxFilesPerTrigger", 1).json(indir).withColumn("timestamp", F.col("timestamp").cast("timestamp")) \
        .withColumn("year", F.year("timestamp")).withColumn("month", F.month("timestamp")) \
        .withColumn("day", F.dayofmonth("timestamp")).withColumn("hour", F.hour("timestamp"))
    q = df.writeStream.format("parquet").option("path", out).option("checkpointLocation", os.path.join(work, "spark-ckpt")) \
        .partitionBy("year", "month", "day", "hour").trigger(availableNow=True).start()
    q.awaitTermination()
    summary("spark structured streaming local[2]", out, time.perf_counter() - t,
            f"pyspark {pyspark.__version__}, {q.lastProgress and q.lastProgress['batchId'] + 1} micro-batches of 100k")
    s.stop()
"""#
}

/// Why the lake benchmark could not produce a result.
public enum LakeBenchError: Error, CustomStringConvertible {
    /// The lake does not hold what was produced.
    case mismatch(String)

    public var description: String {
        switch self {
        case .mismatch(let s): "lake bench: \(s)"
        }
    }
}
