import Foundation
import LogpipeGenerator
import LogpipeRecords

/// The JSON reader against Foundation's `JSONDecoder`, on the same records in the same run.
///
/// Records come from `RecordGenerator` (seeded, so every run reads the same bytes).
/// Both sides parse a JSON array of all records held in memory: ours into a `LogBatch`
/// (validating every field, keeping unknown fields), `JSONDecoder` into an array of a
/// `Codable` struct of the same schema. Ours is also timed on the same records as
/// NDJSON and as 100-record bodies (the collector's case: one reader and one batch
/// reused, the batch emptied every 10 000 records).
public enum JSONBench {
    /// Runs the benchmark on `records` log records and returns a report.
    public static func run(records: Int = 1_000_000, seed: UInt64 = 42) -> String {
        var generator = RecordGenerator(seed: seed)
        let start = 1_736_645_166.0
        let array = generator.logArray(count: records, start: start)
        var generator2 = RecordGenerator(seed: seed)
        let ndjson = generator2.logs(count: records, start: start)
        var generator3 = RecordGenerator(seed: seed)
        let chunkSize = 100
        var chunks: [[UInt8]] = []
        var made = 0
        while made < records {
            let n = min(chunkSize, records - made)
            chunks.append(generator3.logArray(count: n, start: start + Double(made) * 0.001))
            made += n
        }

        var reader = JSONBodyReader()
        var batch = LogpipeRecords.LogBatch()

        // A fresh batch each time, so growing the columns is part of the cost, as it is
        // for the decoder's array of structs.
        func ours(_ body: [UInt8]) -> (Duration, Int) {
            var accepted = 0
            let t = ContinuousClock().measure {
                var fresh = LogpipeRecords.LogBatch()
                accepted = (try? reader.readLogs(body: body, into: &fresh))?.accepted ?? -1
                batch = fresh
            }
            batch = LogpipeRecords.LogBatch()
            return (t, accepted)
        }
        // Best of three for ours; the decoder runs once (it takes far longer).
        var arrayTime = Duration.seconds(1_000_000)
        var arrayAccepted = 0
        var ndjsonTime = Duration.seconds(1_000_000)
        var ndjsonAccepted = 0
        for _ in 0..<3 {
            let (t, n) = ours(array)
            if t < arrayTime { arrayTime = t }
            arrayAccepted = n
            let (t2, n2) = ours(ndjson)
            if t2 < ndjsonTime { ndjsonTime = t2 }
            ndjsonAccepted = n2
        }
        var chunkTime = Duration.seconds(1_000_000)
        var chunkAccepted = 0
        for _ in 0..<3 {
            batch.removeAll()
            var accepted = 0
            let t = ContinuousClock().measure {
                for chunk in chunks {
                    accepted += (try? reader.readLogs(body: chunk, into: &batch))?.accepted ?? 0
                    if batch.count >= 10_000 { batch.removeAll() }
                }
            }
            if t < chunkTime { chunkTime = t }
            chunkAccepted = accepted
        }

        let decoder = JSONDecoder()
        var decoded = 0
        let decoderTime = ContinuousClock().measure {
            let value = try? decoder.decode([LogRecordCodable].self, from: Data(array))
            decoded = value?.count ?? -1
        }

        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        func line(_ name: String, _ d: Duration, _ bytes: Int, _ n: Int) -> String {
            let s = seconds(d)
            let name = name.padding(toLength: 44, withPad: " ", startingAt: 0)
            return "\(name) \(String(format: "%8.3f", s)) s  \(String(format: "%12.0f", Double(n) / s)) records/s  "
                + "\(String(format: "%8.1f", Double(bytes) / s / 1e6)) MB/s  (\(n) records)"
        }
        let ratio = seconds(decoderTime) / seconds(arrayTime)
        var report = "JSON reader vs Foundation JSONDecoder, \(records) log records from RecordGenerator(seed: \(seed))\n"
        report += "array body \(array.count) bytes (\(array.count / max(1, records)) bytes/record)\n"
        report += line("Logpipe JSONBodyReader, array → LogBatch", arrayTime, array.count, arrayAccepted) + "\n"
        report += line("Logpipe JSONBodyReader, NDJSON → LogBatch", ndjsonTime, ndjson.count, ndjsonAccepted) + "\n"
        report += line("Logpipe JSONBodyReader, 100-record bodies", chunkTime,
                       chunks.reduce(0) { $0 + $1.count }, chunkAccepted) + "\n"
        report += line("Foundation JSONDecoder, array → [Codable]", decoderTime, array.count, decoded) + "\n"
        report += "ratio (JSONDecoder time / JSONBodyReader time, same array body): \(String(format: "%.1f", ratio))×\n"
        return report
    }
}

/// The log contract as a `Codable` struct: what a Swift service would decode with `JSONDecoder`.
struct LogRecordCodable: Codable {
    struct Metadata: Codable {
        var request_id: String?
        var response_time_ms: Double?
        var status_code: Int32?
        var endpoint: String?
        var method: String?
        var client_ip: String?
        var user_id: String?
    }

    var timestamp: Double
    var level: String
    var service: String
    var host: String?
    var message: String
    var metadata: Metadata?
}
