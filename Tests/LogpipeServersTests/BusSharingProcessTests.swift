import AsyncHTTPClient
import Foundation
import LogpipeBus
import LogpipeTesting
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The embedded bus shared by processes on one machine (issue 9): one writer per
/// directory, enforced; readers in other processes following it; stream workers
/// splitting its partitions, killed and restarted at will, with the lake exactly-once.
@Suite(.serialized)
struct BusSharingProcessTests {
    let collectors = CollectorProcessTests()

    @Test func aSecondWriterIsRefusedAndTheFirstLosesNothing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let port = try LoopbackPort.free()
        let first = try await collectors.launch(["collect", "--data-dir", dir.path, "--port", String(port)], port: port)
        let stop = StopFlag()
        async let acked = collectors.load(port: port, clients: 2, round: 21, stop: stop)

        for arguments in [["collect", "--port", String(try LoopbackPort.free())],
                          ["run", "--port", String(try LoopbackPort.free()), "--generator-port", String(try LoopbackPort.free())]] {
            let second = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments + ["--data-dir", dir.path])
            let status = await second.waitForExit()
            let message = String(decoding: second.standardError, as: UTF8.self)
            #expect(ChildProcess.exitCode(status) == 1, "\(arguments[0]): \(message)")
            #expect(message.contains("the bus in \(dir.appending("bus")) is already open for writing by process \(first.pid)"), "\(message)")
        }
        try await Task.sleep(for: .milliseconds(300))
        stop.set()
        let acknowledged = await acked
        first.kill(SIGTERM)
        #expect(ChildProcess.exitCode(await first.waitForExit()) == 0)
        let stored = try await collectors.storedRequestIDs(busDirectory: dir.appending("bus"))
        #expect(acknowledged.count >= 100)
        #expect(acknowledged.isSubset(of: Set(stored)), "\(acknowledged.subtracting(stored).count) acknowledged records are missing")
        #expect(Set(stored).count == stored.count)
    }

    @Test func aReaderInAnotherProcessSeesAppendsWithinASecond() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let port = try LoopbackPort.free()
        let writer = try await collectors.launch(["collect", "--data-dir", dir.path, "--port", String(port)], port: port)
        defer { writer.kill(SIGKILL) }
        let reader = try LocalBus(directory: dir.appending("bus"), options: LocalBusOptions(access: .read))
        #expect(!reader.acceptsWrites)
        await #expect(throws: BusError.readOnly(dir.appending("bus"))) {
            _ = try await reader.produce(topic: "logs.raw", batch: BusContract.records(["x"]))
        }
        var slowest = Duration.zero
        // Every probe has the key "svc" (logs are keyed by service), so all land on one partition.
        let source = TopicPartition(topic: "logs.raw", partition: KafkaPartitioner.partition(key: "svc", partitions: 3))
        var offset: Int64 = 0
        for i in 0..<15 {
            let record = #"{"timestamp": 1767225600, "level": "INFO", "service": "svc", "host": "h", "message": "m", "metadata": {"request_id":"probe-\#(i)"}}"#
            let (status, _) = try await post(port: port, body: record)
            #expect(status == 200)
            let acknowledged = ContinuousClock.now
            let batch = try await reader.fetch(source, from: offset, maxBytes: 1 << 20, maxWaitMillis: 5_000)
            slowest = max(slowest, ContinuousClock.now - acknowledged)
            let ids = batch.records.flatMap { requestIDs(in: Array(batch.buffer[Int($0.value.lowerBound)..<Int($0.value.upperBound)])) }
            #expect(ids == ["probe-\(i)"])
            offset = batch.nextOffset(after: offset)
        }
        #expect(slowest < .seconds(1), "a reader saw an acknowledged record only after \(slowest)")
        try await reader.close()
    }

    @Test func retentionUnderAReaderIsReportedNotSkippedSilently() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let tp = TopicPartition(topic: "t", partition: 0)
        let writer = try LocalBus(directory: dir.path, options: LocalBusOptions(segmentBytes: 4096))
        try await writer.createTopic(TopicSpec(name: "t", partitions: 1, retention: RetentionPolicy(maxAgeSeconds: nil, maxBytesPerPartition: 16 << 10)))
        let reader = try LocalBus(directory: dir.path, options: LocalBusOptions(access: .read))
        let value = String(repeating: "v", count: 200)
        for _ in 0..<20 { _ = try await writer.produce(topic: "t", batch: BusContract.records([value])) }
        // The reader is behind, at offset 0, when retention deletes the oldest segments under it.
        let early = try await reader.fetch(tp, from: 0, maxBytes: 300, maxWaitMillis: 1_000)
        #expect(early.records.first?.offset == 0)
        for _ in 0..<200 { _ = try await writer.produce(topic: "t", batch: BusContract.records([value])) }
        // Segment rolls already ran retention; this pass makes sure it is complete.
        try await writer.enforceRetention()
        let low = try await writer.topics()[0].partitions[0].lowWatermark
        let high = try await writer.topics()[0].partitions[0].highWatermark
        #expect(low > 0)
        // Within about a second the reader notices the deleted segments and says so.
        var outOfRange: BusError?
        for _ in 0..<40 where outOfRange == nil {
            do {
                _ = try await reader.fetch(tp, from: 0, maxBytes: 300, maxWaitMillis: 0)
                try await Task.sleep(for: .milliseconds(100))
            } catch let error as BusError {
                outOfRange = error
            }
        }
        #expect(outOfRange == .offsetOutOfRange(tp, requested: 0, low: low, high: high))
        // From the new low watermark it reads every record that is left, in order, exactly once.
        var offset = low
        var count: Int64 = 0
        while offset < high {
            let batch = try await reader.fetch(tp, from: offset, maxBytes: 1 << 20, maxWaitMillis: 0)
            for r in batch.records {
                #expect(r.offset == offset + Int64(batch.records.firstIndex(of: r)!))
            }
            count += Int64(batch.records.count)
            offset = batch.nextOffset(after: offset)
        }
        #expect(count == high - low)
        try await reader.close()
        try await writer.close()
    }

    @Test func collectorAndTwoStreamWorkersKilledAndRestartedKeepTheLakeExactlyOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let port = try LoopbackPort.free()
        func collector() async throws -> ChildProcess {
            try await collectors.launch(["collect", "--data-dir", dir.path, "--port", String(port), "--log-level", "warning"], port: port)
        }
        func worker() throws -> ChildProcess {
            try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: [
                "stream", "--data-dir", dir.path, "--api-port", "0", "--roll-seconds", "1", "--log-level", "warning"])
        }
        var processes = [try await collector(), try worker(), try worker()]
        let stop = StopFlag()
        async let acked = collectors.load(port: port, clients: 2, round: 31, stop: stop)
        // Kill one process at a time, in turn, and start it again: collector, worker, worker, ...
        for round in 0..<6 {
            try await Task.sleep(for: .milliseconds(1_200))
            let victim = round % 3
            processes[victim].kill(SIGKILL)
            #expect(ChildProcess.killedBySignal(await processes[victim].waitForExit()) == SIGKILL)
            processes[victim] = victim == 0 ? try await collector() : try worker()
        }
        try await Task.sleep(for: .milliseconds(800))
        stop.set()
        let acknowledged = await acked
        let onBus = try await collectors.storedRequestIDs(busDirectory: dir.appending("bus"), access: .read)
        #expect(acknowledged.count >= 500, "the load acknowledged too little to prove anything")
        #expect(acknowledged.isSubset(of: Set(onBus)))

        // The workers drain the bus into the lake; then every record is there exactly once.
        var lake = LakeIDs(rows: 0, distinct: 0, missing: -1)
        let idsFile = dir.appending("bus-ids.txt")
        try Data(onBus.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: idsFile))
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            lake = try await lakeIDs(dir.appending("lake"), expected: idsFile)
            if lake.rows >= onBus.count { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        for p in processes.dropFirst() { p.kill(SIGTERM) }
        for p in processes.dropFirst() { #expect(ChildProcess.exitCode(await p.waitForExit()) == 0) }
        processes[0].kill(SIGTERM)
        _ = await processes[0].waitForExit()
        lake = try await lakeIDs(dir.appending("lake"), expected: idsFile)
        #expect(lake.rows == onBus.count, "lake rows \(lake.rows), bus records \(onBus.count)")
        #expect(lake.distinct == lake.rows, "\(lake.rows - lake.distinct) records are in the lake twice")
        #expect(lake.missing == 0, "\(lake.missing) records on the bus never reached the lake")
    }

    struct LakeIDs {
        var rows: Int
        var distinct: Int
        var missing: Int
    }

    /// The lake's log rows, distinct request ids, and how many ids of `expected` (one per line) it lacks, by DuckDB.
    private func lakeIDs(_ lake: String, expected: String) async throws -> LakeIDs {
        let result = try await LakeTesting.runPython(#"""
import sys, glob, duckdb
lake, expected = sys.argv[1], sys.argv[2]
if not glob.glob(lake + "/logs/raw/**/*.parquet", recursive=True):
    print(0, 0, -1); sys.exit(0)
con = duckdb.connect()
con.execute(f"create table lake as select metadata.request_id as id from read_parquet('{lake}/logs/raw/*/*/*/*/*.parquet', hive_partitioning=true)")
con.execute(f"create table want as select column0 as id from read_csv('{expected}', header=false, columns={{'column0': 'VARCHAR'}})")
rows, distinct = con.execute("select count(*), count(distinct id) from lake").fetchone()
missing = con.execute("select count(*) from want where id not in (select id from lake)").fetchone()[0]
print(rows, distinct, missing)
"""#, arguments: [lake, expected])
        let fields = result.output.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard result.exitCode == 0, fields.count == 3 else { throw LakeCheckFailed(message: result.error) }
        return LakeIDs(rows: fields[0], distinct: fields[1], missing: fields[2])
    }

    struct LakeCheckFailed: Error {
        var message: String
    }
}

/// Posts one JSON body to the collector's logs path; the status and body.
func post(port: Int, body: String) async throws -> (Int, String) {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/collect/logs")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: body))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let bytes = try await response.body.collect(upTo: 1 << 20)
    return (Int(response.status.code), String(buffer: bytes))
}
