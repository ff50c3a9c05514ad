import Foundation
@testable import LogpipeAnalytics
import Testing

/// The hand-written analytics JSON must be byte for byte what `JSONEncoder` wrote before it:
/// the lake's metric files, the alerts topic and commit states keep one format.
@Suite("Analytics JSON writer")
struct JSONWriterTests {
    static func foundation(_ value: some Encodable) throws -> String {
        String(decoding: try AnalyticsJSON.encoder().encode(value), as: UTF8.self)
    }

    static func ours(_ value: some AnalyticsJSONEncodable) -> String {
        String(decoding: AnalyticsJSON.encode(value), as: UTF8.self)
    }

    @Test("real analytics output: every row and the whole publication match JSONEncoder")
    func realOutput() throws {
        let (logs, events) = try SnapshotTests.input()
        var analytics = StreamAnalytics(logger: quietLogger)
        let output = SnapshotTests.feed(&analytics, logs, events, 0..<logs.count)
        // The generator is seeded: these are the rows of every family this input makes.
        let counts: [Int] = [output.services.count, output.clients.count, output.system.count, output.activities.count,
                             output.alerts.count, output.lateCounts.count]
        #expect(counts == [228, 8133, 19, 133, 2, 1])
        var compared = 0
        func check(_ rows: [some AnalyticsJSONEncodable]) throws {
            for row in rows {
                #expect(Self.ours(row) == (try Self.foundation(row)))
                compared += 1
            }
        }
        try check(output.services)
        try check(output.clients)
        try check(output.system)
        try check(output.activities)
        try check(output.alerts)
        try check(output.lateCounts)
        #expect(compared == counts.reduce(0, +))
        var withRows = output
        withRows.lateRows = [0, 7, 123_456]
        withRows.futureRows = [3]
        let publication = AnalyticsPublication(topic: "logs.raw", partition: 2, sequence: 41, output: withRows)
        let json = Self.ours(publication)
        #expect(json == (try Self.foundation(publication)))
        let decoder = JSONDecoder()
        #expect(try decoder.decode(AnalyticsPublication.self, from: Data(json.utf8)) == publication)
    }

    @Test("strings, numbers, missing values and data keys as JSONEncoder writes them")
    func edgeCases() throws {
        let nasty = "a\"b\\c/d\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{0}é\u{7f}\u{2028}😀 end"
        let window = TimeWindow(startMicros: -1_000_000, endMicros: Int64.max)
        let doubles: [Double] = [0, -0.0, 1, -1, 0.1, 1.0 / 3, 1e-5, 4e-7, 100, 1e15, 1.5e15, 9_007_199_254_740_991,
                                 9_007_199_254_740_992, 1e16, 1.2345678901234568e17, 1e21, 2.5e-300, .leastNonzeroMagnitude,
                                 .greatestFiniteMagnitude, -123.456, .infinity, -.infinity, .nan]
        for d in doubles {
            let service = ServiceMetrics(window: window, service: nasty, requestCount: Int64.min, responseTimeCount: Int64.max,
                                         responseTimeSum: d, avgResponseTime: d, minResponseTime: nil, maxResponseTime: d,
                                         stddevResponseTime: nil, p50ResponseTime: d, p95ResponseTime: nil, p99ResponseTime: d,
                                         errorCount: 0, errorRate: d, successCount: -7, fastCount: 12, availability: d,
                                         performance: d, isFinal: d > 0)
            #expect(Self.ours(service) == (try Self.foundation(service)), "\(d)")
            let system = SystemMetrics(window: window, requestCount: 5, activeServices: 2, activeUsers: 3, avgResponseTime: d > 1 ? d : nil,
                                       errorCount: 1, errorRate: d, healthScore: -40, isFinal: false)
            #expect(Self.ours(system) == (try Self.foundation(system)), "\(d)")
            let alert = Alert(type: .responseTimeAnomaly, subject: nasty, window: window,
                              observed: ["z_score": d, "Zeta": 1, "avg_response_time": -d, "p10": 2, "p9": 3, "é": 4, "e": 5],
                              thresholds: [:], message: nasty)
            #expect(Self.ours(alert) == (try Self.foundation(alert)), "\(d)")
        }
        let client = ClientMetrics(window: window, clientIp: "10.0.0.1", requestCount: 9, distinctUsers: 0, servicesUsed: [], isFinal: true)
        #expect(Self.ours(client) == (try Self.foundation(client)))
        let client2 = ClientMetrics(window: window, clientIp: nasty, requestCount: 9, distinctUsers: 2, servicesUsed: ["b", nasty, "a"],
                                    isFinal: false)
        #expect(Self.ours(client2) == (try Self.foundation(client2)))
        let activity = ActivityMetrics(window: window, eventType: "CLICK", eventCount: 10, distinctUsers: 4, distinctSessions: 5,
                                       deviceTypes: ["mobile": 3, "desktop": 7, "Tablet": 0], operatingSystems: ["iOS": 3, "Android": 2, "Linux": 5],
                                       browsers: [:], isFinal: true)
        #expect(Self.ours(activity) == (try Self.foundation(activity)))
        for reason in LateReason.allCases {
            for stream in AnalyticsStream.allCases {
                let late = LateCount(stream: stream, window: window, key: nasty, count: 3, reason: reason)
                #expect(Self.ours(late) == (try Self.foundation(late)))
            }
        }
        let empty = AnalyticsPublication(topic: nasty, partition: Int32.min, sequence: 0, output: AnalyticsOutput())
        #expect(Self.ours(empty) == (try Self.foundation(empty)))
    }

