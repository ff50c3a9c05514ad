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

/// How a process opens the embedded bus.
///
/// One directory has one writer: the process that appends (the collector, or
/// `logpipe run`) holds an exclusive `flock` on `_writer.lock`, which the kernel
/// releases when the process dies, so `kill -9` never leaves a stale lock. Any
/// number of readers (`logpipe stream`, `logpipe topics`) open the same
/// directory without that lock and follow what the writer makes durable.
public enum LocalBusAccess: Sendable, Equatable {
    /// Appends, recovers torn tails, applies retention; refuses to open while another writer holds the directory.
    case write
    /// Reads and follows another process's appends; never writes a segment. Consumer-group offsets can still be committed.
    case read
}

/// The writer's lock on a bus directory, held for the bus's lifetime.
final class WriterLock: Sendable {
    /// The locked file; -1 once released.
    private let fd: Mutex<Int32>

    static func path(_ directory: String) -> String { directory + "/_writer.lock" }

    /// Takes the lock or throws `BusError.writerLocked` naming the holder's PID.
    init(directory: String) throws {
        let path = Self.path(directory)
        let fd = try FileIO.openReadWrite(path, create: true)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = Self.holder(fd)
            FileIO.closeFile(fd)
            if code == EWOULDBLOCK { throw BusError.writerLocked(directory: directory, pid: holder) }
            throw FileIO.error("flock", path, code)
        }
        // The PID is for the next process's error message only; the lock itself is the flock.
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        try pid.withUnsafeBytes { try FileIO.writeAll(fd, $0, at: 0, path) }
        self.fd = Mutex(fd)
    }

    /// Lets the next writer in: closing the descriptor drops the flock.
    func release() {
        fd.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }

    deinit { release() }

    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 32, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Whether a live process holds the writer lock of `directory` (a shared probe that conflicts with it).
    static func isHeld(_ directory: String) -> Bool {
        let fd = open(path(directory), O_RDONLY | O_CLOEXEC)
        if fd < 0 { return false }
        defer { Glibc.close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { return false }
        return errno == EWOULDBLOCK
    }
}

/// A partition's durable end, as the writer publishes it for readers in other
/// processes: `durable` in the partition directory, 32 bytes rewritten in place
/// after every journal fdatasync (or segment fsync) that moved it ("LPD1", the active segment's base offset,
/// its durable size, the partition's high watermark, CRC32C of the 28 before).
/// It is never fsynced itself: it only tells other processes, through the shared
/// page cache, how far the data files are already durable; after a machine crash
/// the writer's recovery rewrites it. A torn read fails the CRC and is retried.
struct DurableMarker: Equatable {
    var segmentBase: Int64
    var durableSize: Int64
    var highWatermark: Int64

    static let size = 32
    private static let magic: UInt32 = 0x3144_504C

    static func path(partitionDirectory: String) -> String { partitionDirectory + "/durable" }

    func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.size)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(Self.magic)
        put(segmentBase)
        put(durableSize)
        put(highWatermark)
        put(CRC32C.checksum(out))
        return out
    }

    static func decode(_ bytes: [UInt8]) -> DurableMarker? {
        guard bytes.count == size else { return nil }
        func get<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
        }
        guard get(0, UInt32.self) == magic, get(28, UInt32.self) == CRC32C.checksum(Array(bytes[0..<28])) else { return nil }
        return DurableMarker(segmentBase: get(4, Int64.self), durableSize: get(12, Int64.self), highWatermark: get(20, Int64.self))
    }

    /// Reads a marker, retrying a read torn by a concurrent rewrite; nil when there is none (yet).
    static func read(fd: Int32) -> DurableMarker? {
        for _ in 0..<8 {
            var bytes = [UInt8](repeating: 0, count: size)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
            if n == 0 { return nil }
            if n == size, let marker = decode(bytes) { return marker }
        }
        return nil
    }

    func write(fd: Int32, path: String) throws {
        try encoded().withUnsafeBytes { try FileIO.writeAll(fd, $0, at: 0, path) }
    }
}

extension LocalBus {
    /// Whether this process may append (it opened the bus with `.write` and holds the writer lock).
    public var acceptsWrites: Bool { options.access == .write }

    /// Publishes a partition's durable end for readers; called with the state lock held
    /// or before the bus is shared. A failure only delays readers, so it is logged, not thrown.
    func publishDurable(_ log: PartitionLog) {
        guard let fd = log.markerFD else { return }
        let active = log.active
        let marker = DurableMarker(segmentBase: active.baseOffset, durableSize: active.durableSize, highWatermark: log.highWatermark)
        do {
            try marker.write(fd: fd, path: DurableMarker.path(partitionDirectory: log.directory))
        } catch {
            logger.warning("could not publish the durable end for readers", metadata: ["partition": "\(log.tp)", "error": "\(error)"])
        }
    }

