#if Kafka
import LogpipeBus
import LogpipeKafka
import LogpipeTesting
import Testing

/// What the contract suite leaves to implementations: backpressure from a
/// full send queue, oversized records, closing.
@Suite struct KafkaBusTests {
    @Test func aFullSendQueueMakesProduceWaitNotFail() async throws {
        try await TansuBroker.with { broker in
            // Room for 50 records while a batch holds 3000: produce must wait for deliveries to free space.
            let bus = try KafkaBus(configuration: KafkaBusConfiguration(
                bootstrapServers: broker.bootstrapServers, properties: ["queue.buffering.max.messages": "50", "linger.ms": "1"]))
            try await bus.createTopic(TopicSpec(name: "small-queue", partitions: 2))
            let result = try await bus.produce(topic: "small-queue", batch: BusContract.records((0..<3000).map { "r\($0)" }, keyed: true))
            #expect(result.placements.count == 3000)
            let perPartition = Dictionary(grouping: result.placements, by: \.partition).mapValues { $0.map(\.offset) }
            for (_, offsets) in perPartition { #expect(offsets == Array(0..<Int64(offsets.count))) }
            let stored = try await bus.topics().first { $0.name == "small-queue" }!.partitions.reduce(0) { $0 + $1.highWatermark }
            #expect(stored == 3000)
            try await bus.close()
        }
    }

    @Test func anOversizedRecordIsRecordTooLarge() async throws {
        try await TansuBroker.with { broker in
            let bus = try KafkaBus(configuration: KafkaBusConfiguration(
                bootstrapServers: broker.bootstrapServers, properties: ["message.max.bytes": "1000"]))
            try await bus.createTopic(TopicSpec(name: "limits", partitions: 1))
            var batch = ProduceBatch()
            batch.append(key: Array("k".utf8), value: [UInt8](repeating: 0x61, count: 4000))
            await #expect(throws: BusError.recordTooLarge(4001)) { _ = try await bus.produce(topic: "limits", batch: batch) }
            try await bus.close()
        }
    }

    @Test func aClosedBusRefusesCalls() async throws {
        try await TansuBroker.with { broker in
            let bus = try KafkaBus(configuration: KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers))
            try await bus.createTopic(TopicSpec(name: "closing", partitions: 1))
            _ = try await bus.produce(topic: "closing", batch: BusContract.records(["a"]))
            try await bus.close()
            try await bus.close()
            await #expect(throws: BusError.closed) { _ = try await bus.produce(topic: "closing", batch: BusContract.records(["b"])) }
            await #expect(throws: BusError.closed) {
                _ = try await bus.fetch(TopicPartition(topic: "closing", partition: 0), from: 0, maxBytes: 100, maxWaitMillis: 0)
            }
            await #expect(throws: BusError.closed) { _ = try await bus.topics() }
        }
    }
}
#endif
