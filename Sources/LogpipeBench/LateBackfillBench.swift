import Foundation
import LogpipeBus
import LogpipeGenerator

/// `logpipe bench late`: `logpipe stream --once` (raw lake and analytics, the real
/// command as a child process) over a bus where a quarter of the records arrive late,
/// against the same records in event-time order.
///
/// - Records: `records` generated logs, event times 10 ms apart ending an hour before now
///   (so none is future), keyed by service over 3 partitions as the collector keys them.
/// - Late order: every fourth record is put where event time is 10 minutes past its own,
///   twice the default lateness, so it arrives behind the watermark. In-order: sorted.
/// - Not timed: putting each order on its own fresh `LocalBus`.
/// - Timed: `/usr/bin/time -f '%e %M' logpipe stream --once` on each bus into a fresh
///   lake, one after the other: wall seconds and peak RSS of the whole process.
public enum LateBackfillBench {
    /// Runs `binary` (the `logpipe` executable) on buses under `workDir` and returns a report.
    public static func run(binary: String, records: Int = 1_000_000, workDir: String) async throws -> String {
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let spacing = 0.01
        let start = Double(Int(Date().timeIntervalSince1970) / 60 * 60) - 3600 - Double(records) * spacing
        var generator = RecordGenerator(seed: 20_261_129)
        let ndjson = generator.logs(count: records, start: start, spacing: spacing)
        var lines: [ArraySlice<UInt8>] = []
        lines.reserveCapacity(records)
        var from = 0
        while from < ndjson.count {
            let end = ndjson[from...].firstIndex(of: UInt8(ascii: "\n")) ?? ndjson.count
            if end > from { lines.append(ndjson[from..<end]) }
            from = end + 1
        }
        // Order by arrival key: a late record arrives 600 s of event time after its own.
        let delayRecords = Int(600 / spacing)
        let lateOrder = lines.indices.sorted { a, b in
            let ka = a + (a % 4 == 3 ? delayRecords : 0), kb = b + (b % 4 == 3 ? delayRecords : 0)
            return (ka, a) < (kb, b)
        }
        var results: [(name: String, seconds: Double, rssKiB: Int)] = []
        for (name, order) in [("in order", Array(lines.indices)), ("25% late", lateOrder)] {
            let dir = workDir + "/" + (name == "in order" ? "ordered" : "late")
            let bus = try LocalBus(directory: dir + "/bus")
            try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
            // `stream` reads both source topics and refuses a bus that lacks one (no activity here).
            try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 3))
            var batch = ProduceBatch()
            for i in order {
                batch.append(key: service(of: lines[i]), value: lines[i])
                if batch.count >= 5_000 {
                    _ = try await bus.produce(topic: "logs.raw", batch: batch)
                    batch = ProduceBatch()
                }
            }
            if batch.count > 0 { _ = try await bus.produce(topic: "logs.raw", batch: batch) }
            try await bus.close()
            let (seconds, rss, output) = try timed(binary, ["stream", "--once", "--bus", "local:\(dir)/bus", "--lake", "\(dir)/lake",
                                                            "--data-dir", dir, "--log-level", "warning"])
            guard output.contains("records \(records),") else {
                throw Peers.Failure(description: "logpipe stream --once on \(name) said: \(output)")
            }
            results.append((name, seconds, rss))
        }
        let ordered = results[0], late = results[1]
        let lateRows = records / 4
        return """
            late: logpipe stream --once over \(records) logs on a 3-partition local bus, raw lake and analytics
              in order:  \(String(format: "%.2f", ordered.seconds)) s, peak RSS \(ordered.rssKiB / 1024) MiB
              25% late:  \(String(format: "%.2f", late.seconds)) s, peak RSS \(late.rssKiB / 1024) MiB (\(lateRows) rows 600 s behind their time)
              late / in order: time \(String(format: "%.2f", late.seconds / ordered.seconds))×, RSS \(String(format: "%.2f", Double(late.rssKiB) / Double(ordered.rssKiB)))×
            """
    }

    /// Runs `binary arguments` under `/usr/bin/time`; returns wall seconds, peak RSS in KiB and stdout.
    static func timed(_ binary: String, _ arguments: [String]) throws -> (Double, Int, String) {
        let (status, stdout, errors) = try Peers.capture("/usr/bin/time", ["-f", "LPTIME %e %M", binary] + arguments)
        let stderr = String(decoding: errors, as: UTF8.self)
        guard status == 0,
              // Split on carriage returns too: Spark's progress bar ends with one and no newline.
              let line = stderr.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).last(where: { $0.hasPrefix("LPTIME ") }) else {
            // A Python peer's script is an argument: named, not printed.
            let command = ([binary] + arguments.map { $0.count > 200 ? "<script>" : $0 }).joined(separator: " ")
            throw Peers.Failure(description: "\(command) failed: \(stderr.suffix(2000))")
        }
        let parts = line.split(separator: " ")
        return (Double(parts[1]) ?? 0, Int(parts[2]) ?? 0, String(decoding: stdout, as: UTF8.self))
    }

    /// The service of a generated log line (the collector's key).
    static func service(of line: ArraySlice<UInt8>) -> [UInt8] {
        let marker = Array(#""service":""#.utf8)
        guard let at = line.indices.first(where: { line[$0...].starts(with: marker) }) else { return [] }
        let start = at + marker.count
        let end = line[start...].firstIndex(of: UInt8(ascii: "\"")) ?? start
        return Array(line[start..<end])
    }
}