    // MARK: Consumer-group offsets shared between processes

    /// Runs `body` holding an exclusive lock on one group's offsets, so concurrent
    /// commits from several processes merge instead of overwriting each other.
    func withGroupLock<T>(_ group: String, _ body: () throws -> T) throws -> T {
        try FileIO.makeDirectories(groupsDirectory)
        let path = groupsDirectory + "/" + Self.fileName(forGroup: group) + ".lock"
        let fd = try FileIO.openReadWrite(path, create: true)
        defer { Glibc.close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw FileIO.error("flock", path) }
        }
        return try body()
    }

    func groupFilePath(_ group: String) -> String {
        groupsDirectory + "/" + Self.fileName(forGroup: group) + ".json"
    }

    /// A group's offsets as stored now, by topic and partition.
    func readGroupFile(_ group: String) throws -> [String: [Int32: Int64]] {
        let path = groupFilePath(group)
        guard FileIO.exists(path) else { return [:] }
        do {
            return try Self.decodeGroup(try FileIO.readFile(path)).1
        } catch let error as BusError {
            if case .io = error, !FileIO.exists(path) { return [:] }
            throw error
        } catch {
            throw BusError.corrupt("group offsets \(path): \(error)")
        }
    }

    // MARK: Following another process's writes

    /// Rereads the topic list and every partition's durable marker and applies what
    /// moved. The reader's follower thread calls it every `followIntervalMillis`;
    /// `checkFiles` also notices new topics and segments retention deleted.
    func follow(checkFiles: Bool) {
        if checkFiles { adoptNewTopics() }
        let logs: [PartitionLog] = state.withLock { s in
            s.closing ? [] : s.topics.values.flatMap(\.partitions)
        }
        for log in logs {
            if checkFiles { dropDeletedSegments(log) }
            followPartition(log)
        }
    }

    func adoptNewTopics() {
        guard let names = try? FileIO.list(topicsDirectory) else { return }
        let known = state.withLock { Set($0.topics.keys) }
        for name in names where name.hasSuffix(".json") && !known.contains(String(name.dropLast(5))) {
            do {
                let (spec, topic) = try loadTopic(file: name)
                state.withLock { s in if s.topics[spec.name] == nil { s.topics[spec.name] = topic } }
                logger.info("following new topic", metadata: ["topic": "\(spec.name)", "partitions": "\(spec.partitions)"])
            } catch {
                logger.debug("topic not readable yet", metadata: ["file": "\(name)", "error": "\(error)"])
            }
        }
    }

    /// Forgets the oldest segments whose files the writer's retention deleted, so the
    /// low watermark moves and a consumer behind it gets `offsetOutOfRange`, not silence.
    private func dropDeletedSegments(_ log: PartitionLog) {
        let candidates = state.withLock { _ in log.segments.dropLast().map { ($0.baseOffset, $0.path) } }
        var gone = 0
        for (_, path) in candidates {
            if FileIO.exists(path) { break }
            gone += 1
        }
        guard gone > 0 else { return }
        let dropped: [Segment] = state.withLock { _ in
            let victims = Array(log.segments.prefix(gone))
            log.segments.removeFirst(gone)
            log.updateGauges()
            return victims
        }
        for segment in dropped {
            logger.info("the writer's retention deleted a segment", metadata: [
                "partition": "\(log.tp)", "offsets": "\(segment.baseOffset)..<\(segment.nextOffset)",
            ])
        }
    }

    /// Brings one partition up to its writer's durable marker: extends the active
    /// segment, and on a roll finishes it and opens the segments that followed.
    private func followPartition(_ log: PartitionLog) {
        guard let fd = log.markerFD, let marker = DurableMarker.read(fd: fd) else { return }
        let (active, known) = state.withLock { _ in (log.active, log.highWatermark) }
        if marker.highWatermark <= known && marker.segmentBase == active.baseOffset { return }
        do {
            var updates: [(Segment, Segment.Scan)] = []
            var fresh: [Segment] = []
            if marker.segmentBase == active.baseOffset {
                updates.append((active, try scanMore(active, upTo: marker.durableSize)))
            } else if marker.segmentBase > active.baseOffset {
                // Rolled: the old active segment is complete (it was durable before the roll), then come the new ones.
                updates.append((active, try scanMore(active, upTo: try FileIO.size(active.fd, active.path))))
                let bases = try FileIO.list(log.directory).compactMap(Segment.baseOffset(fileName:))
                    .filter { $0 > active.baseOffset && $0 <= marker.segmentBase }.sorted()
                for base in bases {
                    let path = log.directory + "/" + Segment.fileName(base: base)
                    let segmentFD = try FileIO.openReadOnly(path)
                    let segment = Segment(baseOffset: base, path: path, indexPath: Self.indexPath(forLog: path), fd: segmentFD,
                                          scan: Segment.Scan(baseOffset: base))
                    let limit = base == marker.segmentBase ? marker.durableSize : try FileIO.size(segmentFD, path)
                    fresh.append(segment)
                    updates.append((segment, try scanMore(segment, upTo: limit)))
                }
            } else {
                return
            }
            let waiters: [CheckedContinuation<Void, Never>] = state.withLock { _ in
                log.segments.append(contentsOf: fresh)
                for (segment, scan) in updates { segment.apply(scan) }
                log.highWatermark = log.active.nextOffset
                log.nextOffset = log.highWatermark
                log.updateGauges()
                let w = Array(log.fetchWaiters.values)
                log.fetchWaiters.removeAll()
                return w
            }
            for w in waiters { w.resume() }
        } catch {
            logger.warning("could not follow the writer", metadata: ["partition": "\(log.tp)", "error": "\(error)"])
        }
    }

    /// Verifies the bytes a segment gained, from its durable end up to `limit`.
    private func scanMore(_ segment: Segment, upTo limit: Int64) throws -> Segment.Scan {
        var start = Segment.Scan(baseOffset: segment.baseOffset)
        state.withLock { _ in
            start.validSize = segment.durableSize
            start.nextOffset = segment.nextOffset
            start.firstTimestamp = segment.firstTimestamp
            start.maxTimestamp = segment.maxTimestamp
        }
        start.bytesSinceIndexEntry = segment.bytesSinceIndexEntry
        let scan = try Segment.scan(fd: segment.fd, path: segment.path, from: start, upTo: limit,
                                    indexInterval: options.indexIntervalBytes, maxBatchBytes: options.maxBatchBytes)
        if let problem = scan.problem {
            // Durable bytes that do not verify: serve what does, and fail fetches that reach the rest (`apply`).
            logger.error("durable bytes written by the writer do not verify", metadata: ["segment": "\(segment.path)", "problem": "\(problem)"])
        }
        segment.bytesSinceIndexEntry = scan.bytesSinceIndexEntry
        return scan
    }

    /// The reader's follower: polls the writer's markers until the bus closes. It stands
    /// in for the writer's flusher thread, so `close()` waits for it the same way.
    func startFollower() {
        let thread = Thread { [self] in
            var round = 0
            while !state.withLock({ $0.closing }) {
                follow(checkFiles: round % max(1, 1000 / options.followIntervalMillis) == 0)
                round += 1
                usleep(useconds_t(options.followIntervalMillis * 1000))
            }
            state.withLock { s in
                s.flusherExited = true
                let waiters = s.flusherExitWaiters
                s.flusherExitWaiters = []
                return waiters
            }.forEach { $0.resume() }
        }
        thread.name = "logpipe-bus-follower"
        thread.start()
    }
}

