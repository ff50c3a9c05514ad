import Foundation
@testable import LogpipeBus
import LogpipeTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The bus journal's failure path under real I/O errors: a producing child
/// (`_bus-crash-child --keep-going`) on a thin-provisioned disk (`ThinDisk`: ext4 on a
/// loop device over a small tmpfs) whose backing runs out, so the kernel fails the
/// `fdatasync` of the journal, or the `fdatasync` of a segment in a checkpoint, with
/// ENOSPC. Every append after the failure must fail with an error naming the journal;
/// then, with the space back and the filesystem mounted afresh (so only what the disk
/// holds is read), the reopened bus must hold every acknowledged record at its offset and
/// no more than the failed cycles' records beside them.
@Suite(.serialized)
struct IOErrorTests {
    static let journalBytes: Int64 = 1 << 20
    /// One segment per partition throughout: a roll would create files and directory
    /// blocks, whose failure is another path (a partition's own I/O error).
    static let segmentBytes: Int64 = 64 << 20

    /// Runs the child on `bus` until `done` holds for what it printed (or 30 s), then kills it.
    static func runChild(_ bus: String, journalBytes: Int64, until done: (BusCrashChild.Outcome) -> Bool) async throws
        -> BusCrashChild.Outcome {
        guard let command = BusCrashTests.childCommand() else {
            throw BusContractViolation("no crash child: build `logpipe` (with _bus-crash-child) or set LOGPIPE_BUS_CRASH_CHILD")
        }
        let arguments = Array(command.dropFirst()) + [
            "--journal-bytes", "\(journalBytes)", "--segment-bytes", "\(segmentBytes)", "--keep-going", bus,
        ]
        let child = try ChildProcess(executable: command[0], arguments: arguments)
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(30) {
            try await Task.sleep(for: .milliseconds(20))
            let outcome = try BusCrashChild.parseOutcome(child.standardOutput)
            if done(outcome) { break }
        }
        child.kill(SIGKILL)
        let status = await child.waitForExit()
        let stderr = String(decoding: child.standardError, as: UTF8.self)
        #expect(ChildProcess.killedBySignal(status) == SIGKILL, "child ended on its own (status \(status)): \(stderr.suffix(2000))")
        return try BusCrashChild.parseOutcome(child.standardOutput)
    }

    /// Creates the child's topic in a bus of its own, then closes and drops it, so none of
    /// its files stays open (the disk is unmounted later).
    static func createTopic(_ bus: String, options: LocalBusOptions) async throws {
        let created = try LocalBus(directory: bus, options: options)
        try await created.createTopic(TopicSpec(name: BusCrashChild.topic, partitions: BusCrashChild.partitions,
                                                retention: RetentionPolicy(maxAgeSeconds: nil)))
        try await created.close()
    }

    /// What every failure line must show, and that none acknowledged after a failure.
    static func checkFailures(_ outcome: BusCrashChild.Outcome, mentioning cause: String) {
        #expect(outcome.failures.count >= 50, "appends did not keep failing: \(outcome.failures.count) failures")
        #expect(outcome.acknowledgedAfterAFailure.isEmpty,
                "\(outcome.acknowledgedAfterAFailure.count) appends begun after a failure were acknowledged, e.g. \(outcome.acknowledgedAfterAFailure.prefix(3))")
        let unclear = outcome.failures.filter { !$0.contains("journal") }
        #expect(unclear.isEmpty, "failures that do not name the journal: \(Set(unclear).prefix(5))")
        #expect(outcome.failures.contains { $0.contains(cause) && $0.contains("No space left on device") },
                "no failure says '\(cause)' with ENOSPC: \(Set(outcome.failures).prefix(5))")
    }

    /// The journal's own `fdatasync` fails: after a first run and a clean reopen (so nothing
    /// after the journal's checkpoint is needed), the journal's entry blocks are punched out
    /// of the backing and the backing filled. The next run's first cycle fails and so does
    /// every append after it; with the space back, a third run appends again, and every
    /// record the first and third runs acknowledged is there.
    ///
    /// All entry blocks go, not only some: a loop device whose backing write comes up short
    /// completes the request as written, so an fdatasync whose writes straddle a backed and
    /// a missing block would "succeed" and lose the second one (seen on this kernel, 6.18).
    @Test(.timeLimit(.minutes(2)))
    func aFailedJournalFsyncFailsEveryLaterAppend() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-eio-journal")
        defer { dir.remove() }
        try await ThinDisk(under: dir.path, backingBytes: 24 << 20, imageBytes: 256 << 20).serve { disk in
            let bus = disk.path + "/bus"
            let options = BusCrashChild.options(journalBytes: Self.journalBytes, segmentBytes: Self.segmentBytes)
            let first = try await Self.runChild(bus, journalBytes: Self.journalBytes) { $0.acknowledged.count >= 2000 }
            #expect(first.failures.isEmpty, "\(first.failures.prefix(3))")
            // A clean open and close: the kill's entries replayed, the journal checkpointed empty.
            try await LocalBus(directory: bus, options: options).close()

            try await disk.unmount()
            try await disk.punchBacking(file: "/bus/" + Journal.fileName, fromByte: Journal.dataStart)
            let filler = try disk.fillBacking()
            try await disk.mount()
            let second = try await Self.runChild(bus, journalBytes: Self.journalBytes) { $0.failures.count >= 50 }
            #expect(second.acknowledged.isEmpty, "\(second.acknowledged.count) appends acknowledged without a journal")
            Self.checkFailures(second, mentioning: Journal.fileName)

            try await disk.unmount()
            try disk.freeBacking(filler)
            try await disk.mount()
            let third = try await Self.runChild(bus, journalBytes: Self.journalBytes) { $0.acknowledged.count >= 2000 }
            #expect(third.failures.isEmpty, "the reopened bus still fails: \(third.failures.prefix(3))")
            #expect(third.acknowledged.count >= 2000)
            try await verifyAcknowledged(bus, first.acknowledged + third.acknowledged, maxUnacknowledged: 5 * 4 * 20, options: options)
        }
    }

    /// A segment's `fdatasync` in a checkpoint fails: the bus is created (its journal
    /// written out whole) and the backing filled before the child starts, so the journal
    /// can still be written and segment bytes cannot. Appends are acknowledged until the
    /// first checkpoint finds the error, then every append fails; with the space back, the
    /// acknowledged records the segments lost come back from the journal.
    @Test(.timeLimit(.minutes(2)))
    func aFailedCheckpointFsyncFailsEveryLaterAppend() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-eio-checkpoint")
        defer { dir.remove() }
        try await ThinDisk(under: dir.path, backingBytes: 24 << 20, imageBytes: 256 << 20).serve { disk in
            let bus = disk.path + "/bus"
            let journalBytes: Int64 = 256 << 10
            let options = BusCrashChild.options(journalBytes: journalBytes, segmentBytes: Self.segmentBytes)
            try await Self.createTopic(bus, options: options)
            let filler = try disk.fillBacking()
            let outcome = try await Self.runChild(bus, journalBytes: journalBytes) { $0.failures.count >= 50 }
            #expect(outcome.acknowledged.count >= 100, "only \(outcome.acknowledged.count) acknowledged")
            Self.checkFailures(outcome, mentioning: "checkpoint fsync")

            try await disk.unmount()
            try disk.freeBacking(filler)
            try await disk.mount()
            try await verifyAcknowledged(bus, outcome.acknowledged, maxUnacknowledged: 3 * 4 * 20, options: options)
        }
    }
}
