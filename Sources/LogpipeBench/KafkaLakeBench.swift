#if Kafka
import Foundation
import Logging
import LogpipeBus
import LogpipeGenerator
import LogpipeKafka
import LogpipeLake
import LogpipeStream

/// `logpipe bench kafka-lake`: the stream job (bus → exactly-once hourly Parquet lake) reading
/// from Kafka against reading from the embedded local bus, on the same records in the same run.
///
/// - Records: `records` generated contract JSON logs (event time spread over about five
///   hours) keyed by service as the collector keys them, so both buses split them over
///   `partitions` partitions identically (the local bus uses Kafka's partitioner).
/// - Not timed: putting them on a fresh `LocalBus` and on the Kafka topic `logs.raw`.
/// - Timed: a `StreamWorker` (raw lake sink only, no compaction, default 128 MiB rolls)
///   reading every partition to its end into a fresh lake and committing
///   (`runUntilCaughtUp`: fetch, parse, Parquet snappy, fsync, commit log, renames). The
///   Kafka side opens a fresh `KafkaBus` per round, so its prefetch starts cold.
/// - Rounds alternate which side goes first; the best time of each side is compared.
/// - For reference, each round also times kcat consuming the topic from its start to its
///   end (`kcat -C -e`, printing offsets to /dev/null): librdkafka's own read rate from
///   this broker, with no parsing and no lake, an upper bound for the Kafka side.
public enum KafkaLakeBench {
    /// Runs against the broker at `bootstrapServers`, with lakes and the local bus under
    /// `workDir` (emptied first), and returns a text report. `kcat` must load the same
    /// librdkafka (≥ 2.2) as Logpipe, see docs/kafka.md.
    public static func run(
        bootstrapServers: String, records: Int = 500_000, partitions: Int32 = 3, rounds: Int = 3,
        properties: [String: String] = [:], kcat: String = "/usr/bin/kcat", workDir: String
    ) async throws -> String {
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let topic = "logs.raw"
        var generator = RecordGenerator(seed: 20_260_113)
        let spacing = 5 * 3600.0 / Double(max(1, records))
        var batches: [ProduceBatch] = []
        var batch = ProduceBatch()
        var record: [UInt8] = []
        var payload = 0
        for i in 0..<records {
            record.removeAll(keepingCapacity: true)
            generator.appendLog(to: &record, timestamp: 1_768_183_100 + Double(i) * spacing)
            batch.append(key: serviceKey(record), value: record)
            payload += record.count
            if batch.count == 5_000 || i == records - 1 {
                batches.append(batch)
                batch = ProduceBatch()
            }
        }

        let local = try LocalBus(directory: workDir + "/bus")
        try await local.createTopic(TopicSpec(name: topic, partitions: partitions))
        for b in batches { _ = try await local.produce(topic: topic, batch: b) }
        let kafkaConfiguration = KafkaBusConfiguration(bootstrapServers: bootstrapServers, properties: properties)
        let loader = try KafkaBus(configuration: kafkaConfiguration)
        do {
            try await loader.createTopic(TopicSpec(name: topic, partitions: partitions))
            for b in batches { _ = try await loader.produce(topic: topic, batch: b) }
            let stored = try await loader.topics().first { $0.name == topic }?.partitions.reduce(0) { $0 + $1.highWatermark }
            guard stored == Int64(records) else { throw BusError.io("Kafka holds \(stored ?? 0) of \(records) records") }
        } catch {
            try? await loader.close()
            try? await local.close()
            throw error
        }
        try await loader.close()
        batches = []

        var configuration = StreamConfiguration(sources: [.init(topic: topic, kind: .logs)])
        configuration.compaction = nil
        var quiet = Logger(label: "logpipe.bench.kafka-lake")
        quiet.logLevel = .warning
        var report = ["kafka-lake bench: \(records) log records (\(String(format: "%.1f", Double(payload) / 1e6)) MB of JSON, "
            + "~5 h of event time) keyed by service over \(partitions) partitions → hourly snappy Parquet; broker \(bootstrapServers)"]
        var best = (local: Double.infinity, kafka: Double.infinity, kcat: Double.infinity)
        var files = (local: 0, kafka: 0)
        do {
            for round in 0..<rounds {
                var seconds = (local: 0.0, kafka: 0.0)
                for side in round % 2 == 0 ? ["local", "kafka"] : ["kafka", "local"] {
                    let store = try LocalFileStore(root: workDir + "/lake-\(side)-\(round)")
                    if side == "local" {
                        let (s, f) = try await timed(bus: local, store: store, configuration: configuration, logger: quiet, records: records)
                        seconds.local = s
                        files.local = f
                    } else {
                        let kafka = try KafkaBus(configuration: kafkaConfiguration)
                        do {
                            let (s, f) = try await timed(bus: kafka, store: store, configuration: configuration, logger: quiet, records: records)
                            seconds.kafka = s
                            files.kafka = f
                        } catch {
                            try? await kafka.close()
                            throw error
                        }
                        try await kafka.close()
                    }
                    try? FileManager.default.removeItem(atPath: store.location)
                }
                let kcatSeconds = try consumeWithKcat(kcat, bootstrapServers: bootstrapServers, topic: topic)
                best = (min(best.local, seconds.local), min(best.kafka, seconds.kafka), min(best.kcat, kcatSeconds))
                report.append("  round \(round + 1): local bus → lake \(String(format: "%.3f", seconds.local)) s, "
                    + "Kafka → lake \(String(format: "%.3f", seconds.kafka)) s, kcat -C \(String(format: "%.3f", kcatSeconds)) s")
            }
        } catch {
            try? await local.close()
            throw error
        }
        try await local.close()
        let localRate = Double(records) / best.local
        let kafkaRate = Double(records) / best.kafka
        report.append("local bus → lake: \(Int(localRate)) records/s (\(files.local) files)")
        report.append("Kafka → lake:     \(Int(kafkaRate)) records/s (\(files.kafka) files)")
        report.append("ratio Kafka / local: \(String(format: "%.1f", 100 * kafkaRate / localRate))%")
        report.append("kcat -C, read only:  \(Int(Double(records) / best.kcat)) records/s (librdkafka's read ceiling from this broker)")
        return report.joined(separator: "\n")
    }

