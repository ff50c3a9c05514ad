import Foundation
import LogpipeGenerator
import Testing

struct RecordGeneratorTests {
    static let start = 1_767_225_600.0

    func objects(_ ndjson: [UInt8]) throws -> [[String: Any]] {
        try ndjson.split(separator: UInt8(ascii: "\n")).map {
            try #require(try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
        }
    }

    @Test func theSameSeedGivesTheSameRecords() {
        var a = RecordGenerator(seed: 9)
        var b = RecordGenerator(seed: 9)
        var c = RecordGenerator(seed: 10)
        let first = a.logs(count: 500, start: Self.start)
        #expect(first == b.logs(count: 500, start: Self.start))
        #expect(first != c.logs(count: 500, start: Self.start))
    }

    @Test func logsFollowTheContractAndTheirLevelsAgreeWithStatus() throws {
        var generator = RecordGenerator(seed: 1)
        let logs = try objects(generator.logs(count: 5000, start: Self.start, spacing: 0.01))
        #expect(logs.count == 5000)
        var services = Set<String>(), users = Set<String>(), ips = Set<String>(), requestIds = Set<String>()
        for (i, log) in logs.enumerated() {
            let timestamp = try #require(log["timestamp"] as? Double)
            #expect(abs(timestamp - (Self.start + Double(i) * 0.01)) < 1e-6)
            let metadata = try #require(log["metadata"] as? [String: Any])
            let status = try #require(metadata["status_code"] as? Int)
            let level = try #require(log["level"] as? String)
            if status >= 500 { #expect(level == "ERROR") } else if status >= 400 { #expect(level == "WARN") } else { #expect(level != "ERROR") }
            #expect((metadata["response_time_ms"] as? Int ?? 0) >= 1)
            services.insert(try #require(log["service"] as? String))
            users.insert(try #require(metadata["user_id"] as? String))
            ips.insert(try #require(metadata["client_ip"] as? String))
            requestIds.insert(try #require(metadata["request_id"] as? String))
            #expect(log["host"] is String && log["message"] is String)
        }
        #expect(services.count == RecordGenerator.services.count)
        #expect(requestIds.count == 5000)
        #expect(users.count > 500 && ips.count > 300)
        let errors = logs.filter { ($0["level"] as? String) == "ERROR" }.count
        #expect(errors > 0 && errors < 100)  // about 0.6 %
    }

    @Test func eventsFollowTheContract() throws {
        var generator = RecordGenerator(seed: 2)
        let events = try objects(generator.events(count: 2000, start: Self.start))
        var types = Set<String>()
        for event in events {
            #expect((event["event_id"] as? String)?.hasPrefix("evt-") == true)
            #expect((event["user_id"] as? String)?.hasPrefix("user_") == true)
            #expect((event["session_id"] as? String)?.hasPrefix("sess_") == true)
            let type = try #require(event["event_type"] as? String)
            types.insert(type)
            let data = try #require(event["event_data"] as? [String: Any])
            #expect(data["page"] is String)
            if type == "PURCHASE" { #expect(data["amount"] is Double || data["amount"] is Int) }
            let device = try #require(event["device"] as? [String: String])
            #expect(device.keys.sorted() == ["browser", "os", "type"])
        }
        #expect(types == ["PAGE_VIEW", "CLICK", "SEARCH", "ADD_TO_CART", "PURCHASE", "LOGIN", "LOGOUT"])
    }

    @Test func incidentsChangeOnlyTheirSubjectWhileTheyLast() throws {
        let incidents = [
            Incident(kind: .errorBurst, subject: "payment-service", start: Self.start + 100, end: Self.start + 200),
            Incident(kind: .latencySpike, subject: "search-service", start: Self.start + 100, end: Self.start + 200),
            Incident(kind: .ipFlood, subject: "203.0.113.7", start: Self.start + 100, end: Self.start + 200),
        ]
        var generator = RecordGenerator(seed: 3, incidents: incidents)
        let logs = try objects(generator.logs(count: 30_000, start: Self.start, spacing: 0.01))
        func share(_ rows: ArraySlice<[String: Any]>, service: String) -> Double {
            let mine = rows.filter { $0["service"] as? String == service }
            let errors = mine.filter { (($0["metadata"] as? [String: Any])?["status_code"] as? Int ?? 0) >= 500 }
            return Double(errors.count) / Double(max(1, mine.count))
        }
        func meanLatency(_ rows: ArraySlice<[String: Any]>, service: String) -> Double {
            let values = rows.filter { $0["service"] as? String == service }.compactMap { ($0["metadata"] as? [String: Any])?["response_time_ms"] as? Int }
            return Double(values.reduce(0, +)) / Double(max(1, values.count))
        }
        let before = logs[0..<10_000], during = logs[10_000..<20_000], after = logs[20_000...]
        #expect(share(before, service: "payment-service") < 0.05)
        #expect(share(during, service: "payment-service") > 0.4)
        #expect(share(during, service: "user-service") < 0.05)
        #expect(share(after, service: "payment-service") < 0.05)
        #expect(meanLatency(during, service: "search-service") > 5 * meanLatency(before, service: "search-service"))
        let flood = during.filter { ($0["metadata"] as? [String: Any])?["client_ip"] as? String == "203.0.113.7" }
        #expect(flood.count > 4000)
        let floodUsers = Set(flood.compactMap { ($0["metadata"] as? [String: Any])?["user_id"] as? String })
        #expect(floodUsers.count < 5)
        #expect(before.allSatisfy { ($0["metadata"] as? [String: Any])?["client_ip"] as? String != "203.0.113.7" })
    }
}
