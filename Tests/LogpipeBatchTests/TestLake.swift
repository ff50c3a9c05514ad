import Foundation
import LogpipeGenerator
import LogpipeLake
import LogpipeParquet
import LogpipeRecords

/// A lake written straight from generated records: each hour in `filesPerHour` files,
/// as the stream's raw sink lays them out.
enum TestLake {
    /// 2026-11-22 00:00 UTC, in seconds.
    static let day = 1_795_305_600.0

    /// Writes `logs` log records and `events` activity events spread evenly from one hour
    /// before `day` to one hour after its end (so neighbouring days' partitions exist too).
    static func build(root: String, logs: Int, events: Int, filesPerHour: Int = 2, rowGroupBytes: Int = 1 << 20, seed: UInt64 = 7) throws {
        var generator = RecordGenerator(seed: seed, incidents: [
            Incident(kind: .errorBurst, subject: "payment-service", start: day + 3600, end: day + 7200),
            Incident(kind: .latencySpike, subject: "auth-service", start: day + 36_000, end: day + 39_600),
        ])
        let start = day - 3600, span = 26.0 * 3600
        var reader = JSONBodyReader()
        var logBatch = LogBatch()
        _ = try reader.readLogs(body: generator.logs(count: logs, start: start, spacing: span / Double(logs)), into: &logBatch)
        var activityBatch = ActivityBatch()
        _ = try reader.readActivities(body: generator.events(count: events, start: start, spacing: span / Double(events)), into: &activityBatch)
        try write(logBatch, root: root, filesPerHour: filesPerHour, rowGroupBytes: rowGroupBytes)
        try write(activityBatch, root: root, filesPerHour: filesPerHour, rowGroupBytes: rowGroupBytes)
    }

    static func write<Rows: LakeRows>(_ batch: Rows, root: String, filesPerHour: Int, rowGroupBytes: Int) throws {
        var byHour: [HourPartition: [Int]] = [:]
        for i in 0..<batch.count { byHour[HourPartition(timestampMicros: batch.timestampMicros.values[i]), default: []].append(i) }
        var options = ParquetWriterOptions()
        options.rowGroupSize = rowGroupBytes
        options.sync = false
        options.maxRowsPerPage = 1000
        for (hour, rows) in byHour {
            let directory = "\(root)/\(LakeLayout.partitionDirectory(Rows.dataset, hour))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let per = (rows.count + filesPerHour - 1) / filesPerHour
            for f in 0..<filesPerHour {
                let slice = rows.dropFirst(f * per).prefix(per)
                guard let first = slice.first, let last = slice.last else { continue }
                let writer = try ParquetWriter(path: "\(directory)/\(LakeLayout.dataFileName(id: "\(f)"))", schema: Rows.parquetSchema, options: options)
                // Written in slices, as micro-batches arrive: row groups close between writes.
                for lo in stride(from: first, through: last, by: 500) {
                    var part = Rows()
                    part.append(contentsOf: batch, rows: lo..<min(lo + 500, last + 1))
                    try writer.write(part.parquetColumns())
                }
                _ = try writer.finish()
            }
        }
    }
}
