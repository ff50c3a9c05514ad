import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeParquet
import LogpipeRecords
import LogpipeStream
import LogpipeTesting
import Testing

/// 2026-01-12T01:58:20Z: generated data starting here crosses several hour boundaries.
let startSeconds = 1_768_183_100.0

/// A bus and a lake in one temporary directory.
struct Rig {
    let dir: TemporaryDirectory
    let bus: LocalBus
    let store: LocalFileStore

    init(_ name: String, partitions: Int32 = 3) async throws {
        dir = try TemporaryDirectory(prefix: name)
        bus = try LocalBus(directory: dir.appending("bus"))
        store = try LocalFileStore(root: dir.appending("lake"))
        try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: partitions))
        try await bus.createTopic(TopicSpec(name: "events.activity", partitions: partitions))
    }

    func close() async {
        try? await bus.close()
        dir.remove()
    }

    /// DuckDB's view of one dataset.
    func check(_ dataset: String, id: String) async throws -> [String: Any] {
        let result = try await LakeTesting.runPython(LakeTesting.duckDBLakeCheck, arguments: [store.root, dataset, id])
        guard result.exitCode == 0,
              let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] else {
            Issue.record("python failed: \(result.error)")
            return [:]
        }
        return object
    }

    /// Committed rows per dataset from the Parquet footers.
    func committedRows() async throws -> Int64 {
        try await LakeListing.partitions(store: store).reduce(0) { $0 + $1.rows }
    }
}

func quickConfiguration(rollBytes: Int64 = 512 << 10, rollAge: Double = 60, fetchBytes: Int = 256 << 10) -> StreamConfiguration {
    StreamConfiguration(
        maxFetchBytes: fetchBytes, idleWaitMillis: 20,
        raw: RawLakeSink.Options(rollBytes: rollBytes, rollAgeSeconds: rollAge,
                                 file: LakeFileOptions(encodeRows: 4096, rowGroupBytes: 1 << 20)),
        compaction: nil)
}

