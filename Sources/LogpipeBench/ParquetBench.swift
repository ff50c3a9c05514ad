import Foundation
import LogpipeGenerator
import LogpipeLake
import LogpipeParquet
import LogpipeRecords

/// `logpipe bench parquet`: encodes a 1M-row log batch to snappy Parquet with LogpipeParquet
/// and compares, in the same run on the same machine, with pyarrow writing the same table
/// with the same options (snappy, dictionary, 1 MiB pages), then compares decoding speed.
///
/// The batch is built in memory first (the generator's logs parsed into the lake's log
/// table), so the timings cover encoding only. pyarrow gets
/// the identical table by reading our file before its timed `pq.write_table`. Neither side
/// fsyncs. Each timing is the best of `repeats` runs.
public enum ParquetBench {
    /// Runs the benchmark in `workDir` (created if missing) and returns a text report.
    /// `python` must have pyarrow installed.
    public static func run(rows: Int = 1_000_000, repeats: Int = 3, workDir: String, python: String = "python3") async throws -> String {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let batch = try ParquetLogBatch.make(rows: rows, seed: 20_260_112)
        let ours = workDir + "/logpipe.snappy.parquet"
        let theirs = workDir + "/pyarrow.snappy.parquet"
        var options = ParquetWriterOptions()
        options.compression = .snappy
        options.sync = false

        var writeBest = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = ContinuousClock.now
            let writer = try ParquetWriter(path: ours, schema: ParquetLogBatch.schema, options: options)
            try writer.write(batch.batch)
            try writer.finish()
            writeBest = min(writeBest, Peers.seconds(since: start))
        }
        let ourSize = try fileSize(ours)

        let peer = try await runPyArrow(python: python, ours: ours, theirs: theirs, repeats: repeats)
        let theirSize = try fileSize(theirs)

        var readOursBest = Double.infinity, readTheirsBest = Double.infinity
        for _ in 0..<max(1, repeats) {
            var start = ContinuousClock.now
            let a = try ParquetFileReader(path: ours).read()
            readOursBest = min(readOursBest, Peers.seconds(since: start))
            start = ContinuousClock.now
            let b = try ParquetFileReader(path: theirs).read()
            readTheirsBest = min(readTheirsBest, Peers.seconds(since: start))
            guard a.rowCount == rows, b.rowCount == rows else {
                throw ParquetError.invalidArgument("read back \(a.rowCount) and \(b.rowCount) rows, wrote \(rows)")
            }
        }

        let mb = Double(batch.rawBytes) / 1_000_000
        func rate(_ s: Double) -> String { String(format: "%.2f M rows/s, %.1f MB/s", Double(rows) / s / 1e6, mb / s) }
        var out = "parquet bench: \(rows) log rows, \(String(format: "%.1f", mb)) MB of column data, snappy + dictionary, best of \(repeats)\n"
        out += "write   logpipe  \(String(format: "%.3f", writeBest)) s  \(rate(writeBest))  file \(ourSize) bytes\n"
        out += "write   pyarrow  \(String(format: "%.3f", peer.write)) s  \(rate(peer.write))  file \(theirSize) bytes (pyarrow \(peer.version))\n"
        out += String(format: "write   speed ratio logpipe/pyarrow: %.2fx   size ratio logpipe/pyarrow: %.3f\n",
                      peer.write / writeBest, Double(ourSize) / Double(theirSize))
        out += "read    logpipe  \(String(format: "%.3f", readOursBest)) s  \(rate(readOursBest))  (our file)\n"
        out += "read    logpipe  \(String(format: "%.3f", readTheirsBest)) s  \(rate(readTheirsBest))  (pyarrow's file)\n"
        out += "read    pyarrow  \(String(format: "%.3f", peer.read)) s  \(rate(peer.read))  (pq.read_table of our file, threads on)\n"
        out += String(format: "read    speed ratio logpipe/pyarrow: %.2fx\n", peer.read / readOursBest)
        return out
    }


    private static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    private static let peerScript = #"""
import json, sys, time
import pyarrow as pa, pyarrow.parquet as pq
ours, theirs, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
table = pq.read_table(ours)
write = read = float('inf')
for _ in range(repeats):
    t = time.perf_counter(); pq.write_table(table, theirs, compression='snappy'); write = min(write, time.perf_counter() - t)
for _ in range(repeats):
    t = time.perf_counter(); n = pq.read_table(ours).num_rows; read = min(read, time.perf_counter() - t)
print(json.dumps({'write': write, 'read': read, 'rows': n, 'version': pa.__version__}))
"""#

    private struct PeerResult {
        var write: Double
        var read: Double
        var version: String
    }

    private static func runPyArrow(python: String, ours: String, theirs: String, repeats: Int) async throws -> PeerResult {
        let (status, stdout, stderr) = try Peers.capture("/usr/bin/env", [python, "-c", peerScript, ours, theirs, String(max(1, repeats))])
        guard status == 0,
              let json = try JSONSerialization.jsonObject(with: stdout) as? [String: Any],
              let write = json["write"] as? Double, let read = json["read"] as? Double
        else {
            throw ParquetError.io("pyarrow peer failed (\(status)): \(String(decoding: stderr, as: UTF8.self))")
        }
        return PeerResult(write: write, read: read, version: json["version"] as? String ?? "?")
    }
}

/// The benchmark's log batch, built straight into column buffers.

/// The lake's log table for the benchmark: generated contract JSON parsed by the
/// collector's reader into a `LogBatch`, then the lake's own batch-to-Parquet mapping,
/// so the bench encodes exactly what `logpipe stream` writes.
private struct ParquetLogBatch {
    static let schema = LogBatch.parquetSchema
    var batch: ParquetColumnBatch
    /// Bytes of column data (values and string bytes), for MB/s.
    var rawBytes: Int

    static func make(rows: Int, seed: UInt64) throws -> ParquetLogBatch {
        var generator = RecordGenerator(seed: seed)
        let ndjson = generator.logs(count: rows, start: 1_768_183_200, spacing: 3600.0 / Double(max(1, rows)))
        var logs = LogBatch()
        var reader = JSONBodyReader()
        let read = try reader.readLogs(body: ndjson, into: &logs)
        guard read.accepted == rows else {
            throw ParquetError.invalidArgument("the generator made \(read.errors.count) invalid records: \(read.errors.prefix(3))")
        }
        let columns = logs.parquetColumns()
        return ParquetLogBatch(batch: columns, rawBytes: columns.columns.reduce(0) { $0 + dataBytes($1) })
    }

    private static func dataBytes(_ column: ParquetColumn) -> Int {
        switch column.values {
        case .boolean(let v): v.count
        case .int32(let v): v.count * 4
        case .int64(let v): v.count * 8
        case .float(let v): v.count * 4
        case .double(let v): v.count * 8
        case .byteArray(let bytes, _): bytes.count
        case .group(let children): children.reduce(0) { $0 + dataBytes($1) }
        }
    }
}
