import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import LogpipeAnalytics
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeRecords
import LogpipeServers
import LogpipeTesting
import Testing

/// One naming for analytics output wherever a user sees it.
@Suite("Analytics output: one naming in the lake, the alerts topic and the API")
struct AnalyticsNamingTests {
    static let epoch0: Double = 1_768_176_000

    /// Every key of `value` (recursively), except inside the dictionaries that hold data
    /// (device, OS and browser names as sent).
    static func keys(_ value: Any, into out: inout Set<String>) {
        if let object = value as? [String: Any] {
            for (k, v) in object {
                out.insert(k)
                if !["device_types", "operating_systems", "browsers"].contains(k) { keys(v, into: &out) }
            }
        } else if let array = value as? [Any] {
            for v in array { keys(v, into: &out) }
        }
    }

    static func isSnakeCase(_ key: String) -> Bool {
        !key.isEmpty && key.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }
    }

    /// A JSON object as text with sorted keys, to compare rows whatever their key order.
    static func canonical(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    static func lines(_ root: String) throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        for path in (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? [] where path.hasSuffix(".json") {
            let text = try String(contentsOfFile: root + "/" + path, encoding: .utf8)
            for line in text.split(separator: "\n") {
                out.append(try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])
            }
        }
        return out
    }

    @Test("lake metric and alert files, alerts-topic records and API bodies use the same snake_case keys")
    func snakeCaseEverywhere() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-naming")
        defer { dir.remove() }
        let flood = Incident(kind: .ipFlood, subject: "10.66.66.66", start: Self.epoch0 + 120, end: Self.epoch0 + 300)
        var generator = RecordGenerator(seed: 3, incidents: [flood])
        var reader = JSONBodyReader()
        var logs = LogBatch()
        _ = try reader.readLogs(body: generator.logs(count: 8_000, start: Self.epoch0, spacing: 0.05), into: &logs)
        var events = ActivityBatch()
        _ = try reader.readActivities(body: generator.events(count: 2_000, start: Self.epoch0, spacing: 0.2), into: &events)
        var analytics = StreamAnalytics(logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        var output = analytics.process(logs: logs)
        output.append(analytics.process(activities: events))
        output.append(analytics.finish())
        #expect(!output.services.isEmpty && !output.clients.isEmpty && !output.system.isEmpty && !output.activities.isEmpty)
        #expect(output.alerts.contains { $0.type == .ddos })

        let lake = try LocalFileStore(root: dir.appending("lake"))
        let bus = try LocalBus(directory: dir.appending("bus"))
        let publisher = AnalyticsPublisher(store: lake, bus: bus, webhook: nil, logger: Logger(label: "test"))
        try await publisher.prepare()
        await publisher.publish(AnalyticsPublication(topic: "logs.raw", partition: 0, sequence: 1, output: output))
        await publisher.shutdown()

        var lakeKeys = Set<String>()
        var lakeServiceRows: [[String: Any]] = []
        for family in ["metrics/services", "metrics/clients", "metrics/system", "metrics/activities", "alerts"] {
            let rows = try Self.lines(dir.appending("lake/\(family)"))
            #expect(!rows.isEmpty, "\(family) has rows")
            for row in rows { Self.keys(row, into: &lakeKeys) }
            if family == "metrics/services" { lakeServiceRows = rows }
        }
        #expect(lakeKeys.allSatisfy(Self.isSnakeCase), "not snake_case: \(lakeKeys.filter { !Self.isSnakeCase($0) }.sorted())")
        #expect(lakeKeys.isSuperset(of: ["request_count", "start_micros", "end_micros", "is_final", "health_score",
                                         "client_ip", "event_type", "device_types", "p95_response_time"]))
        // Device names are data, kept as sent.
        let activityRows = try Self.lines(dir.appending("lake/metrics/activities"))
        let oses = Set(activityRows.flatMap { ($0["operating_systems"] as! [String: Any]).keys })
        #expect(oses.contains("iOS"))

        var topicKeys = Set<String>()
        let alertsTopic = TopicPartition(topic: AnalyticsPublisher.alertsTopic, partition: 0)
        let fetched = try await bus.fetch(alertsTopic, from: 0, maxBytes: 1 << 20, maxWaitMillis: 0)
        #expect(fetched.records.count == output.alerts.count)
        for record in fetched.records {
            let json = try JSONSerialization.jsonObject(with: Data(fetched.buffer[Int(record.value.lowerBound)..<Int(record.value.upperBound)]))
            Self.keys(json, into: &topicKeys)
        }
        #expect(topicKeys.allSatisfy(Self.isSnakeCase) && topicKeys.contains("start_micros"))
        try await bus.close()

        let lakeServices = try Set(lakeServiceRows.map(Self.canonical))
        let store = AnalyticsStore()
        store.record(output)
        let app = LogpipeApplications.api(store: store, host: "127.0.0.1", port: 0, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            for path in ["/api/metrics/services", "/api/metrics/system", "/api/alerts", "/api/metrics/late"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok)
                    let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8))
                    var keys = Set<String>()
                    Self.keys(body, into: &keys)
                    #expect(keys.allSatisfy(Self.isSnakeCase), "\(path): \(keys.filter { !Self.isSnakeCase($0) }.sorted())")
                    if path == "/api/metrics/services" {
                        // The same rows, key for key, as the lake's.
                        let api = try (body as! [[String: Any]]).map(Self.canonical)
                        #expect(api.count == lakeServices.count && Set(api) == lakeServices)
                    }
                }
            }
        }
    }
}