@Suite(.serialized) struct StreamEndToEndTests {
    @Test func generatedRecordsLandExactlyOnceAsSparkWouldWriteThem() async throws {
        let rig = try await Rig("stream-e2e")
        defer { Task { await rig.close() } }
        var generator = RecordGenerator(seed: 7)
        let logs = generator.logs(count: 20_000, start: startSeconds, spacing: 0.5)
        let events = generator.events(count: 6_000, start: startSeconds, spacing: 1.5)
        #expect(try await LakeTesting.produceLines(rig.bus, topic: "logs.raw", ndjson: logs) == 20_000)
        #expect(try await LakeTesting.produceLines(rig.bus, topic: "events.activity", ndjson: events) == 6_000)
        // Bad records on the bus: counted as dead letters, never stop the worker.
        var bad = ProduceBatch()
        bad.append(key: nil as [UInt8]?, value: Array(#"{"timestamp": "yesterday"}"#.utf8), partition: 0)
        bad.append(key: nil as [UInt8]?, value: Array("not json".utf8), partition: 1)
        bad.append(key: nil as [UInt8]?, value: Array(#"{"level":"INFO"}"#.utf8), partition: 2)
        _ = try await rig.bus.produce(topic: "logs.raw", batch: bad)

        let worker = StreamWorker(bus: rig.bus, store: rig.store, configuration: quickConfiguration())
        let stats = try await worker.runUntilCaughtUp()
        #expect(stats.records == 26_000)
        #expect(stats.deadLetters == 3)
        #expect(stats.files > 6)  // 512 KiB rolls: several files per partition

        let logCheck = try await rig.check("logs/raw", id: "metadata.request_id")
        #expect(logCheck["rows"] as? Int == 20_000)
        #expect(logCheck["distinct_ids"] as? Int == 20_000)
        #expect(logCheck["outside_hour"] as? Int == 0)
        let schema = try #require(logCheck["schema"] as? [String: String])
        #expect(schema["timestamp"] == "TIMESTAMP WITH TIME ZONE")
        #expect(schema["level"] == "VARCHAR")
        #expect(schema["metadata"] == "STRUCT(request_id VARCHAR, response_time_ms DOUBLE, status_code INTEGER, endpoint VARCHAR, \"method\" VARCHAR, client_ip VARCHAR, user_id VARCHAR)")
        #expect(schema["extra"] == "VARCHAR")
        for key in ["year", "month", "day", "hour"] { #expect(schema[key] == "BIGINT") }
        #expect(schema.count == 11)
        let arrow = try #require(logCheck["arrow_schema"] as? [String: String])
        #expect(arrow["timestamp"] == "timestamp[us, tz=UTC]")
        #expect(arrow["hour"] == "int32")
        #expect(arrow["metadata"]?.hasPrefix("struct<request_id: string, response_time_ms: double, status_code: int32") == true)

        let eventCheck = try await rig.check("events/activity", id: "event_id")
        #expect(eventCheck["rows"] as? Int == 6_000)
        #expect(eventCheck["distinct_ids"] as? Int == 6_000)
        #expect(eventCheck["outside_hour"] as? Int == 0)
        let eventSchema = try #require(eventCheck["schema"] as? [String: String])
        #expect(eventSchema["device"] == "STRUCT(\"type\" VARCHAR, os VARCHAR, browser VARCHAR)")
        #expect(eventSchema["event_data"] == "STRUCT(page VARCHAR, element VARCHAR, product_id VARCHAR, query VARCHAR, amount DOUBLE)")

        // Event time spans 02:00 to 04:46 for the logs: four hour partitions, no zero padding.
        let hours = Set(try await LakeListing.partitions(store: rig.store, datasets: [.logs]).map(\.hour.path))
        #expect(hours == ["year=2026/month=1/day=12/hour=1", "year=2026/month=1/day=12/hour=2",
                          "year=2026/month=1/day=12/hour=3", "year=2026/month=1/day=12/hour=4"])
        #expect(try await rig.store.list("_logpipe/staging", recursive: true).isEmpty)

        // A second worker resumes from the commit logs: nothing is read twice.
        let again = try await StreamWorker(bus: rig.bus, store: rig.store, configuration: quickConfiguration()).runUntilCaughtUp()
        #expect(again.records == 0)
        #expect(try await rig.committedRows() == 26_000)
        // The bus's group offsets mirror the lake's commits (for lag).
        #expect(try await rig.bus.committedOffsets(group: "logpipe-stream", topic: "logs.raw").values.reduce(0, +) == 20_003)
    }

    @Test func lateRecordsLandInTheirOwnHour() async throws {
        let rig = try await Rig("stream-late", partitions: 1)
        defer { Task { await rig.close() } }
        var generator = RecordGenerator(seed: 3)
        // Data from 03:58:20 to 04:00:00, stragglers from five hours earlier, then 04:00:00 on.
        try await LakeTesting.produceLines(rig.bus, topic: "logs.raw", ndjson: generator.logs(count: 1000, start: startSeconds + 7200, spacing: 0.1))
        try await LakeTesting.produceLines(rig.bus, topic: "logs.raw", ndjson: generator.logs(count: 37, start: startSeconds - 5 * 3600, spacing: 1))
        try await LakeTesting.produceLines(rig.bus, topic: "logs.raw", ndjson: generator.logs(count: 500, start: startSeconds + 7300, spacing: 0.1))
        try await StreamWorker(bus: rig.bus, store: rig.store, configuration: quickConfiguration()).runUntilCaughtUp()
        let partitions = try await LakeListing.partitions(store: rig.store, datasets: [.logs])
        #expect(partitions.map(\.hour.path) == ["year=2026/month=1/day=11/hour=20", "year=2026/month=1/day=12/hour=3",
                                                "year=2026/month=1/day=12/hour=4"])
        #expect(partitions.map(\.rows) == [37, 1000, 500])
        let check = try await rig.check("logs/raw", id: "metadata.request_id")
        #expect(check["outside_hour"] as? Int == 0)
        #expect(check["distinct_ids"] as? Int == 1537)
    }

    /// A fetch of thousands of records is parsed in two halves at once: the lake must hold
    /// every row once, in bus order, and dead letters in either half are counted.
    @Test func largeFetchesParsedInHalvesKeepOrderAndDeadLetters() async throws {
        let rig = try await Rig("stream-halves", partitions: 1)
        defer { Task { await rig.close() } }
        var generator = RecordGenerator(seed: 11)
        let logs = generator.logs(count: 12_000, start: startSeconds, spacing: 0.1)
        var lines = logs.split(separator: UInt8(ascii: "\n")).map(Array.init)
        // Bad records near the start, in the middle of the second half and at the very end.
        for (offset, bad) in [(10, "not json"), (6_500, #"{"timestamp": "yesterday"}"#), (12_002, #"{"level":"INFO"}"#)] {
            lines.insert(Array(bad.utf8), at: offset)
        }
        #expect(try await LakeTesting.produceLines(rig.bus, topic: "logs.raw", ndjson: Array(lines.joined(separator: [UInt8(ascii: "\n")]))) == 12_003)
        let stats = try await StreamWorker(bus: rig.bus, store: rig.store, configuration: quickConfiguration(fetchBytes: 8 << 20))
            .runUntilCaughtUp()
        #expect(stats.records == 12_000)
        #expect(stats.deadLetters == 3)
        // The generator's event times only grow: every file's rows must too.
        var rows = 0
        for file in try await rig.store.list("logs/raw", recursive: true) where file.path.hasSuffix(".parquet") {
            let table = try ParquetFileReader(path: try rig.store.absolutePath(file.path)).read(columns: ["timestamp"])
            guard case .int64(let timestamps) = table.columns[0].values else {
                Issue.record("timestamp is not INT64 in \(file.path)")
                continue
            }
            #expect(zip(timestamps, timestamps.dropFirst()).allSatisfy { $0 <= $1 }, "rows out of order in \(file.path)")
            rows += timestamps.count
        }
        #expect(rows == 12_000)
        let check = try await rig.check("logs/raw", id: "metadata.request_id")
        #expect(check["distinct_ids"] as? Int == 12_000)
    }

    @Test func serviceModeRollsByAgeAndCommitsOnGracefulStop() async throws {
        let rig = try await Rig("stream-service")
        defer { Task { await rig.close() } }
        let worker = StreamWorker(bus: rig.bus, store: rig.store,
                                  configuration: quickConfiguration(rollAge: 0.2))
        let running = Task { try await worker.run() }
        var generator = RecordGenerator(seed: 11)
        var produced = 0
        for round in 0..<5 {
            produced += try await LakeTesting.produceLines(
                rig.bus, topic: "logs.raw", ndjson: generator.logs(count: 2000, start: startSeconds + Double(round) * 200, spacing: 0.1))
        }
        // Data becomes visible by age, with the worker still running.
        let deadline = Date().addingTimeInterval(10)
        while try await rig.committedRows() < Int64(produced), Date() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(try await rig.committedRows() == Int64(produced))
        #expect(worker.runningPartitions.count == 6)
        // What arrives just before the stop is committed by the stop.
        produced += try await LakeTesting.produceLines(
            rig.bus, topic: "events.activity", ndjson: generator.events(count: 300, start: startSeconds, spacing: 1))
        while worker.statistics.records < Int64(produced) { try await Task.sleep(nanoseconds: 10_000_000) }
        worker.requestStop()
        try await running.value
        #expect(try await rig.committedRows() == Int64(produced))
        #expect(try await rig.store.list("_logpipe/staging", recursive: true).isEmpty)
    }

    @Test func intervalTriggerRunsRoundsAndCatchesUp() async throws {
        let rig = try await Rig("stream-interval")
        defer { Task { await rig.close() } }
        var configuration = quickConfiguration(rollAge: 0.1, fetchBytes: 32 << 10)
        configuration.trigger = .interval(seconds: 0.05)
        let worker = StreamWorker(bus: rig.bus, store: rig.store, configuration: configuration)
        let running = Task { try await worker.run() }
        var generator = RecordGenerator(seed: 17)
        var produced = 0
        for round in 0..<3 {
            // Each round is many fetches' worth: a round reads until it has caught up.
            produced += try await LakeTesting.produceLines(
                rig.bus, topic: "events.activity", ndjson: generator.events(count: 2000, start: startSeconds + Double(round) * 300, spacing: 0.1))
            try await Task.sleep(nanoseconds: 30_000_000)
        }
        let deadline = Date().addingTimeInterval(10)
        while try await rig.committedRows() < Int64(produced), Date() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        worker.requestStop()
        try await running.value
        #expect(try await rig.committedRows() == Int64(produced))
        let check = try await rig.check("events/activity", id: "event_id")
        #expect(check["distinct_ids"] as? Int == produced)
    }

    @Test func groupMembershipDecidesWhatAWorkerOwns() async throws {
        let rig = try await Rig("stream-member")
        defer { Task { await rig.close() } }
        var generator = RecordGenerator(seed: 13)
        let produced = try await LakeTesting.produceLines(
            rig.bus, topic: "logs.raw", ndjson: generator.logs(count: 3000, start: startSeconds, spacing: 0.1))
        var configuration = quickConfiguration(rollAge: 0.1)
        configuration.group = "spark-streaming-group"
        let worker = StreamWorker(bus: rig.bus, store: rig.store, configuration: configuration,
                                  membership: SingleMemberAssignmentSource(bus: rig.bus))
        let running = Task { try await worker.run() }
        let deadline = Date().addingTimeInterval(10)
        while try await rig.committedRows() < Int64(produced), Date() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(worker.runningPartitions.count == 6)
        worker.requestStop()
        try await running.value
        #expect(try await rig.committedRows() == Int64(produced))
        // Progress was published through the member, after the lake commits.
        let offsets = try await rig.bus.committedOffsets(group: "spark-streaming-group", topic: "logs.raw")
        #expect(offsets.values.reduce(0, +) == Int64(produced))
    }

    @Test func workersSplitAndTradePartitionsWithoutLosingOrDoublingRows() async throws {
        let rig = try await Rig("stream-assign")
        defer { Task { await rig.close() } }
        let configuration = quickConfiguration(rollAge: 0.1)
        let first = StreamWorker(bus: rig.bus, store: rig.store, configuration: configuration)
        let second = StreamWorker(bus: rig.bus, store: rig.store, configuration: configuration)
        let tp = { (p: Int32) in TopicPartition(topic: "logs.raw", partition: p) }
        first.assign([tp(0), tp(1)])
        second.assign([tp(2)])
        let runs = [Task { try await first.run() }, Task { try await second.run() }]
        var generator = RecordGenerator(seed: 5)
        var produced = 0
        for round in 0..<6 {
            produced += try await LakeTesting.produceLines(
                rig.bus, topic: "logs.raw", ndjson: generator.logs(count: 1500, start: startSeconds + Double(round) * 150, spacing: 0.1))
            try await Task.sleep(nanoseconds: 60_000_000)
            // A rebalance every round: partitions move back and forth while data flows.
            if round % 2 == 0 {
                first.assign([tp(0)])
                second.assign([tp(1), tp(2)])
            } else {
                second.assign([tp(2)])
                first.assign([tp(0), tp(1)])
            }
        }
        let deadline = Date().addingTimeInterval(15)
        while try await rig.committedRows() < Int64(produced), Date() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        first.requestStop()
        second.requestStop()
        for run in runs { try await run.value }
        let check = try await rig.check("logs/raw", id: "metadata.request_id")
        #expect(check["rows"] as? Int == produced)
        #expect(check["distinct_ids"] as? Int == produced)
    }
}
