import AsyncHTTPClient
import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeTesting
import NIOCore
import Synchronization
import Testing

/// The collector as a real `logpipe` process: killed with SIGKILL under load, or
/// stopped with SIGTERM, it never loses a record it acknowledged (DESIGN.md guarantee 1).
@Suite(.serialized)
struct CollectorProcessTests {
    static let start = 1_767_225_600.0

    /// Starts `logpipe <arguments>` and waits until the collector answers on `port`.
    func launch(_ arguments: [String], port: Int) async throws -> ChildProcess {
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments)
        try await LoopbackPort.waitUntilListening(port, timeout: .seconds(30)) {
            String(decoding: child.standardError, as: UTF8.self)
        }
        return child
    }

    /// Posts batches of unique logs from `clients` concurrent clients until `stop`
    /// is set; returns the request ids of every record a 2xx acknowledged.
    func load(port: Int, clients: Int, round: Int, stop: StopFlag) async -> Set<String> {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let acknowledged = await withTaskGroup(of: Set<String>.self) { group in
            for worker in 0..<clients {
                group.addTask {
                    var generator = RecordGenerator(seed: UInt64(round * 1000 + worker))
                    var mine = Set<String>()
                    while !stop.isSet {
                        let body = generator.logs(count: 100, start: Self.start)
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/collect/logs")
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/x-ndjson")
                        request.body = .bytes(ByteBuffer(bytes: body))
                        guard let response = try? await client.execute(request, timeout: .seconds(2)),
                              response.status == .ok,
                              (try? await response.body.collect(upTo: 1 << 20)) != nil
                        else {
                            // The collector is down or refusing: retry soon, without spinning.
                            try? await Task.sleep(for: .milliseconds(20))
                            continue
                        }
                        mine.formUnion(requestIDs(in: body))
                    }
                    return mine
                }
            }
            return await group.reduce(into: Set<String>()) { $0.formUnion($1) }
        }
        try? await client.shutdown()
        return acknowledged
    }

    /// Every record on `logs.raw` in `busDirectory`, as request ids (one per record, duplicates kept);
    /// `.read` while another process may still write the bus.
    func storedRequestIDs(busDirectory: String, access: LocalBusAccess = .write) async throws -> [String] {
        let bus = try LocalBus(directory: busDirectory, options: LocalBusOptions(access: access))
        defer { Task { try? await bus.close() } }
        var ids: [String] = []
        for partition in try await bus.topics().first(where: { $0.name == "logs.raw" })!.partitions {
            var offset = partition.lowWatermark
            while offset < partition.highWatermark {
                let batch = try await bus.fetch(TopicPartition(topic: "logs.raw", partition: partition.partition), from: offset, maxBytes: 4 << 20, maxWaitMillis: 0)
                for record in batch.records {
                    ids.append(contentsOf: requestIDs(in: Array(batch.buffer[Int(record.value.lowerBound)..<Int(record.value.upperBound)])))
                }
                offset = batch.nextOffset(after: offset)
            }
        }
        return ids
    }

    @Test func sigkillUnderLoadLosesNothingAcknowledged() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var acknowledged = Set<String>()
        for round in 0..<3 {
            let port = try LoopbackPort.free()
            let child = try await launch(["collect", "--data-dir", dir.path, "--port", String(port)], port: port)
            let stop = StopFlag()
            async let acked = load(port: port, clients: 4, round: round, stop: stop)
            try await Task.sleep(for: .milliseconds(400 + round * 300))
            child.kill(SIGKILL)
            stop.set()
            let status = await child.waitForExit()
            acknowledged.formUnion(await acked)
            #expect(ChildProcess.killedBySignal(status) == SIGKILL)
        }
        let stored = try await storedRequestIDs(busDirectory: dir.appending("bus"))
        #expect(acknowledged.count >= 300, "the load acknowledged too little to prove anything")
        #expect(acknowledged.isSubset(of: Set(stored)), "\(acknowledged.subtracting(stored).count) acknowledged records are missing")
        #expect(Set(stored).count == stored.count, "a record is stored twice")
    }

    @Test func sigtermDrainsAndExitsCleanly() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let port = try LoopbackPort.free()
        let generatorPort = try LoopbackPort.free()
        let child = try await launch(
            ["run", "--data-dir", dir.path, "--port", String(port), "--generator-port", String(generatorPort), "--rate", "2000"],
            port: port)
        let stop = StopFlag()
        async let acked = load(port: port, clients: 2, round: 7, stop: stop)
        try await Task.sleep(for: .milliseconds(800))
        child.kill(SIGTERM)
        let status = await child.waitForExit()
        stop.set()
        let acknowledged = await acked
        #expect(ChildProcess.exitCode(status) == 0, "\(String(decoding: child.standardError, as: UTF8.self))")
        let stored = try await storedRequestIDs(busDirectory: dir.appending("bus"))
        #expect(acknowledged.count >= 100)
        #expect(acknowledged.isSubset(of: Set(stored)))
        #expect(Set(stored).count == stored.count)
        // The generator ran too: more records are stored than the test itself sent.
        #expect(stored.count > acknowledged.count)
    }
}

/// Tells load loops in other tasks to stop.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

/// The `request_id` values in NDJSON or a single record, found without a JSON parser
/// so the check does not share code with what it checks.
func requestIDs(in bytes: [UInt8]) -> [String] {
    let text = String(decoding: bytes, as: UTF8.self)
    var ids: [String] = []
    var rest = text[...]
    while let range = rest.range(of: #""request_id":""#) {
        let after = rest[range.upperBound...]
        guard let end = after.firstIndex(of: "\"") else { break }
        ids.append(String(after[..<end]))
        rest = after[end...]
    }
    return ids
}