extension Segment {
    /// Takes in what a scan of newly durable bytes found (state lock held).
    func apply(_ scan: Scan) {
        durableSize = scan.validSize
        nextOffset = scan.nextOffset
        if firstTimestamp == nil { firstTimestamp = scan.firstTimestamp }
        maxTimestamp = max(maxTimestamp, scan.maxTimestamp)
        index.append(contentsOf: scan.index)
        if let problem = scan.problem { corruption = problem }
    }
}

extension LocalBus {
    /// A reader's `createTopic`: the writer creates topics, so wait for it to, and
    /// fail at once with a clear message when no writer is running to do it.
    func awaitTopic(_ name: String) async throws {
        var logged = false
        while true {
            try state.withLock { s in if s.closing { throw BusError.closed } }
            if state.withLock({ $0.topics[name] != nil }) { return }
            // Only the follower thread follows partitions (it alone scans and extends
            // segments); adopting a topic twice just drops the second copy.
            adoptNewTopics()
            if state.withLock({ $0.topics[name] != nil }) { return }
            if !WriterLock.isHeld(directory) {
                throw BusError.io("topic '\(name)' does not exist in the bus at \(directory) and no writer is running: start logpipe collect (or logpipe run) on this data directory first")
            }
            if !logged {
                logger.notice("waiting for the bus's writer to create the topic", metadata: ["topic": "\(name)", "bus": "\(directory)"])
                logged = true
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
    }
}
