import LogpipeAnalytics
import LogpipeGenerator
import LogpipeRecords
import Testing

@Suite("Snapshot and restore")
struct SnapshotTests {
    /// 25 minutes of logs and events with an incident, a few late rows, fed in batches.
    static func input() throws -> (LogBatch, ActivityBatch) {
        let flood = Incident(kind: .ipFlood, subject: "10.66.66.66", start: epoch0 + 600, end: epoch0 + 800)
        var generator = RecordGenerator(seed: 9, incidents: [flood])
        var logBytes = generator.logs(count: 30_000, start: epoch0, spacing: 0.05)
        logBytes += Array((logLine(t: epoch0 + 5, service: "api-gateway") + "\n").utf8)  // late by then
        let logs = try parseLogs(logBytes)
        let events = try parseActivities(generator.events(count: 15_000, start: epoch0, spacing: 0.1))
        return (logs, events)
    }

    static func feed(_ analytics: inout StreamAnalytics, _ logs: LogBatch, _ events: ActivityBatch,
                     _ range: Range<Int>) -> AnalyticsOutput {
        var out = AnalyticsOutput()
        var i = range.lowerBound
        while i < range.upperBound {
            let end = min(range.upperBound, i + 777)
            out.append(analytics.process(logs: slice(logs, i..<end)))
            let e0 = i / 2, e1 = min(events.count, end / 2 + (end == logs.count ? events.count : 0))
            if e0 < e1 { out.append(analytics.process(activities: slice(events, e0..<min(e1, events.count)))) }
            i = end
        }
        return out
    }

    @Test("process half, snapshot, restore into a fresh instance, process the rest: same as uninterrupted")
    func restoreContinuesExactly() throws {
        let (logs, events) = try Self.input()
        let half = 14_000

        var uninterrupted = StreamAnalytics(logger: quietLogger)
        var expected = Self.feed(&uninterrupted, logs, events, 0..<half)
        let snapshotAtHalf = uninterrupted.snapshot()
        expected.append(Self.feed(&uninterrupted, logs, events, half..<logs.count))
        let finalSnapshot = uninterrupted.snapshot()
        expected.append(uninterrupted.finish())

        var first = StreamAnalytics(logger: quietLogger)
        var got = Self.feed(&first, logs, events, 0..<half)
        let bytes = first.snapshot()
        #expect(bytes == snapshotAtHalf, "equal states give equal bytes")
        var restored = try StreamAnalytics(restoring: bytes, logger: quietLogger)
        #expect(restored.snapshot() == bytes)
        got.append(Self.feed(&restored, logs, events, half..<logs.count))
        #expect(restored.snapshot() == finalSnapshot)
        got.append(restored.finish())

        #expect(got.services == expected.services)
        #expect(got.clients == expected.clients)
        #expect(got.system == expected.system)
        #expect(got.activities == expected.activities)
        #expect(got.alerts == expected.alerts)
        #expect(got.lateCounts == expected.lateCounts)
        #expect(expected.alerts.contains { $0.type == .ddos }, "the flood's incident state crosses the snapshot")
        #expect(expected.lateCounts.reduce(0) { $0 + $1.count } == 1)
        #expect(expected.services.count > 250 && expected.activities.count > 100)
    }

    @Test("a snapshot refuses a configuration of another shape, truncation and foreign bytes")
    func refusals() throws {
        let (logs, events) = try Self.input()
        var analytics = StreamAnalytics(logger: quietLogger)
        _ = Self.feed(&analytics, logs, events, 0..<5_000)
        let bytes = analytics.snapshot()

        var other = AnalyticsConfiguration()
        other.allowedLatenessMicros = 60_000_000
        #expect(throws: AnalyticsSnapshotError.configurationMismatch) {
            _ = try StreamAnalytics(configuration: other, restoring: bytes, logger: quietLogger)
        }
        var fresh = StreamAnalytics(logger: quietLogger)
        let before = fresh.snapshot()
        for cut in [3, 10, bytes.count / 2, bytes.count - 1] {
            #expect(throws: AnalyticsSnapshotError.self) { try fresh.restore(Array(bytes[0..<cut])) }
        }
        #expect(throws: AnalyticsSnapshotError.self) { try fresh.restore(Array("not a snapshot".utf8)) }
        #expect(fresh.snapshot() == before, "a failed restore leaves the state alone")
        var newer = bytes
        newer[4] = 0xFF
        #expect(throws: AnalyticsSnapshotError.unsupportedVersion(0x00FF)) { try fresh.restore(newer) }
    }
}
