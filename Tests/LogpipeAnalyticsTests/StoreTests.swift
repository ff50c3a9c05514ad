import LogpipeAnalytics
import LogpipeGenerator
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

    @Test("windows older than the retention are dropped")
    func retention() throws {
        let store = AnalyticsStore(retentionMicros: 10 * 60_000_000)
        var generator = RecordGenerator(seed: 4)
        let logs = try parseLogs(generator.logs(count: 12_000, start: epoch0, spacing: 0.1))
        var analytics = StreamAnalytics(logger: quietLogger)
        store.record(runAll(&analytics, logs: logs, batchSize: 2_000))
        let starts = Set(store.system().map(\.window.startMicros))
        #expect(starts.count == 11)
        #expect(starts.min() == micros(epoch0 + 540) && starts.max() == micros(epoch0 + 1140))
    }

    /// Pruning runs only once the cutoff has moved an eighth of the retention; reads in
    /// between still leave out exactly the windows past it.
    @Test("recorded batch by batch, reads apply the exact retention between prunings")
    func retentionBetweenPrunings() throws {
        let store = AnalyticsStore(retentionMicros: 10 * 60_000_000)
        var generator = RecordGenerator(seed: 4)
        let logs = try parseLogs(generator.logs(count: 12_000, start: epoch0, spacing: 0.1))
        var analytics = StreamAnalytics(logger: quietLogger)
        // 200 rows: 20 s of event time per batch, less than the 75 s between prunings.
        var start = 0
        while start < logs.count {
            let end = min(logs.count, start + 200)
            store.record(analytics.process(logs: slice(logs, start..<end)))
            start = end
            let newest = store.system().map(\.window.startMicros).max() ?? .min
            #expect(store.system().allSatisfy { $0.window.startMicros >= newest - 10 * 60_000_000 })
        }
        store.record(analytics.finish())
        let starts = Set(store.system().map(\.window.startMicros))
        #expect(starts.count == 11)
        #expect(starts.min() == micros(epoch0 + 540) && starts.max() == micros(epoch0 + 1140))
        #expect(Set(store.services().map(\.window.startMicros)).min() == micros(epoch0 + 540))
    }
}
