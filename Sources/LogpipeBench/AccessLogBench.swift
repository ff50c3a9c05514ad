import Foundation
import LogpipeGenerator
import LogpipeRecords

/// The access-log reader against the JSON reader on the same records in the same run.
///
/// `RecordGenerator` logs (seeded) are read into a batch, then written both as NDJSON and
/// as Nginx combined lines carrying the same client, time, method, endpoint, status and a
/// user agent. Each reader parses its whole body into a fresh `LogBatch`, best of three.
public enum AccessLogBench {
    /// Runs the benchmark on `records` log records and returns a report.
    public static func run(records: Int = 1_000_000, seed: UInt64 = 42) -> String {
        var generator = RecordGenerator(seed: seed)
        let ndjson = generator.logs(count: records, start: 1_736_645_166.0)
        var json = JSONBodyReader()
        var source = LogBatch()
        _ = try? json.readLogs(body: ndjson, into: &source)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        var text: [UInt8] = []
        text.reserveCapacity(records * 200)
        for i in 0..<source.count {
            let date = Date(timeIntervalSince1970: Double(source.timestampMicros.values[i]) / 1e6)
            let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
            let time = String(format: "%02d/%@/%04d:%02d:%02d:%02d +0000", c.day!, months[c.month! - 1], c.year!, c.hour!, c.minute!, c.second!)
            let line = "\(source.clientIp[row: i] ?? "10.0.0.1") - \(source.userId[row: i] ?? "-") [\(time)] "
                + "\"\(source.method[row: i] ?? "GET") \(source.endpoint[row: i] ?? "/") HTTP/1.1\" \(source.statusCode[row: i] ?? 200) \(512 + i % 4096) "
                + "\"https://shop.example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\"\n"
            text.append(contentsOf: line.utf8)
        }

        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        var jsonTime = Duration.seconds(1_000_000), textTime = Duration.seconds(1_000_000)
        var jsonAccepted = 0, textAccepted = 0
        var access = AccessLogReader(format: .nginx, service: "web")
        for _ in 0..<3 {
            let t = ContinuousClock().measure {
                var fresh = LogBatch()
                jsonAccepted = (try? json.readLogs(body: ndjson, into: &fresh))?.accepted ?? -1
            }
            if t < jsonTime { jsonTime = t }
            let t2 = ContinuousClock().measure {
                var fresh = LogBatch()
                textAccepted = text.withUnsafeBytes { access.readLogs(body: $0, into: &fresh) }.body.accepted
            }
            if t2 < textTime { textTime = t2 }
        }
        func line(_ name: String, _ d: Duration, _ bytes: Int, _ n: Int) -> String {
            let s = seconds(d)
            let name = name.padding(toLength: 44, withPad: " ", startingAt: 0)
            return "\(name) \(String(format: "%8.3f", s)) s  \(String(format: "%12.0f", Double(n) / s)) records/s  "
                + "\(String(format: "%8.1f", Double(bytes) / s / 1e6)) MB/s  (\(n) records)"
        }
        var report = "Access-log reader vs JSON reader, \(records) log records from RecordGenerator(seed: \(seed))\n"
        report += line("Logpipe JSONBodyReader, NDJSON → LogBatch", jsonTime, ndjson.count, jsonAccepted) + "\n"
        report += line("Logpipe AccessLogReader, Nginx → LogBatch", textTime, text.count, textAccepted) + "\n"
        report += "ratio (access-log time / JSON time, records/s): \(String(format: "%.2f", seconds(textTime) / seconds(jsonTime)))×\n"
        return report
    }
}
