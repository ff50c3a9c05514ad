#if Kafka
import AsyncHTTPClient
import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeKafka
import LogpipeLake
import LogpipeTesting
import NIOCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Stream workers scale out as one Kafka consumer group: three `logpipe stream` processes
/// split six partitions of each topic while `logpipe collect` accepts records; one worker
/// is killed with SIGKILL mid-stream and a fourth joins later. The lake must end with every
/// record the collector accepted, exactly once.
@Suite(.serialized) struct KafkaScaleOutTests {
    static let logCount = 18_000
    static let eventCount = 6_000
    /// Requests of this many logs (and a third as many events) are posted every `pause`.
    static let logsPerRequest = 300
    static let pause = Duration.milliseconds(300)
    /// The last quarter of the records waits until the fourth worker owns partitions, so
    /// it has records to write whatever the machine's speed.
    static let heldBackFrom = 0.75

    @Test func workersSplitPartitionsSurviveAKillAndAJoinAndTheLakeHoldsEveryRecordOnce() async throws {
        try await TansuBroker.with { broker in
            let directory = try TemporaryDirectory(prefix: "kafka-scale-out")
            defer { directory.remove() }
            let lake = directory.appending("lake")
            let bus = try KafkaBus(configuration: KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers))
            try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 6))
            try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 6))
            try await bus.close()

            let children = LogpipeChildren()
            defer { children.killAll() }
            let collectorPort = try LoopbackPort.free()
            let collector = try children.start([
                "collect", "--bus", broker.url, "--port", String(collectorPort),
                "--data-dir", directory.appending("collector"), "--log-level", "warning",
            ])
            try await LoopbackPort.waitUntilListening(collectorPort, timeout: .seconds(30)) { children.standardErrors() }

            // A short session so a killed worker's partitions move within seconds.
            let workerArguments = [
                "stream", "--bus", broker.url, "--lake", lake, "--data-dir", directory.appending("stream"),
                "--api-port", "0", "--roll-seconds", "1", "--kafka-property", "session.timeout.ms=6000",
                "--log-level", "info",
            ]
            var workers = try (0..<3).map { _ in try children.start(workerArguments) }

            var generator = RecordGenerator(seed: 6)
            let start = 1_767_225_600.0
            let logs = generator.logs(count: Self.logCount, start: start, spacing: 0.2)  // an hour of event time
            let events = generator.events(count: Self.eventCount, start: start, spacing: 0.6)
            let total = Int64(Self.logCount + Self.eventCount)
            let gate = Gate()
            let poster = Task { try await Self.post(logs: logs, events: events, port: collectorPort, gate: gate) }
            defer { poster.cancel() }

            func lakeRows() async throws -> Int64 {
                try await KafkaLake.committedRows(lake: lake, dataset: .logs)
                    + KafkaLake.committedRows(lake: lake, dataset: .activity)
            }
            func commits() async throws -> [TopicPartition: CommitRecord] {
                try await KafkaLake.newestCommits(lake: lake, topics: ["logs.raw", "events.activity"], partitions: 6)
            }

            // Mid-stream: each of the three workers owns partitions and has committed records of one.
            try await eventually("each worker to commit records", timeout: .seconds(40),
                                 interval: .milliseconds(200),
                                 describe: { children.standardErrors() }) {
                let ids = workers.compactMap { KafkaLake.workerId(of: $0) }
                guard ids.count == 3 else { return false }
                let newest = try await commits().values
                return ids.allSatisfy { id in newest.contains { $0.owner == id && $0.nextOffset > 0 } }
            }
            let ids = workers.map { KafkaLake.workerId(of: $0)! }
            let atKill = try await commits()
            let orphaned = Set(atKill.filter { $0.value.owner == ids[0] }.keys)
            let rowsAtKill = try await lakeRows()
            workers[0].kill(SIGKILL)
            let killed = await children.waitForExit(workers[0])
            #expect(ChildProcess.killedBySignal(killed) == SIGKILL)
            #expect(rowsAtKill < total, "the kill came after the stream had written everything")

            // The survivors take the dead worker's partitions once its session times out.
            try await eventually("the survivors to claim \(orphaned.sorted { $0.description < $1.description })",
                                 timeout: .seconds(30), interval: .milliseconds(200),
                                 describe: { children.standardErrors() }) {
                let newest = try await commits()
                return orphaned.allSatisfy { tp in newest[tp].map { ids[1...].contains($0.owner) } ?? false }
            }
            // A fourth joins: the group gives it partitions of live workers, then the last records arrive.
            workers.append(try children.start(workerArguments))
            try await eventually("the fourth worker to claim partitions", timeout: .seconds(40),
                                 interval: .milliseconds(200),
                                 describe: { children.standardErrors() }) {
                guard let fourth = KafkaLake.workerId(of: workers[3]) else { return false }
                return try await commits().values.contains { $0.owner == fourth }
            }
            gate.open()

            let accepted = try await poster.value
            #expect(accepted == (logs: Self.logCount, events: Self.eventCount))
            try await eventually("the lake to hold \(total) rows", timeout: .seconds(60),
                                 interval: .milliseconds(200),
                                 describe: { children.standardErrors() }) {
                let rows = try await lakeRows()
                if rows > total { throw KafkaTestError("the lake holds \(rows) rows, more than the \(total) accepted") }
                return rows == total
            }
            let fourth = try #require(KafkaLake.workerId(of: workers[3]))
            let final = try await commits().values
            #expect(final.contains { $0.owner == fourth && $0.kind == .data }, "the fourth worker committed no records")
            #expect(!final.contains { $0.owner == ids[0] })

            // A graceful stop: each commits what it holds, leaves the group and exits 0.
            for worker in workers.dropFirst() + [collector] { worker.kill(SIGTERM) }
            for worker in workers.dropFirst() + [collector] {
                let status = await children.waitForExit(worker, within: .seconds(30))
                #expect(status.flatMap(ChildProcess.exitCode) == 0,
                        "exit \(status.map(String.init) ?? "timed out"): \(String(decoding: worker.standardError.suffix(3000), as: UTF8.self))")
            }

            let store = try LocalFileStore(root: lake)
            #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
            for (dataset, id, expected, count) in [("logs/raw", "metadata.request_id", logs, Self.logCount),
                                                   ("events/activity", "event_id", events, Self.eventCount)] {
                let check = try await KafkaLake.contentCheck(lake: lake, dataset: dataset, idPath: id, expected: expected)
                #expect(check.rows == count, "\(dataset): \(check)")
                #expect(check.distinct == count, "\(dataset): \(check)")
                #expect(check.missing == 0 && check.unexpected == 0, "\(dataset): \(check)")
                #expect(check.mismatched == 0, "\(dataset): \(check)")
                #expect(check.outsideHour == 0, "\(dataset): \(check)")
            }
        }
    }

    /// Posts the records to the collector as NDJSON, one logs and one events request per
    /// round with a pause between rounds, so records keep arriving while workers come and
    /// go; the rounds from `heldBackFrom` on wait for `gate`. Returns how many of each the
    /// collector accepted (acknowledged as on the bus).
    static func post(logs: [UInt8], events: [UInt8], port: Int, gate: Gate) async throws -> (logs: Int, events: Int) {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let logLines = KafkaLake.lines(logs)
            let eventLines = KafkaLake.lines(events)
            let eventsPerRequest = logsPerRequest / 3
            var accepted = (logs: 0, events: 0)
            var round = 0
            let heldBackRound = Int(Double(logLines.count / logsPerRequest) * heldBackFrom)
            while round * logsPerRequest < logLines.count || round * eventsPerRequest < eventLines.count {
                if round == heldBackRound { try await gate.wait() }
                for (path, lines, size) in [("logs", logLines, logsPerRequest), ("activities", eventLines, eventsPerRequest)] {
                    let chunk = lines[min(round * size, lines.count)..<min((round + 1) * size, lines.count)]
                    if chunk.isEmpty { continue }
                    var body: [UInt8] = []
                    for line in chunk {
                        body.append(contentsOf: line)
                        body.append(0x0a)
                    }
                    let n = try await postOnce(client, url: "http://127.0.0.1:\(port)/api/collect/\(path)", body: body)
                    if path == "logs" { accepted.logs += n } else { accepted.events += n }
                }
                round += 1
                try await Task.sleep(for: pause)
            }
            try await client.shutdown()
            return accepted
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// A one-way signal from the test to the poster.
    final class Gate: Sendable {
        private let isOpen = Atomic<Bool>(false)

        func open() { isOpen.store(true, ordering: .releasing) }

        func wait() async throws {
            while !isOpen.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(50)) }
        }
    }

    /// One request; returns the collector's `accepted` count, failing on any rejection.
    static func postOnce(_ client: HTTPClient, url: String, body: [UInt8]) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-ndjson")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        let answer = try await response.body.collect(upTo: 1 << 20)
        let text = String(buffer: answer)
        guard response.status == .ok,
              let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let accepted = object["accepted"] as? Int, (object["rejected"] as? [Any])?.isEmpty == true
        else { throw KafkaTestError("collector answered \(response.status): \(text)") }
        return accepted
    }
}
#endif
