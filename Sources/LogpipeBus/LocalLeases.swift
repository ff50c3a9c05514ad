import Dispatch
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Group membership for stream workers on one machine without Kafka: several
/// `logpipe stream` processes (and `logpipe run`'s worker) on one embedded bus
/// split its partitions through leases, exclusive `flock`s on files under
/// `<bus>/_leases/<group>/` that the kernel releases when a process dies.
///
/// Each member holds a lock on its own file in `members/`, so the others can
/// count the live members (a member file whose lock can be taken belongs to a
/// dead process and is removed). Every `rebalanceSeconds` a member aims for
/// its fair share, `ceil(partitions / live members)`: it gives up leases beyond
/// it, one round after telling its worker to stop them (so the worker commits
/// first), and takes free ones up to it. A killed member's leases are free at
/// once, so survivors own its partitions within a round. As with Kafka, the
/// lake's per-partition commit log fences a former owner that is still
/// finishing a batch (see `GroupMember`).
public struct LocalLeaseAssignmentSource: PartitionAssignmentSource {
    private let bus: any Bus
    private let directory: String
    private let rebalanceSeconds: Double
    private let logger: Logger

    /// Members read `bus` (for partition counts and offset commits) and lease in `directory/_leases`.
    public init(bus: any Bus, directory: String, rebalanceSeconds: Double = 1, logger: Logger = Logger(label: "logpipe.bus.leases")) {
        self.bus = bus
        self.directory = directory
        self.rebalanceSeconds = rebalanceSeconds
        self.logger = logger
    }

    public func join(group: String, topics: [String]) async throws -> any GroupMember {
        var partitions: [TopicPartition] = []
        for topic in topics {
            let count = try await bus.partitionCount(topic: topic)
            for p in 0..<count { partitions.append(TopicPartition(topic: topic, partition: p)) }
        }
        let root = directory + "/_leases/" + LocalBus.fileName(forGroup: group)
        let member = try LeaseMember(bus: bus, group: group, root: root, partitions: partitions, logger: logger)
        member.start(every: rebalanceSeconds)
        return member
    }
}

/// One member of a lease group; its state is confined to the rebalancing thread, behind a lock.
private final class LeaseMember: GroupMember, @unchecked Sendable {
    let bus: any Bus
    let group: String
    let root: String
    let partitions: [TopicPartition]
    let logger: Logger
    let assignments: AsyncThrowingStream<PartitionAssignment, any Error>
    private let continuation: AsyncThrowingStream<PartitionAssignment, any Error>.Continuation
    private let memberPath: String
    private let memberFD: Int32

    private struct State {
        var held: [TopicPartition: Int32] = [:]
        /// Leases the worker was told to stop; released on the next round.
        var releasing: [TopicPartition: Int32] = [:]
        var generation = 0
        var assigned: Set<TopicPartition>? = nil
        var left = false
    }
    private let state = Mutex(State())
    private let stopped = DispatchSemaphore(value: 0)

    init(bus: any Bus, group: String, root: String, partitions: [TopicPartition], logger: Logger) throws {
        self.bus = bus
        self.group = group
        self.root = root
        self.partitions = partitions
        self.logger = logger
        (assignments, continuation) = AsyncThrowingStream<PartitionAssignment, any Error>.makeStream()
        try FileIO.makeDirectories(root + "/members")
        let name = "\(getpid())-\(UUID().uuidString)"
        memberPath = root + "/members/" + name
        // The file is locked before it appears in members/: a member listing it between its
        // creation and the lock would take the lock, judge this member dead and delete its
        // file, and this member would go uncounted (the other then kept every partition and
        // this one got none).
        let joining = root + "/.joining-" + name
        memberFD = try FileIO.openReadWrite(joining, create: true, exclusive: true)
        if flock(memberFD, LOCK_EX | LOCK_NB) != 0 || rename(joining, memberPath) != 0 {
            let error = FileIO.error("joining the group at", memberPath)
            FileIO.closeFile(memberFD)
            unlink(joining)
            throw error
        }
    }

    func start(every seconds: Double) {
        let thread = Thread { [self] in
            while !state.withLock({ $0.left }) {
                rebalance()
                _ = stopped.wait(timeout: .now() + seconds)
            }
        }
        thread.name = "logpipe-bus-leases"
        thread.start()
    }

    /// Members whose process is alive, this one included.
    private func liveMembers() -> Int {
        guard let names = try? FileIO.list(root + "/members") else { return 1 }
        var live = 1
        for name in names where root + "/members/" + name != memberPath {
            let path = root + "/members/" + name
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                // Its process died (the kernel dropped its lock): clear it away.
                unlink(path)
            } else {
                live += 1
            }
            close(fd)
        }
        return live
    }

    private func leasePath(_ tp: TopicPartition) -> String { root + "/" + tp.description + ".lease" }

    private func rebalance() {
        // Leases the worker was told to stop one round ago go back now.
        let released = state.withLock { s -> [Int32] in
            let fds = Array(s.releasing.values)
            s.releasing = [:]
            return fds
        }
        for fd in released { close(fd) }

        let live = liveMembers()
        let share = (partitions.count + live - 1) / live
        var held = state.withLock { $0.held }
        if held.count > share {
            for tp in held.keys.sorted(by: { $0.description > $1.description }).prefix(held.count - share) {
                let fd = held.removeValue(forKey: tp)!
                state.withLock { $0.releasing[tp] = fd }
            }
        } else if held.count < share {
            // Start the search at a member-specific place, so joining members do not all race for partition 0.
            let start = Int(UInt32(truncatingIfNeeded: memberPath.hashValue) % UInt32(max(1, partitions.count)))
            let releasing = state.withLock { Set($0.releasing.keys) }
            for k in 0..<partitions.count where held.count < share {
                let tp = partitions[(start + k) % partitions.count]
                if held[tp] != nil || releasing.contains(tp) { continue }
                guard let fd = try? FileIO.openReadWrite(leasePath(tp), create: true) else { continue }
                if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                    held[tp] = fd
                } else {
                    close(fd)
                }
            }
        }
        let owned = Set(held.keys)
        let assignment: PartitionAssignment? = state.withLock { s in
            s.held = held
            guard !s.left, s.assigned != owned else { return nil }
            s.assigned = owned
            s.generation += 1
            return PartitionAssignment(generation: s.generation, partitions: owned)
        }
        if let assignment {
            logger.info("lease assignment", metadata: ["group": "\(group)", "assignment": "\(assignment)"])
            continuation.yield(assignment)
        }
    }

    func commit(_ offsets: [TopicPartition: Int64]) async throws {
        try await bus.commit(group: group, offsets: offsets)
    }

    func leave() async throws {
        let fds = state.withLock { s -> [Int32] in
            s.left = true
            let fds = Array(s.held.values) + Array(s.releasing.values)
            s.held = [:]
            s.releasing = [:]
            return fds
        }
        stopped.signal()
        for fd in fds { close(fd) }
        unlink(memberPath)
        close(memberFD)
        continuation.finish()
    }
}
