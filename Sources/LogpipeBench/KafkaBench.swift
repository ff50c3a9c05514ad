#if Kafka
import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeKafka

/// Acknowledged produce throughput of `KafkaBus` against kcat, librdkafka's
/// own command-line producer and so the ceiling of the library on this
/// machine, on the same broker in the same run.
///
/// - Records: generated contract JSON logs keyed by service, as the collector
///   puts them on the bus; both sides send the same records.
/// - Logpipe: `producers` concurrent tasks each `produce` pre-built batches of
///   `batchRecords` (as concurrent collector requests do); timed until the last
///   batch's delivery reports are in.
/// - kcat: `kcat -P -K '\t' -l file` with the same librdkafka properties
///   (`acks=all`, idempotence, linger, compression, murmur2 partitioner, queue
///   bounds), timed from start to exit (it exits once every report is in, so
///   the figure includes its start-up, a few milliseconds).
/// - Each side writes its own fresh topic of `partitions` partitions; rounds
///   alternate the order and the best time of each side is compared.
public enum KafkaBench {
    /// Runs against the broker at `bootstrapServers` and returns a text report.
    /// `kcat` is the kcat binary; it must load the same librdkafka (≥ 2.2), see docs/kafka.md.
    public static func run(
        bootstrapServers: String, records: Int = 300_000, batchRecords: Int = 500, producers: Int = 8,
        partitions: Int32 = 3, rounds: Int = 3, properties: [String: String] = [:],
        kcat: String = "/usr/bin/kcat", directory: String = NSTemporaryDirectory()
    ) async throws -> String {
        let configuration = KafkaBusConfiguration(bootstrapServers: bootstrapServers, properties: properties)
        var generator = RecordGenerator(seed: 42)
        var batches: [ProduceBatch] = []
        var lines: [UInt8] = []
        var payload = 0
        var record: [UInt8] = []
        var batch = ProduceBatch()
        for i in 0..<records {
            record.removeAll(keepingCapacity: true)
            generator.appendLog(to: &record, timestamp: 1_736_645_166 + Double(i) * 0.001)
            let key = serviceKey(record)
            batch.append(key: key, value: record)
            lines += key
            lines.append(0x09)
            lines += record
            lines.append(0x0a)
            payload += key.count + record.count
            if batch.count == batchRecords || i == records - 1 {
                batches.append(batch)
                batch = ProduceBatch()
            }
        }
        let file = directory + "/kafkabench-\(UInt32.random(in: 0...UInt32.max)).tsv"
        try Data(lines).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }

        let producerProperties = KafkaBusConfiguration.defaultProducerProperties.merging(properties) { $1 }
        var report = ["kafka bench: \(records) log records (\(String(format: "%.1f", Double(payload) / 1e6)) MB of keys and values) "
            + "keyed by service, \(partitions) partitions, broker \(bootstrapServers); producer properties "
            + producerProperties.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")]
        var busBest = Double.infinity
        var kcatBest = Double.infinity
        let bus = try KafkaBus(configuration: configuration)
        do {
            for round in 0..<rounds {
                var busSeconds = 0.0
                var kcatSeconds = 0.0
                for side in round % 2 == 0 ? [0, 1] : [1, 0] {
                    let topic = "kafkabench-\(side == 0 ? "logpipe" : "kcat")-\(round)-\(UInt32.random(in: 0...UInt32.max))"
                    try await bus.createTopic(TopicSpec(name: topic, partitions: partitions))
                    if side == 0 {
                        busSeconds = try await produceAll(bus, topic: topic, batches: batches, producers: producers)
                    } else {
                        kcatSeconds = try runKcat(kcat, bootstrapServers: bootstrapServers, topic: topic, file: file,
                                                  properties: configuration.commonProperties.merging(producerProperties) { $1 })
                    }
                    let stored = try await bus.topics().first { $0.name == topic }!.partitions.reduce(0) { $0 + $1.highWatermark }
                    guard stored == Int64(records) else {
                        throw BusError.io("\(side == 0 ? "KafkaBus" : "kcat") stored \(stored) of \(records) records")
                    }
                }
                busBest = min(busBest, busSeconds)
                kcatBest = min(kcatBest, kcatSeconds)
                report.append("  round \(round + 1): KafkaBus \(String(format: "%.3f", busSeconds)) s, kcat \(String(format: "%.3f", kcatSeconds)) s")
            }
        } catch {
            try? await bus.close()
            throw error
        }
        try await bus.close()
        let busRate = Double(records) / busBest
        let kcatRate = Double(records) / kcatBest
        report.append("KafkaBus produce, acknowledged: \(Int(busRate)) records/s (\(producers) producers × batches of \(batchRecords))")
        report.append("kcat -P from a file:            \(Int(kcatRate)) records/s")
        report.append("ratio KafkaBus / kcat: \(String(format: "%.1f", 100 * busRate / kcatRate))%")
        return report.joined(separator: "\n")
    }

    /// The `service` value of a generated log record, its key on the bus.
    private static func serviceKey(_ record: [UInt8]) -> [UInt8] {
        let marker = Array(#""service":""#.utf8)
        var i = 0
        while i + marker.count <= record.count {
            if record[i] == marker[0] && Array(record[i..<i + marker.count]) == marker {
                let start = i + marker.count
                let end = record[start...].firstIndex(of: UInt8(ascii: "\"")) ?? record.count
                return Array(record[start..<end])
            }
            i += 1
        }
        return []
    }

    private static func produceAll(_ bus: KafkaBus, topic: String, batches: [ProduceBatch], producers: Int) async throws -> Double {
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<producers {
                group.addTask {
                    for b in stride(from: p, to: batches.count, by: producers) {
                        _ = try await bus.produce(topic: topic, batch: batches[b])
                    }
                }
            }
            try await group.waitForAll()
        }
        return seconds(ContinuousClock.now - started)
    }

    private static func runKcat(_ kcat: String, bootstrapServers: String, topic: String, file: String, properties: [String: String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kcat)
        process.arguments = ["-P", "-b", bootstrapServers, "-t", topic, "-K", "\t", "-l", file, "-q"]
            + properties.filter { $0.key != "bootstrap.servers" }.sorted { $0.key < $1.key }.flatMap { ["-X", "\($0.key)=\($0.value)"] }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let elapsed = seconds(ContinuousClock.now - started)
        guard process.terminationStatus == 0 else {
            throw BusError.io("kcat failed (\(process.terminationStatus)): \(String(decoding: stderr, as: UTF8.self))")
        }
        return elapsed
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
#endif
