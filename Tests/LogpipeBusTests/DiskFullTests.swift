import Foundation
import LogpipeBus
import LogpipeTesting
import Synchronization
import Testing

/// The embedded bus on a real filesystem that fills up (a small tmpfs): appends without
/// space fail with `noSpace` and keep nothing, concurrent producers included, and the same
/// bus takes appends again once space returns; after a reopen the partition holds exactly
/// the acknowledged records at the offsets they were acknowledged with.
@Suite(.serialized)
struct DiskFullTests {
    /// What concurrent producers got back.
    final class Tally: Sendable {
        let acknowledged = Mutex<[Int64: String]>([:])
        let refusals = Mutex(0)
        let unexpected = Mutex<[String]>([])

        /// Eight producers, each `rounds` appends of 2 KiB records.
        func produce(_ bus: LocalBus, phase: String, rounds: Int) async {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for i in 0..<rounds {
                            let value = "\(phase)-\(worker)-\(i)-" + String(repeating: "v", count: 2048)
                            var batch = ProduceBatch()
                            batch.append(key: nil as [UInt8]?, value: Array(value.utf8))
                            do {
                                let placed = try await bus.produce(topic: "t", batch: batch)
                                self.acknowledged.withLock { $0[placed.placements[0].offset] = value }
                            } catch BusError.noSpace {
                                self.refusals.withLock { $0 += 1 }
                            } catch {
                                self.unexpected.withLock { $0.append("\(error)") }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test("ENOSPC under concurrent producers: refused appends keep nothing, the bus resumes, offsets stay exact")
    func noSpaceUnderConcurrentProducers() async throws {
        let directory = try TemporaryDirectory(prefix: "logpipe-bus-enospc")
        defer { directory.remove() }
        let disk = try TmpfsMount(at: directory.appending("disk"), bytes: 2 << 20)
        defer { disk.unmount() }
        let path = disk.path + "/bus"
        // Small segments, so rolls (new files) happen while the disk is full too.
        let bus = try LocalBus(directory: path, options: testOptions(segmentBytes: 128 << 10))
        try await bus.createTopic(TopicSpec(name: "t", partitions: 1))
        let tally = Tally()
        let produce = { (phase: String, rounds: Int) in await tally.produce(bus, phase: phase, rounds: rounds) }

        await produce("before", 10)
        // Several rounds of filling and freeing: a cycle that wrote some producers' batches
        // before another's write failed is the case that must be cut back.
        for round in 0..<4 {
            let before = tally.refusals.withLock { $0 }
            let filler = try disk.fill(leaving: 48 << 10)
            await produce("full\(round)", 20)
            #expect(tally.refusals.withLock { $0 } > before, "nothing was refused on a full disk (round \(round))")
            try FileManager.default.removeItem(atPath: filler)
            let refusedWhileFull = tally.refusals.withLock { $0 }
            await produce("after\(round)", 10)
            #expect(tally.refusals.withLock { $0 } == refusedWhileFull, "appends still refused after space returned (round \(round))")
        }
        #expect(tally.unexpected.withLock { $0 }.isEmpty, "\(tally.unexpected.withLock { $0 })")
        try await bus.close()

        let reopened = try LocalBus(directory: path, options: testOptions(segmentBytes: 128 << 10))
        var stored: [Int64: String] = [:]
        var offset: Int64 = 0
        while true {
            let batch = try await reopened.fetch(TopicPartition(topic: "t", partition: 0), from: offset, maxBytes: 1 << 20, maxWaitMillis: 0)
            if batch.records.isEmpty { break }
            for i in batch.records.indices { stored[batch.records[i].offset] = valueString(batch, i) }
            offset = batch.nextOffset(after: offset)
        }
        try await reopened.close()
        let expected = tally.acknowledged.withLock { $0 }
        #expect(stored.count == expected.count, "stored \(stored.count), acknowledged \(expected.count)")
        #expect(stored == expected, "the partition does not hold exactly the acknowledged records at their offsets")
        #expect(Set(stored.keys) == Set(0..<Int64(expected.count)), "offsets are not contiguous from 0")
        #expect(expected.values.contains { $0.hasPrefix("after3-") })
    }
}
