import CompressNIO
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import LogpipeBus
import LogpipeGenerator
import LogpipeServers
import LogpipeTesting
import NIOCore
import Testing

/// The collector through a real socket onto a real local bus in a temporary directory.
struct CollectorTests {
    static let now = 1_767_225_600.0  // 2026-01-01T00:00:00Z

    /// Runs `body` against a live collector on a fresh bus; returns what `body` returns.
    func withCollector<T: Sendable>(
        configuration: CollectorConfiguration = CollectorConfiguration(port: 0),
        busOptions: LocalBusOptions = LocalBusOptions(),
        _ body: @Sendable (any TestClientProtocol, LocalBus) async throws -> T
    ) async throws -> T {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let bus = try LocalBus(directory: dir.appending("bus"), options: busOptions)
        try await Ingestor(bus: bus).prepareTopics()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let app = LogpipeApplications.collector(bus: bus, configuration: configuration, logger: logger)
        let result = try await app.test(.ahc(.http)) { client in try await body(client, bus) }
        try await bus.close()
        return result
    }

    /// Every record on `topic`, as its value's text, in partition then offset order.
    func values(_ bus: LocalBus, _ topic: String) async throws -> [String] {
        var out: [String] = []
        for partition in try await bus.topics().first(where: { $0.name == topic })!.partitions {
            var offset = partition.lowWatermark
            while offset < partition.highWatermark {
                let batch = try await bus.fetch(TopicPartition(topic: topic, partition: partition.partition), from: offset, maxBytes: 1 << 20, maxWaitMillis: 0)
                for record in batch.records {
                    out.append(String(decoding: batch.buffer[Int(record.value.lowerBound)..<Int(record.value.upperBound)], as: UTF8.self))
                }
                offset = batch.nextOffset(after: offset)
            }
        }
        return out
    }

