import Foundation
import LogpipeAnalytics
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeStream
import LogpipeTesting
import Testing

@Suite("Whole-system windows combined across partitions")
struct GlobalWindowTests {
    @Test("system, client-IP and activity windows over N partitions equal DuckDB's global aggregates; one DDoS alert per flood",
          arguments: [Int32(3), Int32(6)])
    func combinedAcrossPartitions(partitions: Int32) async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-analytics-global")
        defer { dir.remove() }
        let records = MultiWorkerTests.records()
        let bus = try LocalBus(directory: dir.appending("bus"))
        try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: partitions))
        try await bus.createTopic(TopicSpec(name: "events.activity", partitions: partitions))
        try await MultiWorkerTests.produce(bus, logs: records.logs.split(separator: UInt8(ascii: "\n"))[...], events: records.events)
        try await MultiWorkerTests.produceClosers(bus, partitions: partitions)

        var configuration = StreamConfiguration()
        configuration.rawSinkEnabled = false
        configuration.compaction = nil
        var expectedSources: [AnalyticsStream: Set<TopicPartition>] = [:]
        for p in 0..<partitions {
            expectedSources[.logs, default: []].insert(TopicPartition(topic: "logs.raw", partition: p))
            expectedSources[.activities, default: []].insert(TopicPartition(topic: "events.activity", partition: p))
        }
        let publications = SinkTests.Publications()
        let sink = AnalyticsSink(store: AnalyticsStore(), expected: expectedSources) { publications.add($0) }
        let store = try LocalFileStore(root: dir.appending("lake"))
        try await StreamWorker(bus: bus, store: store, configuration: configuration, extraSinks: [sink], logger: quietLogger)
            .runUntilCaughtUp()
        try await bus.close()
        let out = publications.items.withLock { $0 }.reduce(into: AnalyticsOutput()) { $0.append($1.output) }
        #expect(out.lateCounts.isEmpty)
        // The flood reached several partitions (its requests span services); it raises one alert.
        try MultiWorkerTests.check(out, try MultiWorkerTests.expectedRows(dir, records), "\(partitions) partitions, in process")
    }
}
