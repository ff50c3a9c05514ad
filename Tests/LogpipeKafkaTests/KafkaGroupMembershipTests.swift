#if Kafka
import LogpipeBus
import LogpipeKafka
import LogpipeTesting
import Testing

/// Consumer-group membership on a real broker: members split partitions,
/// take over a leaving member's partitions, and commit for lag visibility.
@Suite struct KafkaGroupMembershipTests {
    @Test func membersSplitPartitionsAndTakeOverWhenOneLeaves() async throws {
        try await TansuBroker.with { broker in
            let configuration = KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers)
            let bus = try KafkaBus(configuration: configuration)
            try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
            try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 3))
            let all = Set(["logs.raw", "events.activity"].flatMap { t in (0..<3).map { TopicPartition(topic: t, partition: Int32($0)) } })
            let source = KafkaAssignmentSource(configuration: configuration, sessionTimeoutMillis: 6000)

            let first = try await source.join(group: "stream-workers", topics: ["logs.raw", "events.activity"])
            let firstWatch = AssignmentWatcher(first)
            try await eventually("the first member to own every partition", timeout: .seconds(20)) { firstWatch.partitions == all }

            let second = try await source.join(group: "stream-workers", topics: ["logs.raw", "events.activity"])
            let secondWatch = AssignmentWatcher(second)
            try await eventually("two members to split the partitions", timeout: .seconds(20)) {
                guard let a = firstWatch.partitions, let b = secondWatch.partitions else { return false }
                return a.isDisjoint(with: b) && a.union(b) == all && !a.isEmpty && !b.isEmpty
            }
            let kept = firstWatch.partitions!

            try await first.leave()
            try await firstWatch.task.value
            try await eventually("the remaining member to own every partition", timeout: .seconds(20)) { secondWatch.partitions == all }
            #expect(kept.isSubset(of: all))

            try await second.commit([TopicPartition(topic: "logs.raw", partition: 1): 42])
            let committed = try await bus.committedOffsets(group: "stream-workers", topic: "logs.raw")
            #expect(committed == [1: 42])
            try await second.leave()
            try await bus.close()
        }
    }

    @Test func singleMemberSourceOwnsEveryPartitionAtOnce() async throws {
        try await TansuBroker.with { broker in
            let bus = try KafkaBus(configuration: KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers))
            try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
            let member = try await SingleMemberAssignmentSource(bus: bus).join(group: "solo", topics: ["logs.raw"])
            var iterator = member.assignments.makeAsyncIterator()
            let assignment = try #require(try await iterator.next())
            #expect(assignment.generation == 1)
            #expect(assignment.partitions == (0..<3).map { TopicPartition(topic: "logs.raw", partition: $0) })
            try await member.commit([TopicPartition(topic: "logs.raw", partition: 2): 7])
            #expect(try await bus.committedOffsets(group: "solo", topic: "logs.raw") == [2: 7])
            try await member.leave()
            #expect(try await iterator.next() == nil)
            await #expect(throws: BusError.unknownTopic("missing")) {
                _ = try await SingleMemberAssignmentSource(bus: bus).join(group: "solo", topics: ["missing"])
            }
            try await bus.close()
        }
    }
}
#endif
