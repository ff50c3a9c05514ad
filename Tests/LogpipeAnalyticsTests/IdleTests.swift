import Foundation
import LogpipeAnalytics
import LogpipeBus
import LogpipeLake
import LogpipeStream
import LogpipeTesting
import Testing

@Suite("Idle partitions close their windows by the clock")
struct IdleTests {
    @Test("traffic stops: the last window is emitted (final, in the lake's publication) within the idle timeout")
    func lastWindowClosesWhenTrafficStops() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-analytics-idle")
        defer { dir.remove() }
        let bus = try LocalBus(directory: dir.appending("bus"))
        try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 1))
        let store = try LocalFileStore(root: dir.appending("lake"))
        var configuration = StreamConfiguration(sources: [.init(topic: "logs.raw", kind: .logs, partitionsIfCreated: 1)])
        configuration.compaction = nil
        var analytics = AnalyticsConfiguration()
        analytics.allowedLatenessMicros = 2_000_000
        analytics.idleTimeoutMicros = 2_000_000
        let publications = SinkTests.Publications()
        let live = AnalyticsStore()
        let sink = AnalyticsSink(configuration: analytics, store: live) { publications.add($0) }
        let worker = StreamWorker(bus: bus, store: store, configuration: configuration, extraSinks: [sink], logger: quietLogger)
        let running = Task { try await worker.run() }

        // 100 rows in the minute before the one 5 s ago began: their window has ended, but
        // nothing after them moves the watermark past its end.
        let m = (wallClockMicros() / 1_000_000 - 5) / 60 * 60
        let lines = (0..<100).map { logLine(t: Double(m - 30) + Double($0) * 0.1, service: "quiet") }
        try await SinkTests.produce(bus, Array(lines.joined(separator: "\n").utf8))
        let produced = ContinuousClock.now
        let window = TimeWindow(startMicros: (m - 60) * 1_000_000, endMicros: m * 1_000_000)

        var final: ServiceMetrics?
        while final == nil, ContinuousClock.now - produced < .seconds(30) {
            final = live.services(finalOnly: true).first { $0.window == window }
            if final == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let elapsed = ContinuousClock.now - produced
        // Then the commit that idleness asked for publishes it to the lake.
        while !publications.items.withLock({ $0.contains { $0.output.services.contains { $0.window == window } } }),
              ContinuousClock.now - produced < .seconds(30) {
            try await Task.sleep(for: .milliseconds(50))
        }
        worker.requestStop()
        try await running.value
        try await bus.close()

        let emitted = try #require(final, "the last window never closed")
        #expect(emitted.requestCount == 100 && emitted.isFinal)
        // Idle timeout (2 s) plus a fetch wait and a loaded machine's slack, far below the
        // next record that would otherwise be needed.
        #expect(elapsed < .seconds(2 + 8), "closed after \(elapsed)")
        let published = publications.items.withLock { $0 }.flatMap(\.output.services).filter { $0.window == window }
        #expect(published == [emitted])
        #expect(live.lateCounts().isEmpty)
    }
}
