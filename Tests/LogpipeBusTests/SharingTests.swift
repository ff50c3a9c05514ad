import Foundation
import LogpipeBus
import LogpipeTesting
import Testing

/// What processes sharing one embedded bus rely on, checked with several bus objects
/// (each as another process would open it) in one test process.
@Suite struct SharingTests {
    @Test func leasesSplitPartitionsFairlyAndMoveWhenAMemberLeaves() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
        defer { dir.remove() }
        let writer = try LocalBus(directory: dir.path)
        try await writer.createTopic(TopicSpec(name: "t", partitions: 6))
        let reader = try LocalBus(directory: dir.path, options: LocalBusOptions(access: .read))
        let source = LocalLeaseAssignmentSource(bus: reader, directory: dir.path, rebalanceSeconds: 0.1)
        let a = try await source.join(group: "g", topics: ["t"])
        let b = try await source.join(group: "g", topics: ["t"])
        var ai = a.assignments.makeAsyncIterator()
        var bi = b.assignments.makeAsyncIterator()
        // Each member converges on its fair share, 3 of 6, and the two shares are disjoint.
        var latestA: Set<TopicPartition> = []
        var latestB: Set<TopicPartition> = []
        let deadline = ContinuousClock.now + .seconds(10)
        while (latestA.count != 3 || latestB.count != 3) && ContinuousClock.now < deadline {
            if latestA.count != 3, let next = try await ai.next() { latestA = Set(next.partitions) }
            if latestB.count != 3, let next = try await bi.next() { latestB = Set(next.partitions) }
        }
        #expect(latestA.count == 3 && latestB.count == 3)
        #expect(latestA.isDisjoint(with: latestB))
        // One leaves: the other takes every partition.
        try await b.leave()
        while latestA.count != 6, ContinuousClock.now < deadline + .seconds(10), let next = try await ai.next() {
            latestA = Set(next.partitions)
        }
        #expect(latestA.count == 6)
        try await a.leave()
        try await reader.close()
        try await writer.close()
    }

    @Test func concurrentCommitsOfOneGroupFromSeveralReadersKeepEveryPartition() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
        defer { dir.remove() }
        let writer = try LocalBus(directory: dir.path)
        try await writer.createTopic(TopicSpec(name: "t", partitions: 4))
        let readers = try (0..<4).map { _ in try LocalBus(directory: dir.path, options: LocalBusOptions(access: .read)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (p, reader) in readers.enumerated() {
                group.addTask {
                    for round in 1...20 {
                        try await reader.commit(group: "g", offsets: [TopicPartition(topic: "t", partition: Int32(p)): Int64(round * 10 + p)])
                    }
                }
            }
            try await group.waitForAll()
        }
        // Each reader's last commit survives the others' read-merge-write.
        #expect(try await writer.committedOffsets(group: "g", topic: "t") == [0: 200, 1: 201, 2: 202, 3: 203])
        for reader in readers { try await reader.close() }
        try await writer.close()
    }
}
