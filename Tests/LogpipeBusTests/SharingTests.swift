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
        let watchA = AssignmentWatcher(a)
        let watchB = AssignmentWatcher(b)
        // Each member converges on its fair share, 3 of 6, and the two shares are disjoint.
        try await eventually("a 3/3 split", timeout: .seconds(10),
                             describe: { "a: \(watchA.partitions ?? []), b: \(watchB.partitions ?? [])" }) {
            watchA.partitions?.count == 3 && watchB.partitions?.count == 3
        }
        #expect(watchA.partitions!.isDisjoint(with: watchB.partitions!))
        // One leaves: the other takes every partition.
        try await b.leave()
        try await eventually("the remaining member to own all 6", timeout: .seconds(10),
                             describe: { "a: \(watchA.partitions ?? [])" }) { watchA.partitions?.count == 6 }
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
