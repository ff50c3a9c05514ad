import Foundation
import Synchronization

/// What the benchmarks share for running peers and timing.
enum Peers {
    /// A peer that exited with an error.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `script` with `python` (pyarrow, duckdb and maybe pyspark installed) and
    /// returns its standard output; its standard error shows as the peer's progress.
    static func runPython(_ python: String, script: String, arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", script] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "python peer exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `executable arguments` to its end and returns its exit status, standard output
    /// and standard error. Both pipes are drained at once: a child that fills one pipe's
    /// buffer (64 KiB) while the other is being read would otherwise block for ever, as
    /// `stream --once` did on small inputs, whose noisy minutes log hundreds of alerts.
    static func capture(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stderr = Mutex(Data())
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            stderr.withLock { $0 = data }
            drained.signal()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return (process.terminationStatus, stdout, stderr.withLock { $0 })
    }

    /// Seconds since `start`, as a double.
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// One raw-to-lake peer's run: the NDJSON at `input` turned into hourly snappy Parquet
    /// under `out`, the whole process timed under `/usr/bin/time`.
    struct LakeRun {
        var name: String
        /// Seconds inside the script (interpreter start-up excluded).
        var seconds: Double
        /// Wall seconds of the whole process, start-up included.
        var processSeconds: Double
        /// Peak RSS of the process, plus Spark's JVM, which pyspark starts but never waits for.
        var rssKiB: Int
        var files: Int
        var hours: Int
        var bytes: Int64
        var note: String
    }

    /// Runs `peer` (duckdb, pyarrow or spark) of `rawToLakeScript`. Spark runs from its own
    /// venv (`scripts/setup spark`; `LOGPIPE_SPARK_PYTHON` overrides), the others with `python`.
    static func rawToLake(_ peer: String, python: String, input: String, out: String, workDir: String) throws -> LakeRun {
        let interpreter = peer == "spark"
            ? ProcessInfo.processInfo.environment["LOGPIPE_SPARK_PYTHON"] ?? ".venv-spark/bin/python" : python
        guard peer != "spark" || FileManager.default.isExecutableFile(atPath: interpreter) else {
            throw Failure(description: "--spark: no \(interpreter) (scripts/setup spark makes it; LOGPIPE_SPARK_PYTHON overrides)")
        }
        let (processSeconds, rss, stdout) = try LateBackfillBench.timed(interpreter, ["-c", rawToLakeScript, peer, input, out, workDir])
        guard let line = stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw Failure(description: "peer \(peer) printed no summary: \(stdout)")
        }
        return LakeRun(name: object["name"] as? String ?? peer, seconds: object["seconds"] as? Double ?? .nan,
                       processSeconds: processSeconds, rssKiB: rss + (object["extra_rss_kib"] as? Int ?? 0), files: object["files"] as? Int ?? 0,
                       hours: object["hours"] as? Int ?? 0, bytes: Int64(object["bytes"] as? Int ?? 0),
                       note: object["note"] as? String ?? "")
    }

    /// Runs one peer (argv: peer, NDJSON, output directory, work directory) and prints one
    /// JSON line: name, seconds inside the script, files, hours, bytes, note.
    static let rawToLakeScript = #"""
import json, os, sys, time, glob
peer, src, out, work = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

def summary(name, seconds, note, extra_rss_kib=0):
    files = [f for f in glob.glob(out + "/**/*.parquet", recursive=True) if "/_" not in f[len(out):] and "/." not in f[len(out):]]
    print(json.dumps({"name": name, "seconds": seconds, "files": len(files), "hours": len({os.path.dirname(f) for f in files}),
                      "bytes": sum(os.path.getsize(f) for f in files), "note": note, "extra_rss_kib": extra_rss_kib}), flush=True)

def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)

if peer == "duckdb":
    import duckdb
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
    summary("duckdb COPY PARTITION_BY", time.perf_counter() - t, "duckdb " + duckdb.__version__)
elif peer == "pyarrow":
    import pyarrow as pa, pyarrow.json as pj, pyarrow.compute as pc, pyarrow.dataset as ds
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
                     file_options=ds.ParquetFileFormat().make_write_options(compression="snappy"),
                     existing_data_behavior="overwrite_or_ignore", max_open_files=1024)
    summary("pyarrow write_dataset", time.perf_counter() - t, "pyarrow " + pa.__version__)
elif peer == "spark":
    import pyspark
    from pyspark.sql import SparkSession, functions as F, types as T
    s = SparkSession.builder.master("local[2]").appName("raw_to_lake").config("spark.ui.enabled", "false") \
        .config("spark.sql.session.timeZone", "UTC").getOrCreate()
    s.sparkContext.setLogLevel("ERROR")
    # The records arrive as a stream: files of 100k records, one micro-batch each, like the seed's job on Kafka.
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
    t = time.perf_counter()
    df = s.readStream.schema(sch).option("maxFilesPerTrigger", 1).json(indir).withColumn("timestamp", F.col("timestamp").cast("timestamp")) \
        .withColumn("year", F.year("timestamp")).withColumn("month", F.month("timestamp")) \
        .withColumn("day", F.dayofmonth("timestamp")).withColumn("hour", F.hour("timestamp"))
    q = df.writeStream.format("parquet").option("path", out).option("checkpointLocation", os.path.join(work, "spark-ckpt")) \
        .partitionBy("year", "month", "day", "hour").trigger(availableNow=True).start()
    q.awaitTermination()
    seconds = time.perf_counter() - t
    # The JVM is pyspark's child, never waited for by it, so /usr/bin/time does not see its memory.
    summary("spark structured streaming local[2]", seconds,
            f"pyspark {pyspark.__version__}, {q.lastProgress and q.lastProgress['batchId'] + 1} micro-batches of 100k; peak RSS: the JVM's + python's",
            peak_rss_kib(s.sparkContext._gateway.proc.pid))
    s.stop()
"""#
}