    /// The lines JSONEncoder writes for `rows`, one row per line.
    static func foundationLines(_ rows: [some Encodable]) throws -> String {
        try rows.map { try foundation($0) + "\n" }.joined()
    }

    @Test("client-IP rows as JSON lines, with the window and service list made once per run: the bytes JSONEncoder writes")
    func clientLines() throws {
        let (logs, events) = try SnapshotTests.input()
        var analytics = StreamAnalytics(logger: quietLogger)
        let output = SnapshotTests.feed(&analytics, logs, events, 0..<logs.count)
        var lines: [UInt8] = []
        ClientMetrics.appendJSONLines(output.clients[...], to: &lines)
        #expect(output.clients.count == 8133)
        #expect(String(decoding: lines, as: UTF8.self) == (try Self.foundationLines(output.clients)))

        // Runs that change window, service list (shared storage, equal contents in other
        // storage, empty) and finality row by row, and values that need escaping.
        let nasty = "a\"b\\c/d\n\u{1}é😀"
        let shared = ["api-gateway", "auth-service"]
        let windows = [TimeWindow(startMicros: -300_000_000, endMicros: 0), TimeWindow(startMicros: 0, endMicros: 300_000_000)]
        var rows: [ClientMetrics] = []
        for i in 0..<40 {
            let services: [String] = switch i % 5 {
            case 0, 1: shared
            case 2: ["api-gateway"] + ["auth-service"]
            case 3: []
            default: [nasty, "z"]
            }
            rows.append(ClientMetrics(window: windows[(i / 7) % 2], clientIp: i % 9 == 0 ? nasty : "10.0.\(i).\(i * 7)",
                                      requestCount: Int64(i * 1_000_003) - 7, distinctUsers: Int64(i % 4), servicesUsed: services,
                                      isFinal: i % 3 != 0))
        }
        var mixed: [UInt8] = []
        ClientMetrics.appendJSONLines(rows[...], to: &mixed)
        #expect(String(decoding: mixed, as: UTF8.self) == (try Self.foundationLines(rows)))
        // A slice of a run, appended after other bytes.
        var tail = Array("x\n".utf8)
        ClientMetrics.appendJSONLines(rows[13..<29], to: &tail)
        #expect(String(decoding: tail, as: UTF8.self) == "x\n" + (try Self.foundationLines(Array(rows[13..<29]))))
    }
}
