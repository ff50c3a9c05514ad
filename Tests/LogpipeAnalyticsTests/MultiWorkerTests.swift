import Foundation
import LogpipeAnalytics
import LogpipeBus
import LogpipeGenerator
import LogpipeTesting
import Testing

/// Several `logpipe stream` processes in one group on the embedded bus: the whole-system
/// windows in the lake are one row per window, equal to DuckDB's SQL over all records.
@Suite("Whole-system windows across worker processes", .serialized)
struct MultiWorkerTests {
    static let flood = "203.0.113.7"
    static let start = epoch0 + 17.25

    /// 10 minutes of logs (with an IP flood that reaches every partition) and events.
    static func records() -> (logs: [UInt8], events: [UInt8]) {
        var generator = RecordGenerator(seed: 42, incidents: [Incident(kind: .ipFlood, subject: flood, start: start + 300, end: start + 420)])
        return (generator.logs(count: 20_000, start: start, spacing: 0.03), generator.events(count: 10_000, start: start, spacing: 0.06))
    }

    /// Logs keyed by service (as the collector keys them), events round-robin.
    static func produce(_ bus: LocalBus, logs: ArraySlice<ArraySlice<UInt8>>, events: [UInt8]) async throws {
        var batch = ProduceBatch()
        for line in logs { batch.append(key: ProcessRestartTests.service(of: line), value: line) }
        if batch.count > 0 { _ = try await bus.produce(topic: "logs.raw", batch: batch) }
        if !events.isEmpty { _ = try await LakeTesting.produceLines(bus, topic: "events.activity", ndjson: events) }
    }

    /// A record far later on every partition: every watermark passes the data's windows.
    static func produceClosers(_ bus: LocalBus, partitions: Int32) async throws {
        for p in 0..<partitions {
            var closer = ProduceBatch()
            closer.append(key: nil as [UInt8]?, value: Array(logLine(t: start + 1300, service: "closer", ip: "10.0.0.9").utf8), partition: p)
            _ = try await bus.produce(topic: "logs.raw", batch: closer)
            closer = ProduceBatch()
            let event = #"{"event_id":"closer-\#(p)","timestamp":\#(start + 1300),"user_id":"u","session_id":"s","event_type":"CLOSE"}"#
            closer.append(key: nil as [UInt8]?, value: Array(event.utf8), partition: p)
            _ = try await bus.produce(topic: "events.activity", batch: closer)
        }
    }