    func post(_ client: any TestClientProtocol, _ path: String, _ body: [UInt8], contentType: String = "application/json",
              headers extra: HTTPFields = [:]) async throws -> (HTTPResponse.Status, String, HTTPFields) {
        var headers: HTTPFields = [.contentType: contentType]
        headers.append(contentsOf: extra)
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: body)) { response in
            (response.status, String(buffer: response.body), response.headers)
        }
    }

    @Test func acceptsAnArrayAndPutsEachRecordOnTheBusAsSent() async throws {
        var generator = RecordGenerator(seed: 1)
        let body = generator.logArray(count: 100, start: Self.now)
        var again = RecordGenerator(seed: 1)
        let expected = again.logs(count: 100, start: Self.now).split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
        try await withCollector { client, bus in
            let (status, text, _) = try await post(client, "/api/collect/logs", body)
            #expect(status == .ok)
            #expect(text == #"{"accepted":100,"rejected":[]}"#)
            let stored = try await values(bus, "logs.raw")
            #expect(stored.count == 100)
            #expect(Set(stored) == Set(expected))
            #expect(try await values(bus, "logs.raw.dlq").isEmpty)
        }
    }

    @Test func recordsOfOneServiceShareAPartition() async throws {
        var generator = RecordGenerator(seed: 2)
        let body = generator.logArray(count: 300, start: Self.now)
        try await withCollector { client, bus in
            _ = try await post(client, "/api/collect/logs", body)
            for partition in try await bus.topics().first(where: { $0.name == "logs.raw" })!.partitions {
                let batch = try await bus.fetch(TopicPartition(topic: "logs.raw", partition: partition.partition), from: 0, maxBytes: 1 << 24, maxWaitMillis: 0)
                for record in batch.records {
                    let key = Array(batch.buffer[Int(record.key!.lowerBound)..<Int(record.key!.upperBound)])
                    #expect(KafkaPartitioner.partition(key: key, partitions: 3) == partition.partition)
                }
            }
        }
    }

    @Test func takesNDJSONASingleObjectAndGzip() async throws {
        var generator = RecordGenerator(seed: 3)
        let ndjson = generator.events(count: 50, start: Self.now)
        var single: [UInt8] = []
        generator.appendEvent(to: &single, timestamp: Self.now)
        let one = single
        var gzipped = ByteBuffer(bytes: generator.eventArray(count: 20, start: Self.now))
        let compressed = try gzipped.compress(with: .gzip())
        try await withCollector { client, bus in
            let first = try await post(client, "/api/collect/activities", ndjson, contentType: "application/x-ndjson").1
            let second = try await post(client, "/api/collect/activities", one).1
            #expect(first == #"{"accepted":50,"rejected":[]}"#)
            #expect(second == #"{"accepted":1,"rejected":[]}"#)
            let (status, text, _) = try await post(client, "/api/collect/activities", Array(buffer: compressed), headers: [.contentEncoding: "gzip"])
            #expect(status == .ok)
            #expect(text == #"{"accepted":20,"rejected":[]}"#)
            #expect(try await values(bus, "events.activity").count == 71)
        }
    }

    @Test func acceptsTheValidRecordsOfAMixedRequestAndDeadLettersTheRest() async throws {
        var generator = RecordGenerator(seed: 4)
        var lines = generator.logs(count: 5, start: Self.now).split(separator: UInt8(ascii: "\n")).map(Array.init)
        lines[1] = Array(#"{"timestamp":"yesterday","level":"INFO","service":"a","message":"m"}"#.utf8)
        lines[3] = Array(#"{"timestamp":1767225600,"level":"VERBOSE","service":"a","message":"m"}"#.utf8)
        let body = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
        try await withCollector { client, bus in
            let (status, text, _) = try await post(client, "/api/collect/logs", body, contentType: "application/x-ndjson")
            #expect(status == .ok)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(json["accepted"] as? Int == 3)
            let rejected = try #require(json["rejected"] as? [[String: Any]])
            #expect(rejected.map { $0["index"] as? Int } == [1, 3])
            #expect(rejected.map { $0["field"] as? String } == ["timestamp", "level"])
            #expect(try await values(bus, "logs.raw").count == 3)
            let dead = try await values(bus, "logs.raw.dlq")
            #expect(dead.count == 2)
            let letters = try dead.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            #expect(Set(letters.compactMap { $0["field"] as? String }) == ["timestamp", "level"])
            #expect(letters.contains { ($0["record"] as? String)?.contains("VERBOSE") == true })
        }
    }

    /// Hostile and broken bodies: each gets the right 4xx, and the server stays up.
    @Test func rejectsBadInputWithTheRightStatusAndStaysUp() async throws {
        struct Case {
            var name: String
            var body: [UInt8]
            var contentType = "application/json"
            var expected: HTTPResponse.Status = .badRequest
        }
        let valid = #"{"timestamp":1767225600,"level":"INFO","service":"a","message":"m""#
        var cases: [Case] = []
        cases.append(Case(name: "empty body", body: []))
        cases.append(Case(name: "whitespace", body: Array("  \n ".utf8)))
        cases.append(Case(name: "truncated array", body: Array("[\(valid)},{\"times".utf8)))
        cases.append(Case(name: "not JSON", body: Array("hello world".utf8)))
        cases.append(Case(name: "wrong types", body: Array(#"{"timestamp":true,"level":1,"service":[],"message":{}}"#.utf8)))
        cases.append(Case(name: "huge number", body: Array(#"{"timestamp":1e400,"level":"INFO","service":"a","message":"m"}"#.utf8)))
        cases.append(Case(name: "huge status", body: Array((valid + #","metadata":{"status_code":99999999999999999999}}"#).utf8)))
        cases.append(Case(name: "deep nesting", body: Array((valid + #","x":"# + String(repeating: "[", count: 100_000)).utf8)))
        cases.append(Case(name: "invalid UTF-8", body: Array(#"{"timestamp":1767225600,"level":"INFO","service":""#.utf8) + [0xC3, 0x28] + Array(#"","message":"m"}"#.utf8)))
        cases.append(Case(name: "array of numbers", body: Array("[1,2,3]".utf8)))
        cases.append(Case(name: "wrong content type", body: Array((valid + "}").utf8), contentType: "application/xml", expected: .unsupportedMediaType))
        cases.append(Case(name: "bad gzip", body: Array("not gzip".utf8)))
        let corpus = cases
        try await withCollector(configuration: CollectorConfiguration(port: 0, limits: IngestLimits(maxBodyBytes: 1 << 20))) { client, bus in
            for test in corpus {
                let headers: HTTPFields = test.name == "bad gzip" ? [.contentEncoding: "gzip"] : [:]
                let (status, text, _) = try await post(client, "/api/collect/logs", test.body, contentType: test.contentType, headers: headers)
                #expect(status == test.expected, "\(test.name): \(status) \(text)")
            }
            let oversize = [UInt8](repeating: UInt8(ascii: " "), count: 2 << 20)
            let oversized = try await post(client, "/api/collect/logs", oversize).0
            #expect(oversized == .contentTooLarge)
            let health = try await client.execute(uri: "/health", method: .get) { $0.status }
            #expect(health == .ok)
            #expect(try await values(bus, "logs.raw").isEmpty)
        }
    }

    @Test func aGzipBombIsTooLarge() async throws {
        var bomb = ByteBuffer(bytes: [UInt8](repeating: UInt8(ascii: " "), count: 8 << 20))
        let compressed = try bomb.compress(with: .gzip())
        let limits = IngestLimits(maxBodyBytes: 1 << 20, maxDecodedBytes: 2 << 20)
        try await withCollector(configuration: CollectorConfiguration(port: 0, limits: limits)) { client, _ in
            let (status, _, _) = try await post(client, "/api/collect/logs", Array(buffer: compressed), headers: [.contentEncoding: "gzip"])
            #expect(status == .contentTooLarge)
        }
    }

    @Test func requiresTheAPIKeyWhenOneIsSet() async throws {
        let key = "a-long-enough-test-key"
        var generator = RecordGenerator(seed: 5)
        let body = generator.logArray(count: 3, start: Self.now)
        try await withCollector(configuration: CollectorConfiguration(port: 0, apiKey: key)) { client, _ in
            let missing = try await post(client, "/api/collect/logs", body).0
            let wrong = try await post(client, "/api/collect/logs", body, headers: [.authorization: "Bearer wrong-key-of-some-length"]).0
            let right = try await post(client, "/api/collect/logs", body, headers: [.authorization: "Bearer \(key)"]).0
            let health = try await client.execute(uri: "/health", method: .get) { $0.status }
            #expect(missing == .unauthorized)
            #expect(wrong == .unauthorized)
            #expect(right == .ok)
            #expect(health == .ok)
        }
    }

    @Test func refusesToListenBeyondLoopbackWithoutAKey() {
        #expect(throws: ConfigurationError.self) { try CollectorConfiguration(host: "0.0.0.0").validate() }
        #expect(throws: Never.self) { try CollectorConfiguration(host: "0.0.0.0", apiKey: "0123456789abcdef").validate() }
        #expect(throws: Never.self) { try CollectorConfiguration(host: "127.0.0.1").validate() }
    }

    /// Past the in-flight budget the collector answers 503 with Retry-After at once,
    /// and every record it did acknowledge is on the bus.
    @Test func shedsLoadWith503AndKeepsWhatItAcknowledged() async throws {
        var generator = RecordGenerator(seed: 6)
        let body = generator.logArray(count: 200, start: Self.now)
        let limits = IngestLimits(maxInFlightBytes: 1)
        try await withCollector(configuration: CollectorConfiguration(port: 0, limits: limits)) { client, bus in
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        try await client.execute(uri: "/api/collect/logs", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: body)) {
                            ($0.status, $0.headers[.retryAfter])
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let ok = statuses.filter { $0.0 == .ok }.count
            let shed = statuses.filter { $0.0 == .serviceUnavailable }
            #expect(ok + shed.count == 40)
            #expect(ok >= 1)
            #expect(shed.count >= 1)
            #expect(shed.allSatisfy { $0.1 == "1" })
            #expect(try await values(bus, "logs.raw").count == ok * 200)
        }
    }

    @Test func exposesMetricsAndReadiness() async throws {
        LogpipeMetrics.bootstrap()
        var generator = RecordGenerator(seed: 8)
        let body = generator.logArray(count: 10, start: Self.now)
        try await withCollector { client, _ in
            _ = try await post(client, "/api/collect/logs", body)
            let ready = try await client.execute(uri: "/ready", method: .get) { $0.status }
            #expect(ready == .ok)
            let metrics = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            #expect(metrics.contains(#"logpipe_collector_records_total{kind="logs",outcome="accepted"}"#))
        }
    }
}
