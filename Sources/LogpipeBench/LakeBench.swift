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
/// - with `spark`, Spark Structured Streaming: the seed's job (file source of JSON lines,
///   100k records per file and one file per micro-batch → `partitionBy` parquet sink with a
///   checkpoint, `local[2]`, trigger `availableNow`).
/// The peers are `Peers.rawToLakeScript`, as in `ProductBench`, timed inside the script.
/// Each reports records/s, files, files per hour and mean file size.
public enum LakeBench {
    /// Runs the benchmark in `workDir` (emptied first) and returns a text report.
    public static func run(records: Int = 1_000_000, workDir: String, python: String = "python3",
                           spark: Bool = false) async throws -> String {
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
        let ours = Peers.LakeRun(name: "logpipe stream", seconds: seconds, processSeconds: seconds, rssKiB: 0,
                                 files: partitions.reduce(0) { $0 + $1.files }, hours: partitions.count,
                                 bytes: partitions.reduce(Int64(0)) { $0 + $1.bytes }, note: "")

        var peers = [ours]
        for peer in ["duckdb", "pyarrow"] + (spark ? ["spark"] : []) {
            peers.append(try Peers.rawToLake(peer, python: python, input: input, out: workDir + "/" + peer, workDir: workDir))
        }

        var out = "lake bench: \(records) log records (\(ndjson.count / 1_000_000) MB NDJSON, ~5 h of event time) → hourly snappy Parquet\n"
        out += "  \("peer".padding(toLength: 36, withPad: " ", startingAt: 0))  seconds   records/s  files  files/hour  mean file MB  vs logpipe\n"
        for p in peers {
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
