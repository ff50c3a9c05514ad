#if Kafka
import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeKafka
import LogpipeTesting
import Testing

/// Records another Kafka client wrote (kcat, librdkafka's command-line tool) are read by
/// `logpipe stream` into the lake: every one of them, once, field for field.
@Suite struct KafkaLakeInteropTests {
    @Test func streamOnceWritesWhatKcatProducedIntoTheLake() async throws {
        try await TansuBroker.with { broker in
            let directory = try TemporaryDirectory(prefix: "kafka-kcat-lake")
            defer { directory.remove() }
            let bus = try KafkaBus(configuration: KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers))
            try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
            try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 3))
            try await bus.close()

            var generator = RecordGenerator(seed: 4253)
            let start = 1_767_225_600.0
            let logs = generator.logs(count: 3_000, start: start, spacing: 2.5)  // about two hours
            let events = generator.events(count: 1_000, start: start, spacing: 7.5)
            // Keyed as the collector keys them: logs by service, events by user.
            for (topic, records, keyField) in [("logs.raw", logs, "service"), ("events.activity", events, "user_id")] {
                var tsv: [UInt8] = []
                for line in KafkaLake.lines(records) {
                    tsv.append(contentsOf: KafkaLake.stringField(keyField, in: line))
                    tsv.append(0x09)
                    tsv.append(contentsOf: line)
                    tsv.append(0x0a)
                }
                let file = directory.appending("\(topic).tsv")
                try Data(tsv).write(to: URL(fileURLWithPath: file))
                try await Kcat.run(["-P", "-b", broker.bootstrapServers, "-t", topic, "-K", "\t", "-l", file,
                                    "-X", "partitioner=murmur2_random", "-X", "acks=all", "-X", "linger.ms=5"])
            }

            let lake = directory.appending("lake")
            let children = LogpipeChildren()
            defer { children.killAll() }
            let stream = try children.start([
                "stream", "--bus", broker.url, "--lake", lake, "--data-dir", directory.appending("data"),
                "--once", "--api-port", "0", "--log-level", "warning",
            ])
            let status = await children.waitForExit(stream)
            let stderr = String(decoding: stream.standardError, as: UTF8.self)
            #expect(ChildProcess.exitCode(status) == 0, "\(stderr)")
            let summary = String(decoding: stream.standardOutput, as: UTF8.self)
            #expect(summary.contains("records 4000,"), "\(summary) \(stderr)")
            #expect(summary.contains("dead letters 0"), "\(summary)")

            for (dataset, id, expected, count) in [("logs/raw", "metadata.request_id", logs, 3_000),
                                                   ("events/activity", "event_id", events, 1_000)] {
                let check = try await KafkaLake.contentCheck(lake: lake, dataset: dataset, idPath: id, expected: expected)
                #expect(check.rows == count, "\(dataset): \(check)")
                #expect(check.distinct == count, "\(dataset): \(check)")
                #expect(check.missing == 0 && check.unexpected == 0, "\(dataset): \(check)")
                #expect(check.mismatched == 0, "\(dataset): \(check)")
                #expect(check.outsideHour == 0, "\(dataset): \(check)")
            }
        }
    }
}
#endif
