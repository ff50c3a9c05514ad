import Foundation
import LogpipeAnalytics
import LogpipeBus
import LogpipeLake
import LogpipeRecords
import LogpipeStream
import LogpipeTesting
import Testing

@Suite("Event time ahead of the clock")
struct FutureTests {
    /// 2100-01-01 00:00:00 UTC.
    static let year2100: Double = 4_102_444_800

    /// The future record, then 600 rows of service `a` two seconds apart, from 20 minutes
    /// before now (minute-aligned), so the last one is before now.
    static func lines(nowMicros: Int64) -> (lines: [String], base: Double) {
        let base = Double((nowMicros / 60_000_000) * 60 - 1200)
        var lines = [logLine(t: year2100, service: "a", ip: "10.9.9.9")]
        for i in 0..<600 { lines.append(logLine(t: base + Double(i) * 2, service: "a")) }
        return (lines, base)
    }

    @Test("a record dated years ahead moves no watermark: later rows are on time, windows close, it is counted future")
    func futureRecordDoesNotHijackTheWatermark() throws {
        let now = wallClockMicros()
        let (lines, base) = Self.lines(nowMicros: now)
        var analytics = StreamAnalytics(logger: quietLogger)
        var out = AnalyticsOutput()
        // Row by row and in one batch alike.
        for line in lines { out.append(analytics.process(logs: try logBatch([line]), nowMicros: now)) }
        #expect(out.lateRows.isEmpty)
        #expect(out.futureRows == [0])
        #expect(analytics.watermarkMicros(.logs) == micros(base + 1198 - 300))
        // Windows ending at or before the watermark (base + 898) closed: 14 minutes of 30 rows.
        #expect(out.services.count == 14)
        #expect(out.services.allSatisfy { $0.requestCount == 30 && $0.isFinal })
        #expect(out.services.first?.window.startMicros == micros(base))
        let futureWindow = TimeWindow(startMicros: micros(Self.year2100), endMicros: micros(Self.year2100 + 60))
        #expect(out.lateCounts == [LateCount(stream: .logs, window: futureWindow, key: "a", count: 1, reason: .future)])

        var whole = StreamAnalytics(logger: quietLogger)
        let once = whole.process(logs: try logBatch(lines), nowMicros: now)
        #expect(once.lateRows.isEmpty && once.futureRows == [0] && once.services == out.services)

        // Arrival, not processing time, bounds a row: a row stamped 2 minutes after it was
        // appended to the bus is on time, 10 minutes after is future, whenever it is processed.
        var replay = StreamAnalytics(logger: quietLogger)
        let arrival = Int64(base * 1000)
        let r = replay.process(logs: try logBatch([logLine(t: base + 120, service: "a"), logLine(t: base + 600, service: "b")]),
                               arrivalMillis: [arrival, arrival], nowMicros: now)
        #expect(r.futureRows == [1] && r.lateRows.isEmpty)
    }

    @Test("through the stream: the future record reaches the raw lake, is kept with the late rows and served")
    func futureRecordThroughTheSink() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-analytics-future")
        defer { dir.remove() }
        let (lines, _) = Self.lines(nowMicros: wallClockMicros())
        let bus = try LocalBus(directory: dir.appending("bus"))
        try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 1))
        try await SinkTests.produce(bus, Array(lines.joined(separator: "\n").utf8))
        let store = try LocalFileStore(root: dir.appending("lake"))
        var configuration = StreamConfiguration(sources: [.init(topic: "logs.raw", kind: .logs, partitionsIfCreated: 1)])
        configuration.compaction = nil
        let publications = SinkTests.Publications()
        let analyticsStore = AnalyticsStore()
        let sink = AnalyticsSink(store: analyticsStore) { publications.add($0) }
        let statistics = try await StreamWorker(bus: bus, store: store, configuration: configuration, extraSinks: [sink],
                                                logger: quietLogger).runUntilCaughtUp()
        try await bus.close()
        #expect(statistics.records == 601)
        let raw = try await LakeListing.partitions(store: store, datasets: [.logs]).reduce(0) { $0 + $1.rows }
        #expect(raw == 601)

        let all = publications.items.withLock { $0 }
        let output = all.reduce(into: AnalyticsOutput()) { $0.append($1.output) }
        #expect(output.lateCounts.map(\.reason) == [.future])
        #expect(output.services.count == 14)
        let kept = try lateLogRows(lake: dir.appending("lake"))
        #expect(kept.count == 1 && kept.timestampMicros.values == [micros(Self.year2100)])
        #expect(analyticsStore.lateCounts(reason: .future).map(\.count) == [1])
        #expect(analyticsStore.lateCounts(reason: .late).isEmpty)
    }
}
