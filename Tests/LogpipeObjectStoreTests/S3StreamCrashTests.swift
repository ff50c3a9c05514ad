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

/// Lists a store's datasets over and over, as a reader would, noting any key that is not a
/// committed data file in an hour partition.
final class S3ListingWatch: Sendable {
    let stop = Atomic<Bool>(false)
    let foreign = Mutex<[String]>([])
    let listings = Atomic<Int>(0)

    func run(_ store: S3FileStore) async {
        while !stop.load(ordering: .relaxed) {
            for dataset in ["logs/raw", "events/activity"] {
                for file in (try? await store.list(dataset, recursive: true)) ?? [] {
                    let parts = file.path.split(separator: "/")
                    if !(file.name.hasPrefix("part-") && file.name.hasSuffix(".snappy.parquet")) || parts.count != 7 {
                        foreign.withLock { $0.append(file.path) }
                    }
                }
            }
            listings.add(1, ordering: .relaxed)
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
    }
}

@Suite(.serialized) struct S3StreamCrashTests {
    /// `logpipe stream --lake s3://…` is killed with SIGKILL at random moments while records
    /// keep arriving between runs; a last `--once` run finishes. pyarrow (S3 filesystem) and
    /// DuckDB must find every record exactly once, and no listing may show a non-data key.
    @Test func killNineWritingToS3KeepsEveryRecordOnce() async throws {
        let binary = TestEnvironment.logpipeBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "no logpipe binary at \(binary)")
        try await withMoto { server in
            let dir = try TemporaryDirectory(prefix: "s3-kill9")
            defer { dir.remove() }
            let busDir = dir.appending("bus")
            var generator = RecordGenerator(seed: 41)
            var logs = 0
            var events = 0
            var clock = 1_768_183_100.0
            func feed(_ logCount: Int, _ eventCount: Int) async throws {
                let bus = try LocalBus(directory: busDir)
                try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
                try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 3))
                logs += try await LakeTesting.produceLines(bus, topic: "logs.raw", ndjson: generator.logs(count: logCount, start: clock, spacing: 0.05))
                events += try await LakeTesting.produceLines(bus, topic: "events.activity", ndjson: generator.events(count: eventCount, start: clock, spacing: 0.2))
                clock += Double(logCount) * 0.05
                try await bus.close()
            }
            try await feed(8_000, 2_000)
            let store = try s3Store(server, prefix: "crash")
            let watch = S3ListingWatch()
            let watcher = Task { await watch.run(store) }
            defer { watch.stop.store(true, ordering: .relaxed) }

            var environment = ProcessInfo.processInfo.environment
            environment["AWS_ACCESS_KEY_ID"] = server.accessKeyId
            environment["AWS_SECRET_ACCESS_KEY"] = server.secretAccessKey
            environment["AWS_ENDPOINT_URL_S3"] = server.endpoint
            let arguments = ["stream", "--bus", "local:\(busDir)", "--lake", "s3://lake/crash", "--roll-mib", "1",
                             "--roll-seconds", "0.05", "--api-port", "0", "--log-level", "error"]
            func committedFiles() async -> Int {
                (try? await store.list("logs/raw", recursive: true).count) ?? 0
            }
            var kills = 0
            var killedMidway = 0
            var random = SystemRandomNumberGenerator()
            while kills < 6 {
                let before = await committedFiles()
                let child = try ChildProcess(executable: binary, arguments: arguments, environment: environment)
                let deadline = Date().addingTimeInterval(20)
                while await committedFiles() <= before && Date() < deadline {
                    try await Task.sleep(nanoseconds: 5_000_000)
                }
                try await Task.sleep(nanoseconds: UInt64.random(in: 0...80_000_000, using: &random))
                child.kill()
                let status = await child.waitForExit()
                #expect(ChildProcess.killedBySignal(status) == SIGKILL, "run \(kills): \(String(decoding: child.standardError, as: UTF8.self))")
                kills += 1
                let committed = try await LakeListing.partitions(store: store).reduce(0) { $0 + $1.rows }
                if committed > 0 && committed < Int64(logs + events) { killedMidway += 1 }
                try await feed(3_000, 600)
            }
            let last = try ChildProcess(executable: binary, arguments: arguments + ["--once"], environment: environment)
            let status = await last.waitForExit()
            #expect(ChildProcess.exitCode(status) == 0, "\(String(decoding: last.standardError, as: UTF8.self))")
            watch.stop.store(true, ordering: .relaxed)
            await watcher.value
            #expect(killedMidway >= 3, "only \(killedMidway) of \(kills) kills landed with data in flight")
            #expect(watch.listings.load(ordering: .relaxed) > 20)
            #expect(watch.foreign.withLock { $0 }.isEmpty, "listed non-data keys: \(watch.foreign.withLock { $0.prefix(5) })")
            #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
            // `logpipe lake ls` on the same lake, configured through LOGPIPE_* variables alone.
            var logpipeEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
            logpipeEnvironment["LOGPIPE_LAKE_DIR"] = "s3://lake/crash"
            logpipeEnvironment["LOGPIPE_LAKE_S3_ENDPOINT"] = server.endpoint
            logpipeEnvironment["LOGPIPE_LAKE_S3_ACCESS_KEY_ID"] = server.accessKeyId
            logpipeEnvironment["LOGPIPE_LAKE_S3_SECRET_ACCESS_KEY"] = server.secretAccessKey
            let ls = try ChildProcess(executable: binary, arguments: ["lake", "ls"], environment: logpipeEnvironment)
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
