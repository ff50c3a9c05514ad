#if Kafka
import Foundation
import LogpipeBus
import LogpipeKafka
import LogpipeTesting
import Testing

/// Records cross between `KafkaBus` and kcat (Debian's Kafka CLI over
/// librdkafka) byte for byte, in both directions, on the same broker.
@Suite struct KafkaInteropTests {
    /// Contract JSON log records keyed by service, as the collector puts them on the bus.
    static func logRecords(_ count: Int) -> [(key: [UInt8], value: [UInt8])] {
        let services = ["api-gateway", "user-service", "payment-service", "inventory", "search"]
        let levels = ["INFO", "WARN", "ERROR", "DEBUG"]
        return (0..<count).map { i in
            let service = services[i % services.count]
            let json = #"{"timestamp":\#(1_736_645_166 + i).\#(String(format: "%06d", i * 7919 % 1_000_000)),"level":"\#(levels[i % 4])","service":"\#(service)","host":"worker-\#(i % 3)","message":"Request \#(i) processed \u00e9\u00e8 \\\"quoted\\\"","metadata":{"request_id":"req-\#(i)","response_time_ms":\#(i * 37 % 900),"status_code":\#(i % 11 == 0 ? 500 : 200),"endpoint":"/api/users/\#(i % 17)","method":"GET","client_ip":"10.1.\#(i % 250).\#(i % 7)","user_id":"user_\#(i % 97)"}}"#
            return (Array(service.utf8), Array(json.utf8))
        }
    }

    @Test func kcatReadsWhatKafkaBusProduced() async throws {
        try await TansuBroker.with { broker in
            let bus = try KafkaBus(configuration: KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers))
            let topic = "logs.raw"
            try await bus.createTopic(TopicSpec(name: topic, partitions: 3))
            let records = Self.logRecords(300)
            var placed: [String: (key: [UInt8], value: [UInt8])] = [:]
            for chunk in stride(from: 0, to: records.count, by: 100) {
                var batch = ProduceBatch()
                for r in records[chunk..<chunk + 100] { batch.append(key: r.key, value: r.value) }
                let result = try await bus.produce(topic: topic, batch: batch)
                for (i, p) in result.placements.enumerated() { placed["\(p.partition)/\(p.offset)"] = records[chunk + i] }
            }
            try await bus.close()

            let consumed = try await Kcat.consume(broker: broker.bootstrapServers, topic: topic, count: 300)
            #expect(consumed.count == 300)
            for message in consumed {
                let expected = try #require(placed["\(message.partition)/\(message.offset)"])
                #expect(message.key == expected.key)
                #expect(message.value == expected.value)
                #expect(message.partition == KafkaPartitioner.partition(key: expected.key, partitions: 3))
            }
            #expect(Set(consumed.map { "\($0.partition)/\($0.offset)" }) == Set(placed.keys))
        }
    }

    @Test func kafkaBusFetchesWhatKcatProduced() async throws {
        try await TansuBroker.with { broker in
            let bus = try KafkaBus(configuration: KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers))
            let topic = "events.activity"
            try await bus.createTopic(TopicSpec(name: topic, partitions: 3))
            let records = (0..<200).map { i -> (key: [UInt8], value: [UInt8]) in
                let user = "user_\(i % 23)"
                let json = #"{"event_id":"evt-\#(i)","timestamp":\#(1_736_645_166 + i).456789,"user_id":"\#(user)","session_id":"sess_\#(i % 9)","event_type":"CLICK","event_data":{"page":"/products/\#(i)","element":"add_to_cart_button"},"device":{"type":"mobile","os":"iOS","browser":"Safari"}}"#
                return (Array(user.utf8), Array(json.utf8))
            }
            let directory = try TemporaryDirectory(prefix: "kcat-produce")
            defer { directory.remove() }
            let file = directory.appending("records.tsv")
            var contents: [UInt8] = []
            for r in records { contents += r.key + [0x09] + r.value + [0x0a] }
            try Data(contents).write(to: URL(fileURLWithPath: file))
            try await Kcat.run([
                "-P", "-b", broker.bootstrapServers, "-t", topic, "-K", "\t", "-l", file,
                "-X", "partitioner=murmur2_random", "-X", "acks=all", "-X", "enable.idempotence=true",
            ])

            let fetched = try await BusContract.readAll(bus, topic: topic, partitions: 3)
            #expect(fetched.values.reduce(0) { $0 + $1.count } == 200)
            var byKey: [String: [[UInt8]]] = [:]
            for (partition, stored) in fetched {
                for offset in stored.keys.sorted() {
                    let record = stored[offset]!
                    let key = try #require(record.key)
                    #expect(partition == KafkaPartitioner.partition(key: key, partitions: 3))
                    byKey[String(decoding: key, as: UTF8.self), default: []].append(record.value)
                }
            }
            var expected: [String: [[UInt8]]] = [:]
            for r in records { expected[String(decoding: r.key, as: UTF8.self), default: []].append(r.value) }
            #expect(byKey == expected)
            try await bus.close()
        }
    }
}

/// Runs Debian's `kcat` (which loads the same librdkafka as the tests, through `LD_LIBRARY_PATH`).
enum Kcat {
    struct Message {
        var partition: Int32
        var offset: Int64
        var key: [UInt8]
        var value: [UInt8]
    }


    /// Runs kcat to completion, throwing with its standard error if it fails.
    @discardableResult
    static func run(_ arguments: [String]) async throws -> [UInt8] {
        let process = try ChildProcess(executable: try TestEnvironment.requireKcat(), arguments: arguments)
        let status = await process.waitForExit()
        guard ChildProcess.exitCode(status) == 0 else {
            throw KafkaTestError("kcat \(arguments.joined(separator: " ")) failed (\(status)): \(String(decoding: process.standardError, as: UTF8.self))")
        }
        return process.standardOutput
    }

    /// Consumes `count` messages from the start of every partition, with their exact bytes.
    static func consume(broker: String, topic: String, count: Int) async throws -> [Message] {
        // Lengths first, so keys and values are cut exactly whatever bytes they hold.
        let output = try await run(["-C", "-b", broker, "-t", topic, "-o", "beginning", "-c", String(count), "-e", "-q",
                                    "-f", "%p %o %K %S:%k%s\n"])
        var messages: [Message] = []
        var i = 0
        while i < output.count {
            guard let colon = output[i...].firstIndex(of: UInt8(ascii: ":")) else { break }
            let header = String(decoding: output[i..<colon], as: UTF8.self).split(separator: " ").map { Int($0)! }
            let keyLength = max(header[2], 0)
            let valueLength = max(header[3], 0)
            let keyStart = colon + 1
            let valueStart = keyStart + keyLength
            messages.append(Message(
                partition: Int32(header[0]), offset: Int64(header[1]),
                key: Array(output[keyStart..<valueStart]), value: Array(output[valueStart..<valueStart + valueLength])))
            i = valueStart + valueLength + 1
        }
        return messages
    }
}

struct KafkaTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
#endif
