import LogpipeAnalytics
import LogpipeRecords
import Testing

@Suite("Event-time windows, watermarks and late data")
struct WindowTests {
    @Test("a row behind the watermark leaves an emitted window unchanged and is counted late")
    func lateRowInAppendMode() throws {
        var analytics = StreamAnalytics(logger: quietLogger)
        // Minute 0 gets two rows; then time jumps to 6.5 minutes: watermark 1.5 minutes, minute 0 closes.
        var out = analytics.process(logs: try logBatch([
            logLine(t: epoch0 + 10, service: "a", rt: 10),
            logLine(t: epoch0 + 20, service: "a", rt: 30),
            logLine(t: epoch0 + 390, service: "a", rt: 50),
        ]))
        #expect(analytics.watermarkMicros(.logs) == micros(epoch0 + 90))
        let first = try #require(out.services.first)
        #expect(out.services.count == 1)
        #expect(first.window == TimeWindow(startMicros: micros(epoch0), endMicros: micros(epoch0 + 60)))
        #expect(first.requestCount == 2 && first.responseTimeSum == 40 && first.isFinal)
        #expect(out.lateRows.isEmpty)

        // A row for minute 0 (behind the watermark), one at the watermark itself (not late) and a normal one.
        out = analytics.process(logs: try logBatch([
            logLine(t: epoch0 + 30, service: "a", rt: 1000),
            logLine(t: epoch0 + 90, service: "a", rt: 7),
            logLine(t: epoch0 + 400, service: "a", rt: 9),
        ]))
        #expect(out.services.isEmpty)
        #expect(out.lateRows == [0])
        #expect(out.lateCounts == [LateCount(stream: .logs, window: first.window, key: "a", count: 1)])

        out = analytics.finish()
        let windows = out.services.map { ($0.window.startMicros, $0.requestCount, $0.responseTimeSum) }
        #expect(windows.count == 2)
        #expect(windows[0] == (micros(epoch0 + 60), 1, 7))
        #expect(windows[1] == (micros(epoch0 + 360), 2, 59))
        #expect(!out.services.contains { $0.window == first.window }, "minute 0 is never emitted again")
        #expect(analytics.openWindowCount == 0)
    }

    @Test("whether a row is late depends on the rows before it, not on the batch boundaries")
    func batchingIndependence() throws {
        var lines: [String] = []
        for i in 0..<400 {
            // Mostly in order, with rows up to 7 minutes late mixed in.
            let t = epoch0 + Double(i) * 3 - (i % 9 == 0 ? 420 : 0)
            lines.append(logLine(t: t, service: ["a", "b", "c"][i % 3], rt: Double(i % 50), status: i % 13 == 0 ? 500 : 200,
                                 ip: "10.0.0.\(i % 7)", user: "u\(i % 11)"))
        }
        let batch = try logBatch(lines)
        var reference: AnalyticsOutput?
        for size in [1, 7, 64, 400] {
            var analytics = StreamAnalytics(logger: quietLogger)
            var out = AnalyticsOutput()
            var lateRows: [Int] = []
            var start = 0
            while start < batch.count {
                let end = min(batch.count, start + size)
                let o = analytics.process(logs: slice(batch, start..<end))
                lateRows += o.lateRows.map { $0 + start }
                out.append(o)
                start = end
            }
            out.append(analytics.finish())
            out.lateRows = lateRows
            let late = out.lateRows.count
            #expect(late > 0 && late < 400 / 9 + 1)
            if let reference {
                #expect(out.services == reference.services)
                #expect(out.clients == reference.clients)
                #expect(out.system == reference.system)
                #expect(out.lateRows == reference.lateRows)
                #expect(out.lateCounts.reduce(0) { $0 + $1.count } == reference.lateCounts.reduce(0) { $0 + $1.count })
            } else {
                reference = out
            }
        }
    }

    @Test("sliding windows count each row in every window covering it")
    func slidingWindows() throws {
        var configuration = AnalyticsConfiguration()
        configuration.serviceWindow = .sliding(seconds: 120, every: 30)
        var analytics = StreamAnalytics(configuration: configuration, logger: quietLogger)
        let times: [Double] = [0, 29.9, 30, 61, 119.5, 150]
        let out = runAll(&analytics, logs: try logBatch(times.map { logLine(t: epoch0 + $0, service: "s", rt: $0) }),
                         batchSize: 2)
        // Every window [k·30, k·30 + 120) that holds at least one row, with its exact rows.
        var expected: [Int64: [Double]] = [:]
        for t in times {
            var k = Int64((t / 30).rounded(.down))
            while Double(k) * 30 > t - 120 {
                expected[k * 30, default: []].append(t)
                k -= 1
            }
        }
        #expect(out.services.count == expected.count)
        for m in out.services {
            let startSeconds = (m.window.startMicros - micros(epoch0)) / 1_000_000
            let rows = try #require(expected[startSeconds])
            #expect(m.window.endMicros - m.window.startMicros == 120_000_000)
            #expect(m.requestCount == Int64(rows.count), "window at +\(startSeconds)s")
            #expect(m.responseTimeSum == rows.reduce(0, +))
        }
        #expect(out.services.reduce(0) { $0 + $1.requestCount } == Int64(times.count * 4))
    }

    @Test("update mode emits a window in each batch that changed it, append mode once")
    func updateMode() throws {
        var configuration = AnalyticsConfiguration()
        configuration.outputMode = .update
        var analytics = StreamAnalytics(configuration: configuration, logger: quietLogger)
        var out = analytics.process(logs: try logBatch([logLine(t: epoch0 + 1, service: "a", rt: 5)]))
        #expect(out.services.map(\.requestCount) == [1])
        #expect(out.services.map(\.isFinal) == [false])
        out = analytics.process(logs: try logBatch([logLine(t: epoch0 + 2, service: "a", rt: 5)]))
        #expect(out.services.map(\.requestCount) == [2])
        // A batch that only moves time on closes minute 0 without changing it: nothing for it in update mode.
        out = analytics.process(logs: try logBatch([logLine(t: epoch0 + 400, service: "b", rt: 5)]))
        #expect(out.services.map(\.service) == ["b"])
        #expect(out.system.count == 1 && out.system[0].window.startMicros == micros(epoch0 + 360))
    }

    @Test("state stays bounded: windows behind the watermark are evicted")
    func boundedState() throws {
        var analytics = StreamAnalytics(logger: quietLogger)
        var lines: [String] = []
        var peak = 0
        for minute in 0..<120 {
            lines = (0..<50).map { i in
                logLine(t: epoch0 + Double(minute) * 60 + Double(i), service: "s\(i % 5)", ip: "10.1.\(minute).\(i)", user: "u\(i)")
            }
            _ = analytics.process(logs: try logBatch(lines))
            peak = max(peak, analytics.openWindowCount)
        }
        // 5-minute lateness: about 7 service/system/flood minutes and 2-3 client windows are open at any time.
        #expect(peak < 7 * (5 + 1 + 50) + 3 * 50 * 5)
        #expect(analytics.openWindowCount <= peak)
    }
}
