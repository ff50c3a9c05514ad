import Foundation
@testable import LogpipeBus
import LogpipeTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The bus journal (`Journal`) under simulated power loss: a producing child is killed
/// with SIGKILL, then the segment bytes a power cut could have lost (all those the
/// journal's checkpoint does not cover) are destroyed, and the next open must bring back
/// every acknowledged record, exactly once, from the journal alone.
@Suite struct JournalTests {
    /// What the drill did, for the assertions.
    struct Drill {
        var acknowledged: [BusCrashChild.Acknowledged] = []
        /// Segments damaged after the kills.
        var damagedSegments = 0
        /// Entries after the checkpoint the power losses found: what the replays had to restore.
        var pendingEntries = 0
    }

    /// Runs the crash child `rounds` times on `dir`, each killed at a random moment and followed by a power loss.
    static func drill(_ dir: TemporaryDirectory, rounds: Int, journalBytes: Int64?, acknowledgedPerRound: Int = 50,
                      beforeReopen: (Int) throws -> Void = { _ in }) async throws -> Drill {
        guard let command = BusCrashTests.childCommand() else {
            throw BusContractViolation("no crash child: build `logpipe` (with _bus-crash-child) or set LOGPIPE_BUS_CRASH_CHILD")
        }
        var drill = Drill()
        for round in 0..<rounds {
            var arguments = Array(command.dropFirst())
            if let journalBytes { arguments += ["--journal-bytes", "\(journalBytes)"] }
            let child = try ChildProcess(executable: command[0], arguments: arguments + [dir.path])
            // Until it has acknowledged something, then a little more: kills land mid-cycle too.
            let started = ContinuousClock.now
            while child.standardOutput.lazy.filter({ $0 == 10 }).count < acknowledgedPerRound && ContinuousClock.now - started < .seconds(30) {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...250)))
            child.kill(SIGKILL)
            let status = await child.waitForExit()
            let stderr = String(decoding: child.standardError, as: UTF8.self)
            #expect(ChildProcess.killedBySignal(status) == SIGKILL, "round \(round): child ended on its own (status \(status)): \(stderr)")
            let acknowledged = try BusCrashChild.parse(child.standardOutput)
            drill.acknowledged += acknowledged
            try powerLoss(dir.path, drill: &drill)
            try beforeReopen(round)
        }
        return drill
    }

    /// Destroys what a power cut after the kill could have destroyed: every segment byte
    /// from the first position a journal entry after the checkpoint covers (cut off, zeroed
    /// or overwritten with garbage, in turn). The journal itself is left as the kill left
    /// it, since its acknowledged entries were fsynced; torn entries have their own test.
    static func powerLoss(_ busDirectory: String, drill: inout Drill) throws {
        let path = busDirectory + "/" + Journal.fileName
        let fd = open(path, O_RDWR)
        guard fd >= 0 else { return }  // killed before the bus opened
        defer { close(fd) }
        guard let checkpoint = Journal.readCheckpoint(fd: fd)?.0 else {
            throw BusContractViolation("the journal has no valid header after a kill")
        }
        let entries = try Journal.entries(fd: fd, path: path, after: checkpoint)
        drill.pendingEntries += entries.count
        var from: [String: Int64] = [:]
        for e in entries {
            let segment = busDirectory + "/\(e.topic)-\(e.partition)/" + Segment.fileName(base: e.segmentBase)
            from[segment] = min(from[segment] ?? .max, e.position)
        }
        for (k, (segment, start)) in from.sorted(by: { $0.key < $1.key }).enumerated() {
            let sfd = open(segment, O_RDWR)
            guard sfd >= 0 else { continue }
            defer { close(sfd) }
            let size = Int64(lseek(sfd, 0, SEEK_END))
            guard size > start else { continue }
            switch (drill.damagedSegments + k) % 3 {
            case 0:
                #expect(ftruncate(sfd, off_t(start)) == 0)
            case 1:
                let zeros = [UInt8](repeating: 0, count: Int(size - start))
                _ = zeros.withUnsafeBytes { pwrite(sfd, $0.baseAddress, $0.count, off_t(start)) }
            default:
                var garbage = [UInt8](repeating: 0, count: Int(size - start))
                for i in garbage.indices { garbage[i] = UInt8.random(in: 0...255) }
                _ = garbage.withUnsafeBytes { pwrite(sfd, $0.baseAddress, $0.count, off_t(start)) }
            }
        }
        drill.damagedSegments += from.count
    }

    @Test(.timeLimit(.minutes(2)))
    func acknowledgedRecordsSurvivePowerLossAfterSIGKILL() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-powerloss")
        defer { dir.remove() }
        let rounds = 6
        let drill = try await Self.drill(dir, rounds: rounds, journalBytes: nil)
        #expect(drill.acknowledged.count >= 300, "only \(drill.acknowledged.count) records acknowledged")
        // The power losses must have destroyed something the journal then restored.
        #expect(drill.pendingEntries > 0 && drill.damagedSegments > 0, "nothing to replay: \(drill)")
        try await verifyAcknowledged(dir.path, drill.acknowledged, maxUnacknowledged: rounds * 4 * 20)
    }

    @Test(.timeLimit(.minutes(2)))
    func aSmallJournalWrapsManyTimesAndStillSurvivesPowerLoss() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-journal-wrap")
        defer { dir.remove() }
        let rounds = 5
        let journalBytes: Int64 = 64 << 10
        let drill = try await Self.drill(dir, rounds: rounds, journalBytes: journalBytes, acknowledgedPerRound: 5000)
        let (_, bytes) = try await verifyAcknowledged(dir.path, drill.acknowledged, maxUnacknowledged: rounds * 4 * 20,
                                               options: BusCrashChild.options(journalBytes: journalBytes))
        // Every byte of log went through the journal: it went round at least this often.
        #expect(bytes / journalBytes >= 20, "only \(bytes) bytes of log through a \(journalBytes)-byte journal")
        #expect(drill.damagedSegments > 0, "\(drill)")
    }

    /// A torn entry at the journal's end (a valid header, a payload that does not match
    /// its CRC), then a whole valid entry and garbage: recovery stops at the torn one, so
    /// the valid entry after it, which would overwrite the first record, is never applied.
    @Test(.timeLimit(.minutes(2)))
    func replayStopsAtATornEntryAndIgnoresWhatFollows() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-journal-torn")
        defer { dir.remove() }
        let drill = try await Self.drill(dir, rounds: 2, journalBytes: nil) { round in
            guard round == 1 else { return }
            let path = dir.path + "/" + Journal.fileName
            let fd = open(path, O_RDWR)
            #expect(fd >= 0)
            defer { close(fd) }
            let (checkpoint, _) = try #require(Journal.readCheckpoint(fd: fd))
            let entries = try Journal.entries(fd: fd, path: path, after: checkpoint)
            var position = entries.last.map { $0.journalPosition + $0.size } ?? checkpoint.position
            var sequence = checkpoint.sequence + UInt64(entries.count)
            for (i, value) in ["ghost-torn", "ghost-after-torn"].enumerated() {
                var batch = ProduceBatch()
                batch.append(key: nil as [UInt8]?, value: Array(value.utf8))
                let payload = RecordBatch.encode(batch, indices: [0], timestampMillis: 1)
                let entry = Journal.Entry(topic: BusCrashChild.topic, partition: 0, segmentBase: 0, position: 0,
                                          chunks: [payload], length: payload.count, payloadCRC: CRC32C.checksum(payload))
                var header = Journal.encodeHeader(entry, generation: checkpoint.generation, sequence: sequence)
                if i == 0 { header[4] ^= 0xFF }
                let bytes = header + payload
                _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(position)) }
                position += Int64(bytes.count)
                sequence += 1
            }
            var garbage = [UInt8](repeating: 0, count: 4096)
            for i in garbage.indices { garbage[i] = UInt8.random(in: 0...255) }
            _ = garbage.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(position)) }
        }
        try await verifyAcknowledged(dir.path, drill.acknowledged, maxUnacknowledged: 2 * 4 * 20)
    }

    /// A cycle larger than the journal is fsynced directly; many small ones wrap it many
    /// times; a clean close leaves nothing to replay; a reopen reads back every record.
    @Test func largeCyclesBypassASmallJournalAndACleanCloseLeavesItEmpty() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-journal-small")
        defer { dir.remove() }
        var options = testOptions(segmentBytes: 256 << 10)
        options.journalBytes = 64 << 10
        let bus = try LocalBus(directory: dir.path, options: options)
        try await bus.createTopic(TopicSpec(name: "j", partitions: 3))
        var expected: [String] = []
        let big = "big-" + String(repeating: "b", count: 200 << 10)
        _ = try await bus.produce(topic: "j", batch: BusContract.records([big], partition: 1))
        expected.append(big)
        let values = try await withThrowingTaskGroup(of: [String].self) { group in
            for producer in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    for i in 0..<60 {
                        let batchValues = (0..<10).map { "p\(producer)-\(i)-\($0)-" + String(repeating: "v", count: 200) }
                        _ = try await bus.produce(topic: "j", batch: BusContract.records(batchValues, partition: Int32(i % 3)))
                        mine += batchValues
                    }
                    return mine
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        expected += values
        let statistics = bus.flushStatistics
        #expect(statistics.journalBypasses >= 1, "\(statistics)")
        #expect(statistics.checkpoints >= 10, "\(statistics)")
        try await bus.close()

        let path = dir.path + "/" + Journal.fileName
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        let (checkpoint, _) = try #require(Journal.readCheckpoint(fd: fd))
        #expect(try Journal.entries(fd: fd, path: path, after: checkpoint).isEmpty, "a clean close left entries to replay")
        close(fd)

        let reopened = try LocalBus(directory: dir.path, options: options)
        let stored = try await BusContract.readAll(reopened, topic: "j", partitions: 3)
        try await reopened.close()
        let storedValues = stored.values.flatMap { $0.values.map { String(decoding: $0.value, as: UTF8.self) } }
        #expect(storedValues.count == expected.count)
        #expect(Set(storedValues) == Set(expected))
    }
}
