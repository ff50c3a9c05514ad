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
        let flood = "203.0.113.7"
        let start = epoch0 + 17.25
        var generator = RecordGenerator(seed: 42, incidents: [Incident(kind: .ipFlood, subject: flood, start: start + 300, end: start + 420)])
        let logBytes = generator.logs(count: 60_000, start: start, spacing: 0.01)
        let eventBytes = generator.events(count: 30_000, start: start, spacing: 0.02)

        let dir = try TemporaryDirectory(prefix: "logpipe-analytics-global")
        defer { dir.remove() }
        let bus = try LocalBus(directory: dir.appending("bus"))
        try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: partitions))
        try await bus.createTopic(TopicSpec(name: "events.activity", partitions: partitions))
        // Logs keyed by service, as the collector keys them; events round-robin.
        var batch = ProduceBatch()
        for line in logBytes.split(separator: UInt8(ascii: "\n")) {
            batch.append(key: ProcessRestartTests.service(of: line), value: line)
        }
        _ = try await bus.produce(topic: "logs.raw", batch: batch)
        try await LakeTesting.produceLines(bus, topic: "events.activity", ndjson: eventBytes)
        // A record far later on every partition moves every watermark past the data's windows.
        for p in 0..<partitions {
            var closer = ProduceBatch()
            closer.append(key: nil as [UInt8]?, value: Array(logLine(t: start + 1300, service: "closer", ip: "10.0.0.9").utf8), partition: p)
            _ = try await bus.produce(topic: "logs.raw", batch: closer)
            closer = ProduceBatch()
            let event = #"{"event_id":"closer-\#(p)","timestamp":\#(start + 1300),"user_id":"u","session_id":"s","event_type":"CLOSE"}"#
            closer.append(key: nil as [UInt8]?, value: Array(event.utf8), partition: p)
            _ = try await bus.produce(topic: "events.activity", batch: closer)
        }

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

        try Data(logBytes).write(to: URL(fileURLWithPath: dir.appending("logs.ndjson")))
        try Data(eventBytes).write(to: URL(fileURLWithPath: dir.appending("events.ndjson")))
        let rows = try runPython(duckdbScript, arguments: [dir.appending("logs.ndjson"), dir.appending("events.ndjson")])
        let userError = 3 * HyperLogLog.standardError(precision: AnalyticsConfiguration().distinctPrecision)

        // System: one row per minute, equal to the SQL over all records.
        let expectedSystem = rows.filter { $0.string("kind") == "system" }
        #expect(expectedSystem.count == 11 && rows.count { $0.string("kind") == "client" } > 100)
        #expect(out.system.count == expectedSystem.count, "\(partitions) partitions: one system row per window")
        let system = Dictionary(out.system.map { ($0.window.startMicros, $0) }, uniquingKeysWith: { a, _ in a })
        for e in expectedSystem {
            let m = try #require(system[e.int("ws")], "missing system window \(e.int("ws"))")
            #expect(m.requestCount == e.int("n"))
            #expect(m.errorCount == e.int("errors"))
            #expect(m.activeServices == e.int("services"))
            #expect(relativeError(Double(m.activeUsers), Double(e.int("users"))) <= userError)
            #expect(relativeError(m.avgResponseTime!, e.double("avg")!) <= 1e-9)
            #expect(m.healthScore == SystemMetrics.healthScore(errorRate: Double(e.int("errors")) / Double(e.int("n")) * 100))
        }

        // Client IPs per 5 minutes: one row per window and IP.
        let expectedClients = rows.filter { $0.string("kind") == "client" }
        #expect(out.clients.count == expectedClients.count)
        let clients = Dictionary(out.clients.map { ("\($0.window.startMicros)/\($0.clientIp)", $0) }, uniquingKeysWith: { a, _ in a })
        for e in expectedClients {
            let key = "\(e.int("ws"))/\(e.string("ip"))"
            let m = try #require(clients[key], "missing client window \(key)")
            #expect(m.requestCount == e.int("n"), "\(key)")
            #expect(m.distinctUsers == e.int("users"), "\(key)")
            #expect(m.servicesUsed == e["services"] as! [String], "\(key)")
        }

        // Activities per type and minute.
        let expectedActivities = rows.filter { $0.string("kind") == "activity" }
        #expect(out.activities.count == expectedActivities.count)
        let activities = Dictionary(out.activities.map { ("\($0.window.startMicros)/\($0.eventType)", $0) }, uniquingKeysWith: { a, _ in a })
        for e in expectedActivities {
            let key = "\(e.int("ws"))/\(e.string("event_type"))"
            let m = try #require(activities[key], "missing activity window \(key)")
            #expect(m.eventCount == e.int("n"), "\(key)")
            #expect(relativeError(Double(m.distinctUsers), Double(e.int("users"))) <= userError, "\(key)")
        }
        for e in rows where e.string("kind") == "breakdown" {
            let key = "\(e.int("ws"))/\(e.string("event_type"))"
            let m = try #require(activities[key])
            let table = switch e.string("dim") {
            case "type": m.deviceTypes
            case "os": m.operatingSystems
            default: m.browsers
            }
            #expect(table[e.string("v")] == e.int("n"), "\(key) \(e.string("dim")) \(e.string("v"))")
        }

        // The flood reached several partitions (its requests span services); it raises one alert.
        let ddos = out.alerts.filter { $0.type == .ddos }
        #expect(ddos.count == 1 && ddos.first?.subject == flood, "\(ddos)")
    }
}