    /// One stream run to the end of the bus; returns its seconds and the lake's file count,
    /// after checking the lake holds every record.
    private static func timed(bus: any Bus, store: LocalFileStore, configuration: StreamConfiguration,
                              logger: Logger, records: Int) async throws -> (Double, Int) {
        let worker = StreamWorker(bus: bus, store: store, configuration: configuration, logger: logger)
        let began = ContinuousClock.now
        let statistics = try await worker.runUntilCaughtUp()
        let elapsed = began.duration(to: .now)
        let partitions = try await LakeListing.partitions(store: store, datasets: [.logs])
        let rows = partitions.reduce(Int64(0)) { $0 + $1.rows }
        guard rows == Int64(records), statistics.records == Int64(records) else {
            throw BusError.io("the lake from \(type(of: bus)) holds \(rows) rows of \(records) (stream read \(statistics.records))")
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (seconds, partitions.reduce(0) { $0 + $1.files })
    }

    /// Seconds kcat takes to read `topic` from its start to its end (offsets to /dev/null).
    private static func consumeWithKcat(_ kcat: String, bootstrapServers: String, topic: String) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kcat)
        process.arguments = ["-C", "-b", bootstrapServers, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%o\n"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let elapsed = started.duration(to: .now)
        guard process.terminationStatus == 0 else {
            throw BusError.io("kcat -C failed (\(process.terminationStatus)): \(String(decoding: stderr, as: UTF8.self))")
        }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// The `service` value of a generated log record, its key on the bus.
    private static func serviceKey(_ record: [UInt8]) -> [UInt8] {
        let marker = Array(#""service":""#.utf8)
        guard let start = record.indices.first(where: { i in
            i + marker.count <= record.count && record[i..<i + marker.count].elementsEqual(marker)
        }).map({ $0 + marker.count }) else { return [] }
        let end = record[start...].firstIndex(of: UInt8(ascii: "\"")) ?? record.count
        return Array(record[start..<end])
    }
}
#endif
