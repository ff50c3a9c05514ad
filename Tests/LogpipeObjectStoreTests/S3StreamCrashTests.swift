import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeObjectStore
import LogpipeTesting
import Synchronization
import Testing

/// Reads a lake on S3 with pyarrow's S3 filesystem (DuckDB's httpfs extension is a download,
/// which this machine cannot make) and counts with DuckDB over the Arrow table. Prints JSON:
/// `rows`, `distinct_ids`, `outside_hour`, `files`, `foreign` (non-data keys under the dataset).
let pyarrowS3Check = #"""
import json, sys
import duckdb
import pyarrow.dataset as ds
import pyarrow.fs as pafs
endpoint, bucket_prefix, dataset, id_column, key, secret = sys.argv[1:7]
fs = pafs.S3FileSystem(access_key=key, secret_key=secret, endpoint_override=endpoint, scheme="http", region="us-east-1")
base = f"{bucket_prefix}/{dataset}"
infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
files = [i.path for i in infos if i.type == pafs.FileType.File]
foreign = [p for p in files if not (p.split("/")[-1].startswith("part-") and p.endswith(".snappy.parquet"))]
out = {"files": len(files), "foreign": foreign}
if files:
    table = ds.dataset(base, filesystem=fs, format="parquet", partitioning="hive").to_table()
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.register("t", table)
    out["rows"] = con.execute("select count(*) from t").fetchone()[0]
    out["distinct_ids"] = con.execute(f"select count(distinct {id_column}) from t").fetchone()[0]
    out["outside_hour"] = con.execute("""select count(*) from t
        where make_timestamptz(year, month, day, hour, 0, 0, 'UTC') > timestamp
           or make_timestamptz(year, month, day, hour, 0, 0, 'UTC') + interval 1 hour <= timestamp""").fetchone()[0]
else:
    out.update(rows=0, distinct_ids=0, outside_hour=0)
print(json.dumps(out))
"""#

@Suite(.serialized) struct S3StreamCrashTests {
    /// `logpipe stream --lake s3://…` is killed with SIGKILL at random moments while records
    /// keep arriving between runs; a last `--once` run finishes. pyarrow (S3 filesystem) and
    /// DuckDB must find every record exactly once, and no listing may show a non-data key.
    @Test func killNineWritingToS3KeepsEveryRecordOnce() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestEnvironment.logpipeBinary),
                     "no logpipe binary at \(TestEnvironment.logpipeBinary) (set LOGPIPE_BIN)")
        try await MotoS3Server.withLakeBucket { server in
            let dir = try TemporaryDirectory(prefix: "s3-kill9")
            defer { dir.remove() }
            var drill = KillNineDrill(busDirectory: dir.appending("bus"), seed: 41)
            try await drill.feed(logs: 8_000, events: 2_000)
            let store = try server.store(prefix: "crash")
            let watch = ListingWatch()
            let watcher = Task { await watch.run(store) }

            var environment = ProcessInfo.processInfo.environment
            environment["AWS_ACCESS_KEY_ID"] = server.accessKeyId
            environment["AWS_SECRET_ACCESS_KEY"] = server.secretAccessKey
            environment["AWS_ENDPOINT_URL_S3"] = server.endpoint
            let arguments = ["stream", "--bus", "local:\(drill.busDirectory)", "--lake", "s3://lake/crash", "--roll-mib", "1",
                             "--roll-seconds", "0.05", "--api-port", "0", "--log-level", "error"]
            let outcome = try await drill.killRepeatedly(6, arguments: arguments, environment: environment, store: store,
                                                         maxDelay: 0.08, firstCommitTimeout: 20, refill: (logs: 3_000, events: 600))
            let failure = try await drill.finish(arguments: arguments, environment: environment)
            watch.stop()
            await watcher.value
            #expect(outcome.unexpectedExits.isEmpty, "\(outcome.unexpectedExits)")
            #expect(failure == nil, "\(failure ?? "")")
            #expect(outcome.killedMidway >= 3, "only \(outcome.killedMidway) of \(outcome.kills) kills landed with data in flight")
            #expect(watch.listings > 20)
            #expect(watch.foreign.isEmpty, "listed non-data keys: \(watch.foreign.prefix(5))")
            #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
            let (logs, events) = (drill.logs, drill.events)
            // `logpipe lake ls` on the same lake, configured through LOGPIPE_* variables alone.
            var logpipeEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
            logpipeEnvironment["LOGPIPE_LAKE_DIR"] = "s3://lake/crash"
            logpipeEnvironment["LOGPIPE_LAKE_S3_ENDPOINT"] = server.endpoint
            logpipeEnvironment["LOGPIPE_LAKE_S3_ACCESS_KEY_ID"] = server.accessKeyId
            logpipeEnvironment["LOGPIPE_LAKE_S3_SECRET_ACCESS_KEY"] = server.secretAccessKey
            let ls = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: ["lake", "ls"], environment: logpipeEnvironment)
            #expect(ChildProcess.exitCode(await ls.waitForExit()) == 0, "\(String(decoding: ls.standardError, as: UTF8.self))")
            #expect(String(decoding: ls.standardOutput, as: UTF8.self).contains(" files, \(logs + events) rows"),
                    "\(String(decoding: ls.standardOutput, as: UTF8.self))")
            for (dataset, id, expected) in [("logs/raw", "metadata.request_id", logs), ("events/activity", "event_id", events)] {
                let result = try await LakeTesting.runPython(pyarrowS3Check, arguments: [
                    "127.0.0.1:\(server.port)", "lake/crash", dataset, id, server.accessKeyId, server.secretAccessKey])
                let check = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
                #expect(check["rows"] as? Int == expected, "\(dataset): \(result.error)")
                #expect(check["distinct_ids"] as? Int == expected, "\(dataset)")
                #expect(check["outside_hour"] as? Int == 0, "\(dataset)")
                #expect((check["foreign"] as? [Any])?.isEmpty == true, "\(dataset): \(check["foreign"] ?? "")")
            }
        }
    }
}
