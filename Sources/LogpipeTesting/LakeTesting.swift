import Foundation
import LogpipeBus

/// What the lake and stream tests share: putting generated records on a bus and asking
/// DuckDB (through the test Python) about a lake.
public enum LakeTesting {
    /// Produces each non-empty line of `ndjson` as one record of `topic`, spread over its
    /// partitions round-robin (record `i` to partition `i % partitions`), in produce calls
    /// of `chunk` records. Returns the number of records produced.
    @discardableResult
    public static func produceLines(_ bus: any Bus, topic: String, ndjson: [UInt8], chunk: Int = 5_000) async throws -> Int {
        let partitions = try await bus.partitionCount(topic: topic)
        var batch = ProduceBatch()
        var produced = 0
        var start = 0
        func flush() async throws {
            if batch.count > 0 {
                _ = try await bus.produce(topic: topic, batch: batch)
                batch = ProduceBatch()
            }
        }
        while start < ndjson.count {
            let end = ndjson[start...].firstIndex(of: UInt8(ascii: "\n")) ?? ndjson.count
            if end > start {
                batch.append(key: nil as [UInt8]?, value: ndjson[start..<end], partition: Int32(produced % Int(partitions)))
                produced += 1
                if batch.count >= chunk { try await flush() }
            }
            start = end + 1
        }
        try await flush()
        return produced
    }

    /// The result of a Python run.
    public struct PythonResult: Sendable {
        /// The exit code (`nil` when a signal ended it).
        public var exitCode: Int32?
        /// Standard output.
        public var output: String
        /// Standard error.
        public var error: String
    }

    /// Runs a Python script with `TestEnvironment.requirePython()` (pyarrow and duckdb available),
    /// passing `arguments` as `sys.argv[1...]`.
    public static func runPython(_ script: String, arguments: [String] = []) async throws -> PythonResult {
        let directory = try TemporaryDirectory(prefix: "logpipe-py")
        defer { directory.remove() }
        let path = directory.appending("script.py")
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        let child = try ChildProcess(executable: try TestEnvironment.requirePython(), arguments: [path] + arguments)
        let status = await child.waitForExit()
        return PythonResult(exitCode: ChildProcess.exitCode(status),
                            output: String(decoding: child.standardOutput, as: UTF8.self),
                            error: String(decoding: child.standardError, as: UTF8.self))
    }

    /// A DuckDB check of a lake's dataset (`logs/raw` or `events/activity`), printed as one
    /// JSON object: `rows`, `distinct_ids` (of `idColumn`), `outside_hour` (rows whose
    /// timestamp is not in their partition's hour), `files`, `schema` (DuckDB's
    /// `DESCRIBE` with hive partitioning: name → type) and `arrow_schema` (pyarrow's
    /// dataset schema with hive partitioning, as strings).
    public static let duckDBLakeCheck = #"""
import json, sys, os, glob
import duckdb
import pyarrow.dataset as ds
root, dataset, id_column = sys.argv[1], sys.argv[2], sys.argv[3]
base = os.path.join(root, dataset)
files = [f for f in glob.glob(base + "/**/*.parquet", recursive=True)]
out = {"files": len(files)}
if files:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    src = f"read_parquet('{base}/*/*/*/*/*.parquet', hive_partitioning=true)"
    out["rows"] = con.execute(f"select count(*) from {src}").fetchone()[0]
    out["distinct_ids"] = con.execute(f"select count(distinct {id_column}) from {src}").fetchone()[0]
    out["outside_hour"] = con.execute(f"""select count(*) from {src}
        where make_timestamptz(year, month, day, hour, 0, 0, 'UTC') > timestamp
           or make_timestamptz(year, month, day, hour, 0, 0, 'UTC') + interval 1 hour <= timestamp""").fetchone()[0]
    out["schema"] = {r[0]: r[1] for r in con.execute(f"describe select * from {src}").fetchall()}
    out["arrow_schema"] = {f.name: str(f.type) for f in ds.dataset(base, format="parquet", partitioning="hive").schema}
else:
    out.update(rows=0, distinct_ids=0, outside_hour=0, schema={}, arrow_schema={})
print(json.dumps(out))
"""#
}
