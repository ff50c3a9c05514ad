import Foundation
import LogpipeAnalytics
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeRecords
import LogpipeStream
import LogpipeTesting
import Synchronization
import Testing

@Suite("Analytics as a stream sink")
struct SinkTests {
    final class Publications: Sendable {
        let items = Mutex<[AnalyticsPublication]>([])
        func add(_ p: AnalyticsPublication) { items.withLock { $0.append(p) } }
    }

    static func produce(_ bus: LocalBus, _ ndjson: [UInt8]) async throws {
        var batch = ProduceBatch()
        var start = 0
        while start < ndjson.count {
            let end = ndjson[start...].firstIndex(of: UInt8(ascii: "\n")) ?? ndjson.count
            batch.append(key: nil as [UInt8]?, value: ndjson[start..<end], partition: 0)
            start = end + 1
        }
        _ = try await bus.produce(topic: "logs.raw", batch: batch)
    }

    @Test("a worker restarted from its commit publishes exactly the windows of an uninterrupted run")
    func restartFromCommit() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-analytics-sink")
        defer { dir.remove() }
        let flood = Incident(kind: .ipFlood, subject: "10.66.66.66", start: epoch0 + 700, end: epoch0 + 900)
        var generator = RecordGenerator(seed: 21, incidents: [flood])
        let first = generator.logs(count: 15_000, start: epoch0, spacing: 0.05)
        var late = Array((logLine(t: epoch0 + 10, service: "api-gateway") + "\n").utf8)
        late += generator.logs(count: 15_000, start: epoch0 + 750, spacing: 0.05)

        let bus = try LocalBus(directory: dir.appending("bus"))
        try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 1))
        let store = try LocalFileStore(root: dir.appending("lake"))
        var configuration = StreamConfiguration(sources: [.init(topic: "logs.raw", kind: .logs, partitionsIfCreated: 1)])
        configuration.rawSinkEnabled = false
        configuration.compaction = nil
        let publications = Publications()
        let analyticsStore = AnalyticsStore()
        let sink = AnalyticsSink(store: analyticsStore) { publications.add($0) }

        try await Self.produce(bus, first)
        try await StreamWorker(bus: bus, store: store, configuration: configuration, extraSinks: [sink], logger: quietLogger)
            .runUntilCaughtUp()
        try await Self.produce(bus, late)
        // A new worker: the analytics state comes back from the partition's last commit.
        try await StreamWorker(bus: bus, store: store, configuration: configuration, extraSinks: [sink], logger: quietLogger)
            .runUntilCaughtUp()
        try await bus.close()

        var reference = StreamAnalytics(logger: quietLogger)
        var expected = reference.process(logs: try parseLogs(first))
        expected.append(reference.process(logs: try parseLogs(late)))

        // The second worker replays the first one's last publication (same sequence): keep one
        // of each. Whole-system windows come from the coordinator, one publication per window
        // end, and are not emitted again after the restart.
        struct Name: Hashable { var topic: String; var sequence: Int64 }
        var seen = Set<Name>()
        let all = publications.items.withLock { $0 }
        let got = all.filter { seen.insert(Name(topic: $0.topic, sequence: $0.sequence)).inserted }
        #expect(all.count == got.count + 1)
        let partition = got.filter { $0.topic == "logs.raw" }
        #expect(partition.count >= 2 && partition.map(\.sequence) == Array(1...Int64(partition.count)))
        #expect(got.allSatisfy { $0.topic == "logs.raw" || $0.topic == "logs-global" })
        var output = AnalyticsOutput()
        for p in got { output.append(p.output) }
        // Micro-batches close windows at other moments than two big batches do: compare contents.
        func services(_ o: AnalyticsOutput) -> [ServiceMetrics] { o.services.sorted { ($0.window, $0.service) < ($1.window, $1.service) } }
        func clients(_ o: AnalyticsOutput) -> [ClientMetrics] { o.clients.sorted { ($0.window, $0.clientIp) < ($1.window, $1.clientIp) } }
        #expect(services(output) == services(expected))
        #expect(clients(output) == clients(expected))
        #expect(output.system.sorted { $0.window < $1.window } == expected.system.sorted { $0.window < $1.window })
        func alerts(_ a: [Alert]) -> [Alert] { a.sorted { ($0.window, $0.type.rawValue) < ($1.window, $1.type.rawValue) } }
        #expect(alerts(output.alerts) == alerts(expected.alerts))
        #expect(output.alerts.contains { $0.type == .ddos && $0.subject == "10.66.66.66" })
        #expect(output.lateCounts.map(\.count) == [1])
        let lateRecords = try lateLogRows(lake: dir.appending("lake"))
        #expect(lateRecords.count == 1 && lateRecords.timestampMicros.values == [micros(epoch0 + 10)])
        #expect(analyticsStore.services(finalOnly: true).count == expected.services.count)
        #expect(analyticsStore.services().allSatisfy { $0.isFinal } == false, "open windows are served too")
    }
}
