#if Kafka
import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeKafka
import LogpipeTesting
import Testing

/// Two `logpipe stream` workers in one Kafka consumer group combine the whole-system
/// windows through the lake's exchange: one row per window holding every record, and one
/// DDoS alert for a flood spread over every partition.
@Suite(.serialized) struct KafkaGlobalWindowTests {
    /// Every JSON line of every published file of a lake family, parsed.
    static func rows(_ lake: String, _ family: String) throws -> [[String: Any]] {
        let root = "\(lake)/\(family)"
        var out: [[String: Any]] = []
        for path in (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? [] {
            guard let name = path.split(separator: "/").last, name.hasPrefix("part-"), name.hasSuffix(".json") else { continue }
            for line in try String(contentsOfFile: "\(root)/\(path)", encoding: .utf8).split(separator: "\n") {
                out.append(try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])
            }
        }
        return out
    }

    static func window(_ row: [String: Any]) -> Int64 {
        ((row["window"] as! [String: Any])["start_micros"] as! NSNumber).int64Value
    }

    static func sum(_ rows: [[String: Any]], _ field: String) -> Int64 {
        rows.reduce(0) { $0 + ($1[field] as! NSNumber).int64Value }
    }

    @Test func twoWorkersEmitOneRowPerWindowAndOneAlert() async throws {
        try await TansuBroker.with { broker in
            let directory = try TemporaryDirectory(prefix: "kafka-global-windows")
            defer { directory.remove() }
            let lake = directory.appending("lake")
            let flood = "203.0.113.7"
            let start = 1_768_176_017.25
            var generator = RecordGenerator(seed: 42, incidents: [Incident(kind: .ipFlood, subject: flood, start: start + 300, end: start + 420)])
            let logs = generator.logs(count: 20_000, start: start, spacing: 0.03)
            let events = generator.events(count: 10_000, start: start, spacing: 0.06)

            let bus = try KafkaBus(configuration: KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers))
            try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
            try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 3))
            // Logs keyed by service as the collector keys them, events round-robin; then a record
            // far later on every partition, so every watermark passes the data's windows.
            var logBatch = ProduceBatch()
            var floodPartitions = Set<Int32>()
            let marker = Array(#""service":""#.utf8)
            for line in logs.split(separator: UInt8(ascii: "\n")) {
                let at = line.indices.first { line[$0...].starts(with: marker) }!
                let key = Array(line[(at + marker.count)...].prefix { $0 != UInt8(ascii: "\"") })
                logBatch.append(key: key, value: line)
                if String(decoding: line, as: UTF8.self).contains(flood) {
                    floodPartitions.insert(KafkaPartitioner.partition(key: key, partitions: 3))
                }
            }
            _ = try await bus.produce(topic: "logs.raw", batch: logBatch)
            var eventBatch = ProduceBatch()
            for (i, line) in events.split(separator: UInt8(ascii: "\n")).enumerated() {
                eventBatch.append(key: nil as [UInt8]?, value: line, partition: Int32(i % 3))
            }
            _ = try await bus.produce(topic: "events.activity", batch: eventBatch)
            for p in Int32(0)..<3 {
                var closer = ProduceBatch()
                let log = #"{"timestamp":\#(start + 1300),"level":"INFO","service":"closer","host":"h","message":"m","metadata":{"client_ip":"10.0.0.9"}}"#
                closer.append(key: nil as [UInt8]?, value: Array(log.utf8), partition: p)
                _ = try await bus.produce(topic: "logs.raw", batch: closer)
                closer = ProduceBatch()
                let event = #"{"event_id":"closer-\#(p)","timestamp":\#(start + 1300),"user_id":"u","session_id":"s","event_type":"CLOSE"}"#
                closer.append(key: nil as [UInt8]?, value: Array(event.utf8), partition: p)
                _ = try await bus.produce(topic: "events.activity", batch: closer)
            }
            try await bus.close()
            #expect(floodPartitions.count == 3, "the flood reaches every partition")

            let children = LogpipeChildren()
            defer { children.killAll() }
            for i in 0..<2 {
                _ = try children.start([
                    "stream", "--bus", broker.url, "--lake", lake, "--data-dir", directory.appending("stream-\(i)"),
                    "--api-port", "0", "--roll-seconds", "0.2", "--idle-timeout", "0",
                    "--kafka-property", "session.timeout.ms=6000", "--log-level", "info",
                ])
            }
            // 10 minutes of data from minute 0.25: 11 one-minute windows, every log and event in them.
            try await eventually("every record in the whole-system windows", timeout: .seconds(60),
                                 interval: .milliseconds(200),
                                 describe: { children.standardErrors() }) {
                let system = try Self.rows(lake, "metrics/system"), activities = try Self.rows(lake, "metrics/activities")
                let ddos = try Self.rows(lake, "alerts").filter { $0["type"] as? String == "ddos" }
                return Self.sum(system, "request_count") >= 20_000 && Self.sum(activities, "event_count") >= 10_000 && !ddos.isEmpty
            }
            try await Task.sleep(for: .seconds(1))
            let system = try Self.rows(lake, "metrics/system")
            #expect(system.count == 11 && Set(system.map(Self.window)).count == 11, "one system row per window: \(system.count)")
            #expect(Self.sum(system, "request_count") == 20_000)
            let activities = try Self.rows(lake, "metrics/activities")
            #expect(Self.sum(activities, "event_count") == 10_000)
            #expect(Set(activities.map { "\(Self.window($0))/\($0["event_type"] as! String)" }).count == activities.count)
            let clients = try Self.rows(lake, "metrics/clients")
            #expect(Set(clients.map { "\(Self.window($0))/\($0["client_ip"] as! String)" }).count == clients.count)
            let ddos = try Self.rows(lake, "alerts").filter { $0["type"] as? String == "ddos" }
            #expect(ddos.count == 1 && ddos.first?["subject"] as? String == flood, "\(ddos)")
        }
    }
}
#endif