    static func worker(bus: String, lake: String, lateness: Int = 300) throws -> ChildProcess {
        try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: [
            "stream", "--bus", "local:\(bus)", "--lake", lake, "--roll-seconds", "0.2", "--idle-timeout", "0",
            "--lateness", String(lateness), "--api-port", "0", "--log-level", "info"])
    }

    /// What the lake holds of the whole-system families.
    static func lakeOutput(_ lake: String) throws -> AnalyticsOutput {
        let rows = try ProcessRestartTests.lakeRows(lake)
        let decoder = JSONDecoder()
        var out = AnalyticsOutput()
        out.system = try rows["metrics/system", default: []].map { try decoder.decode(SystemMetrics.self, from: Data($0.utf8)) }
        out.clients = try rows["metrics/clients", default: []].map { try decoder.decode(ClientMetrics.self, from: Data($0.utf8)) }
        out.activities = try rows["metrics/activities", default: []].map { try decoder.decode(ActivityMetrics.self, from: Data($0.utf8)) }
        out.alerts = try rows["alerts", default: []].map { try decoder.decode(Alert.self, from: Data($0.utf8)) }
        return out
    }

    /// DuckDB's global aggregates over the raw records.
    static func expectedRows(_ dir: TemporaryDirectory, _ records: (logs: [UInt8], events: [UInt8])) throws -> [[String: Any]] {
        try Data(records.logs).write(to: URL(fileURLWithPath: dir.appending("logs.ndjson")))
        try Data(records.events).write(to: URL(fileURLWithPath: dir.appending("events.ndjson")))
        let floodSQL = #"emit('flood', "select (t // 60000000) * 60000000 as ws, count(*) as n from logs where ip = '\#(Self.flood)' group by all")"#
        return try runPython(duckdbScript + "\n" + floodSQL, arguments: [dir.appending("logs.ndjson"), dir.appending("events.ndjson")])
    }

    /// Waits until the lake holds as many rows of each family as SQL expects and a DDoS
    /// alert, then a little longer so a second row of a window would show.
    static func waitForLake(_ lake: String, rows: [[String: Any]], workers: [ChildProcess], seconds: Double = 60) async throws -> AnalyticsOutput {
        let want = (system: rows.count { $0.string("kind") == "system" }, clients: rows.count { $0.string("kind") == "client" },
                    activities: rows.count { $0.string("kind") == "activity" })
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let out = try Self.lakeOutput(lake)
            if out.system.count >= want.system && out.clients.count >= want.clients && out.activities.count >= want.activities
                && out.alerts.contains(where: { $0.type == .ddos }) {
                try await Task.sleep(nanoseconds: 1_000_000_000)
                return try Self.lakeOutput(lake)
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        let logs = workers.map { String(decoding: $0.standardError.suffix(3000), as: UTF8.self) }.joined(separator: "\n---\n")
        Issue.record("the lake did not reach \(want) within \(seconds) s; workers' logs:\n\(logs)")
        return try Self.lakeOutput(lake)
    }

    /// One row per window, each equal to the SQL aggregate; one DDoS alert with the true count.
    static func check(_ out: AnalyticsOutput, _ rows: [[String: Any]], _ label: String) throws {
        let userError = 3 * HyperLogLog.standardError(precision: AnalyticsConfiguration().distinctPrecision)
        let expectedSystem = rows.filter { $0.string("kind") == "system" }
        #expect(expectedSystem.count == 11, "\(label)")
        #expect(out.system.count == expectedSystem.count, "\(label): one system row per window")
        let system = Dictionary(out.system.map { ($0.window.startMicros, $0) }, uniquingKeysWith: { a, _ in a })
        for e in expectedSystem {
            let m = try #require(system[e.int("ws")], "\(label): missing system window \(e.int("ws"))")
            #expect(m.requestCount == e.int("n"), "\(label)")
            #expect(m.errorCount == e.int("errors"), "\(label)")
            #expect(m.activeServices == e.int("services"), "\(label)")
            #expect(relativeError(Double(m.activeUsers), Double(e.int("users"))) <= userError, "\(label)")
            #expect(relativeError(m.avgResponseTime!, e.double("avg")!) <= 1e-9, "\(label)")
            #expect(m.healthScore == SystemMetrics.healthScore(errorRate: Double(e.int("errors")) / Double(e.int("n")) * 100), "\(label)")
        }
        let expectedClients = rows.filter { $0.string("kind") == "client" }
        #expect(out.clients.count == expectedClients.count, "\(label): one row per client window and IP")
        let clients = Dictionary(out.clients.map { ("\($0.window.startMicros)/\($0.clientIp)", $0) }, uniquingKeysWith: { a, _ in a })
        for e in expectedClients {
            let key = "\(e.int("ws"))/\(e.string("ip"))"
            let m = try #require(clients[key], "\(label): missing client window \(key)")
            #expect(m.requestCount == e.int("n"), "\(label) \(key)")
            #expect(m.distinctUsers == e.int("users"), "\(label) \(key)")
            #expect(m.servicesUsed == e["services"] as! [String], "\(label) \(key)")
        }
        let expectedActivities = rows.filter { $0.string("kind") == "activity" }
        #expect(out.activities.count == expectedActivities.count, "\(label): one row per activity window and type")
        let activities = Dictionary(out.activities.map { ("\($0.window.startMicros)/\($0.eventType)", $0) }, uniquingKeysWith: { a, _ in a })
        for e in expectedActivities {
            let key = "\(e.int("ws"))/\(e.string("event_type"))"
            let m = try #require(activities[key], "\(label): missing activity window \(key)")
            #expect(m.eventCount == e.int("n"), "\(label) \(key)")
            #expect(relativeError(Double(m.distinctUsers), Double(e.int("users"))) <= userError, "\(label) \(key)")
        }
        for e in rows where e.string("kind") == "breakdown" {
            let key = "\(e.int("ws"))/\(e.string("event_type"))"
            let m = try #require(activities[key], "\(label): missing activity window \(key)")
            let table = switch e.string("dim") {
            case "type": m.deviceTypes
            case "os": m.operatingSystems
            default: m.browsers
            }
            #expect(table[e.string("v")] == e.int("n"), "\(label) \(key) \(e.string("dim")) \(e.string("v"))")
        }
        // One alert, for the first flood minute over the threshold, with that minute's true request count.
        let ddos = out.alerts.filter { $0.type == .ddos }
        #expect(ddos.count == 1 && ddos.first?.subject == flood, "\(label): \(ddos)")
        if let alert = ddos.first {
            let minute = try #require(rows.first { $0.string("kind") == "flood" && $0.int("ws") == alert.window.startMicros },
                                      "\(label): no flood requests in the alert's window \(alert.window)")
            #expect(alert.observed["request_count"] == Double(minute.int("n")), "\(label): alert \(alert.observed), SQL \(minute)")
        }
    }

    @Test("3 and 6 partitions, 1 and 3 `logpipe stream` workers: one row per window equal to SQL, one DDoS alert",
          arguments: [(Int32(3), 1), (Int32(3), 3), (Int32(6), 1), (Int32(6), 3)])
    func workers(partitions: Int32, workers count: Int) async throws {
        let dir = try TemporaryDirectory(prefix: "analytics-workers")
        defer { dir.remove() }
        let records = Self.records()
        let bus = try LocalBus(directory: dir.appending("bus"))
        try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: partitions))
        try await bus.createTopic(TopicSpec(name: "events.activity", partitions: partitions))
        let lines = records.logs.split(separator: UInt8(ascii: "\n"))
        try await Self.produce(bus, logs: lines[...], events: records.events)
        try await Self.produceClosers(bus, partitions: partitions)
        let rows = try Self.expectedRows(dir, records)

        let children = try (0..<count).map { _ in try Self.worker(bus: dir.appending("bus"), lake: dir.appending("lake")) }
        defer { for c in children { c.kill() } }
        let out = try await Self.waitForLake(dir.appending("lake"), rows: rows, workers: children)
        try Self.check(out, rows, "\(partitions) partitions, \(count) workers")
        let mergers = children.filter { String(decoding: $0.standardError, as: UTF8.self).contains("merging whole-system windows") }
        #expect(!mergers.isEmpty)
        for c in children { c.kill() }
        for c in children { _ = await c.waitForExit() }
        try await bus.close()
    }

    /// Whether `child` merges the log stream now, from its last log line about merging.
    static func mergesLogs(_ child: ChildProcess) -> Bool {
        let lines = String(decoding: child.standardError, as: UTF8.self).split(separator: "\n")
        guard let last = lines.last(where: { $0.contains("whole-system windows") && $0.contains("stream=logs") }) else { return false }
        return !last.contains("no longer")
    }

    /// The merger is killed once it has raised the DDoS alert for the flood's first minute;
    /// the flood's later minutes are emitted by its successor, which must know the incident
    /// is already open (the detector history in the exchange) and raise no second alert.
    @Test("3 workers, the merger killed with SIGKILL after its first windows and alert: still one row per window and one DDoS alert")
    func mergerKilled() async throws {
        let dir = try TemporaryDirectory(prefix: "analytics-merger-killed")
        defer { dir.remove() }
        let records = Self.records()
        let bus = try LocalBus(directory: dir.appending("bus"))
        try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
        try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 3))
        let lines = records.logs.split(separator: UInt8(ascii: "\n"))
        let events = records.events.split(separator: UInt8(ascii: "\n"))
        func joined(_ part: ArraySlice<ArraySlice<UInt8>>) -> [UInt8] { Array(part.joined(separator: [UInt8(ascii: "\n")])) + [UInt8(ascii: "\n")] }
        // The first 70% (up to minute 7, before the flood ends): with 60 s of lateness the
        // windows up to minute 6 close, the flood's first minute among them.
        let cut = lines.count * 7 / 10, eventCut = events.count * 7 / 10
        try await Self.produce(bus, logs: lines[..<cut], events: joined(events[..<eventCut]))
        let rows = try Self.expectedRows(dir, records)

        let lake = dir.appending("lake")
        let children = try (0..<3).map { _ in try Self.worker(bus: dir.appending("bus"), lake: lake, lateness: 60) }
        defer { for c in children { c.kill() } }
        let deadline = Date().addingTimeInterval(30)
        func alerted() throws -> Bool { try Self.lakeOutput(lake).alerts.contains { $0.type == .ddos } }
        while Date() < deadline, try !alerted() || !children.contains(where: Self.mergesLogs) {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        let merger = try #require(children.first(where: Self.mergesLogs), "no worker merges the log stream")
        let before = try Self.lakeOutput(lake)
        #expect(before.alerts.count { $0.type == .ddos } == 1)
        #expect(before.system.count >= 2 && before.system.count < 11)
        merger.kill()
        #expect(ChildProcess.killedBySignal(await merger.waitForExit()) == SIGKILL)

        try await Self.produce(bus, logs: lines[cut...], events: joined(events[eventCut...]))
        try await Self.produceClosers(bus, partitions: 3)
        let survivors = children.filter { $0 !== merger }
        let out = try await Self.waitForLake(lake, rows: rows, workers: survivors)
        try Self.check(out, rows, "merger killed")
        #expect(survivors.contains(where: Self.mergesLogs), "a survivor took over merging")
        for c in survivors { c.kill() }
        for c in survivors { _ = await c.waitForExit() }
        try await bus.close()
    }
}
