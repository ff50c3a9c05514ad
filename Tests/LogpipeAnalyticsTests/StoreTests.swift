import LogpipeAnalytics
import LogpipeGenerator
import LogpipeRecords
import Testing

@Suite("In-memory store of recent windows and alerts")
struct StoreTests {
    @Test("time-range queries return the recorded windows and alerts; subscribers get alerts as they come")
    func queries() async throws {
        let flood = Incident(kind: .ipFlood, subject: "10.66.66.66", start: epoch0 + 600, end: epoch0 + 700)
        var generator = RecordGenerator(seed: 3, incidents: [flood])
        let logs = try parseLogs(generator.logs(count: 24_000, start: epoch0, spacing: 0.05))
        let store = AnalyticsStore()
        let subscription = store.alertStream()
        var analytics = StreamAnalytics(logger: quietLogger)
        let out = runAll(&analytics, logs: logs, batchSize: 1_000)
        store.record(out)
        store.record(AnalyticsOutput(lateCounts: [LateCount(stream: .logs, window: out.services[0].window, key: "x", count: 2)]))
        store.record(AnalyticsOutput(lateCounts: [LateCount(stream: .logs, window: out.services[0].window, key: "x", count: 3)]))

        #expect(store.services() == out.services.sorted { ($0.window, $0.service) < ($1.window, $1.service) })
        let from = micros(epoch0 + 300), to = micros(epoch0 + 600)
        let window = store.services(from: from, to: to, service: "api-gateway")
        #expect(window.map(\.window.startMicros) == stride(from: from, to: to, by: 60_000_000).map { $0 })
        #expect(window.allSatisfy { $0.service == "api-gateway" })
        #expect(store.system(from: from, to: to).count == 5)
        #expect(store.alerts(type: .ddos).map(\.subject) == ["10.66.66.66"])
        #expect(store.alerts(from: micros(epoch0 + 1200)).isEmpty)
        #expect(store.lateCounts().map(\.count) == [5])

        var received: [Alert] = []
        for await alert in subscription {
            received.append(alert)
            if received.count == out.alerts.count { break }
        }
        #expect(received == out.alerts)
    }

    /// The retention tests' store and input: 10 minutes kept of 20 minutes of logs.
    static let retentionMicros: Int64 = 10 * 60_000_000
    static func twentyMinutesOfLogs() throws -> LogBatch {
        var generator = RecordGenerator(seed: 4)
        return try parseLogs(generator.logs(count: 12_000, start: epoch0, spacing: 0.1))
    }

    /// The system windows left once everything is recorded: the last 10 minutes' and the
    /// one the cutoff falls in.
    static func expectRetainedSystemWindows(_ store: AnalyticsStore) {
        let starts = Set(store.system().map(\.window.startMicros))
        #expect(starts.count == 11)
        #expect(starts.min() == micros(epoch0 + 540) && starts.max() == micros(epoch0 + 1140))
    }

    @Test("windows older than the retention are dropped")
    func retention() throws {
        let store = AnalyticsStore(retentionMicros: Self.retentionMicros)
        var analytics = StreamAnalytics(logger: quietLogger)
        store.record(runAll(&analytics, logs: try Self.twentyMinutesOfLogs(), batchSize: 2_000))
        Self.expectRetainedSystemWindows(store)
    }

    /// Pruning runs only once the cutoff has moved an eighth of the retention; reads in
    /// between still leave out exactly the windows past it.
    @Test("recorded batch by batch, reads apply the exact retention between prunings")
    func retentionBetweenPrunings() throws {
        let store = AnalyticsStore(retentionMicros: Self.retentionMicros)
        let logs = try Self.twentyMinutesOfLogs()
        var analytics = StreamAnalytics(logger: quietLogger)
        // 200 rows: 20 s of event time per batch, less than the 75 s between prunings.
        var start = 0
        while start < logs.count {
            let end = min(logs.count, start + 200)
            store.record(analytics.process(logs: slice(logs, start..<end)))
            start = end
            let newest = store.system().map(\.window.startMicros).max() ?? .min
            #expect(store.system().allSatisfy { $0.window.startMicros >= newest - Self.retentionMicros })
        }
        store.record(analytics.finish())
        Self.expectRetainedSystemWindows(store)
        #expect(Set(store.services().map(\.window.startMicros)).min() == micros(epoch0 + 540))
    }
}
