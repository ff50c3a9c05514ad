import Dispatch
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The bus-wide write-ahead journal, `_journal` in the bus directory: what lets a flush
/// cycle over any number of partitions become durable with one `fdatasync`.
///
/// A cycle writes each partition's bytes to its segment (the page cache, no sync) and the
/// same bytes as one entry per partition to the journal, fdatasyncs only the journal, then
/// acknowledges. A segment file per partition stays the format readers use; the journal
/// only covers the window in which a segment's tail is not yet fsynced. Why: three
/// partitions fsynced in parallel cost three flushes per group where one file costs one
/// (docs/profile.md, "The embedded bus's group commit").
///
/// Layout: two header slots (bytes 0 and 512, one sector each, written alternately so a
/// torn write leaves the other) naming the generation and the checkpoint, the sequence
/// number and position of the first entry still needed; from byte 4096 on, entries written
/// circularly. An entry is a 56-byte header (magic "LPJ1", CRC-32C, payload length, topic
/// length, generation, sequence number, partition, segment base offset, position in the
/// segment), the topic name, then the payload: exactly the bytes the segment got at that
/// position. The CRC covers the payload, then the header after the CRC field and the
/// topic. An entry that does not fit before the end of the file goes to byte 4096.
///
/// The file is zero-filled when created and when it grows, so entries overwrite
/// allocated, written blocks in place and an `fdatasync` of it flushes data only, no
/// extent or size changes. It starts at 256 KiB (or `journalBytes` if smaller) and doubles
/// up to `journalBytes` when a cycle had to wait for a checkpoint or bypass the journal, or
/// when it fills to half within a second of the last time: so a slow or small bus never
/// pays for a large journal, and a fast one checkpoints about once a second at most. It
/// grows only while the growth is at most an eighth of the filesystem's free space, so it
/// never takes the space segments need.
///
/// A checkpointer thread, off the acknowledgement path, fdatasyncs (in parallel on
/// `FsyncPool`) every segment written since its last pass, then records the checkpoint in
/// a header slot and fdatasyncs the journal; only then may the entries before it be
/// overwritten. It runs when the journal is half full, when a cycle finds no room (the
/// flusher waits for it), and on close. A cycle whose entries do not fit even in an empty
/// journal fsyncs its segments directly instead.
///
/// On open, the writer replays every entry after the checkpoint, in sequence order,
/// stopping at the first one that is missing, torn or of another generation, by writing
/// its bytes into its segment at its position (idempotent; a segment retention already
/// deleted is skipped), and fsyncs those segments; then the segments' own recovery runs,
/// and a new generation starts with an empty journal, so entries left from before can
/// never be mistaken for new ones.
///
/// A failed write or fdatasync of the journal, or of a segment during a checkpoint, fails
/// the journal: every later append fails until the bus is reopened (which replays it).
///
/// `@unchecked Sendable`: the mutable state is in `state` (a `Mutex`); `fd` and the
/// constants are immutable; the file is written by the flusher (entries) and the
/// checkpointer (header slots, growth) in disjoint ranges.
final class Journal: @unchecked Sendable {
    static let fileName = "_journal"
    /// Where entries start; the header slots live before it.
    static let dataStart: Int64 = 4096
    static let entryHeaderSize = 56
    static let entryMagic: UInt32 = 0x314A_504C
    static let slotMagic: UInt32 = 0x484A_504C
    static let slotOffsets: [Int64] = [0, 512]
    static let slotSize = 40
    /// The size of a new journal, unless `journalBytes` is smaller.
    static let initialBytes: Int64 = 256 << 10
    /// The smallest `journalBytes` honoured.
    static let minimumBytes: Int64 = 64 << 10

    let path: String
    let fd: Int32
    let maxBytes: Int64
    let logger: Logger
    /// The generation this process writes; set by `beginGeneration`.
    private(set) var generation: UInt64 = 0
    /// The generation found on open and the slot holding its newest header.
    private let previousGeneration: UInt64
    private let newestSlot: Int

    struct State {
        /// End of the zero-filled area entries may use.
        var capacity: Int64
        /// Where the next entry goes, and its sequence number; `headLap` counts wraps.
        var head: Int64 = Journal.dataStart
        var headLap: UInt64 = 0
        var headSeq: UInt64 = 0
        /// The checkpoint: the first entry still needed (equal to the head when none is).
        var tail: Int64 = Journal.dataStart
        var tailLap: UInt64 = 0
        var tailSeq: UInt64 = 0
        /// Segments written by journaled cycles since the checkpointer's last snapshot.
        var dirty: [ObjectIdentifier: Segment] = [:]
        var checkpointWanted = false
        /// When the journal last filled to half (uptime nanoseconds).
        var lastHalfFull: UInt64 = 0
        var growWanted = false
        var flusherWaiting = false
        var failure: String?
        var stopping = false
        /// The header slot the next checkpoint writes (never the one holding the newest).
        var nextSlot = 0
        var checkpoints = 0
        var growths = 0
        var direct = 0
    }

    let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)
    private let progress = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    /// An entry to append: where its bytes go, and the bytes (the segment write's own chunks).
    struct Entry {
        var topic: String
        var partition: Int32
        var segmentBase: Int64
        var position: Int64
        var chunks: [[UInt8]]
        var length: Int
        /// CRC-32C of the chunks.
        var payloadCRC: UInt32

        var size: Int64 { Int64(Journal.entryHeaderSize + topic.utf8.count + length) }
    }

    /// A header slot's content.
    struct Checkpoint: Equatable {
        var generation: UInt64
        var sequence: UInt64
        var position: Int64
    }

    /// An entry found in the file.
    struct StoredEntry {
        var sequence: UInt64
        var journalPosition: Int64
        var topic: String
        var partition: Int32
        var segmentBase: Int64
        var position: Int64
        var payload: [UInt8]

        var size: Int64 { Int64(Journal.entryHeaderSize + topic.utf8.count + payload.count) }
    }

    // MARK: Opening and replay

    /// Opens the journal of the bus in `directory` (creating it when missing) and replays
    /// what it holds after its checkpoint into the segment files. Call it as the writer,
    /// before any partition is opened; then `beginGeneration` once recovery is done.
    init(directory: String, maxBytes: Int64, logger: Logger) throws {
        let path = directory + "/" + Self.fileName
        let maxBytes = max(maxBytes, Self.minimumBytes)
        var fd: Int32 = -1
        var found: (Checkpoint, Int)?
        if FileIO.exists(path) {
            fd = try FileIO.openReadWrite(path, create: false)
            let size = try FileIO.size(fd, path)
            found = size >= Self.dataStart + Self.minimumBytes / 2 ? Self.readCheckpoint(fd: fd) : nil
            if found == nil {
                // Never renamed into place complete: nothing in it can be trusted or replayed.
                logger.error("journal has no valid header; recreating it (segment recovery alone decides what survived)",
                             metadata: ["journal": "\(path)", "bytes": "\(size)"])
                FileIO.closeFile(fd)
                fd = -1
            }
        }
        if let found {
            do {
                try Self.replay(fd: fd, path: path, from: found.0, directory: directory, logger: logger)
            } catch {
                FileIO.closeFile(fd)
                throw error
            }
        } else {
            fd = try Self.create(path: path, directory: directory, bytes: min(maxBytes, Self.initialBytes) + Self.dataStart)
        }
        let size: Int64
        do { size = try FileIO.size(fd, path) } catch {
            FileIO.closeFile(fd)
            throw error
        }
        self.path = path
        self.maxBytes = maxBytes
        self.logger = logger
        self.fd = fd
        previousGeneration = found?.0.generation ?? 0
        newestSlot = found?.1 ?? 1
        state = Mutex(State(capacity: size))
    }

    deinit { FileIO.closeFile(fd) }

    /// Starts this process's generation: an empty journal whose checkpoint is its first
    /// byte. Called once the replayed segments are fsynced and recovered.
    func beginGeneration() throws {
        generation = previousGeneration &+ 1
        let slot = 1 - newestSlot
        try writeSlot(slot, Checkpoint(generation: generation, sequence: 0, position: Self.dataStart))
        try FileIO.syncData(fd, path)
        state.withLock { $0.nextSlot = newestSlot }
    }

    /// Writes a zero-filled journal of `bytes` under a temporary name and renames it into place.
    private static func create(path: String, directory: String, bytes: Int64) throws -> Int32 {
        let tmp = path + ".tmp"
        try FileIO.remove(tmp)
        let fd = try FileIO.openReadWrite(tmp, create: true)
        do {
            try zeroFill(fd: fd, path: tmp, from: 0, to: bytes)
            try FileIO.syncData(fd, tmp)
            if rename(tmp, path) != 0 { throw FileIO.error("rename", tmp) }
            try FileIO.syncDirectory(directory)
        } catch {
            FileIO.closeFile(fd)
            unlink(tmp)
            throw error
        }
        return fd
    }

    private static func zeroFill(fd: Int32, path: String, from start: Int64, to end: Int64) throws {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var at = start
        while at < end {
            let n = Int(min(Int64(zeros.count), end - at))
            try zeros.withUnsafeBytes { try FileIO.writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n]), at: at, path) }
            at += Int64(n)
        }
    }

    /// The newest valid header slot, and which one it is.
    static func readCheckpoint(fd: Int32) -> (Checkpoint, Int)? {
        var best: (Checkpoint, Int)?
        for (i, offset) in slotOffsets.enumerated() {
            var bytes = [UInt8](repeating: 0, count: slotSize)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, slotSize, off_t(offset)) }
            guard n == slotSize, let c = decodeSlot(bytes) else { continue }
            if let b = best, (b.0.generation, b.0.sequence) >= (c.generation, c.sequence) { continue }
            best = (c, i)
        }
        return best
    }

    static func encodeSlot(_ c: Checkpoint) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(slotSize)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(slotMagic)
        put(UInt32(0))
        put(c.generation)
        put(c.sequence)
        put(c.position)
        put(UInt64(0))
        let crc = out.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[8...])) }
        withUnsafeBytes(of: crc.littleEndian) { out.replaceSubrange(4..<8, with: $0) }
        return out
    }

    static func decodeSlot(_ bytes: [UInt8]) -> Checkpoint? {
        guard bytes.count == slotSize else { return nil }
        return bytes.withUnsafeBytes { raw -> Checkpoint? in
            func get<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: T.self)) }
            guard get(0, UInt32.self) == slotMagic,
                  get(4, UInt32.self) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[8...]))
            else { return nil }
            let c = Checkpoint(generation: get(8, UInt64.self), sequence: get(16, UInt64.self), position: get(24, Int64.self))
            return c.position >= dataStart ? c : nil
        }
    }

    private func writeSlot(_ slot: Int, _ c: Checkpoint) throws {
        try Self.encodeSlot(c).withUnsafeBytes { try FileIO.writeAll(fd, $0, at: Self.slotOffsets[slot], path) }
    }

    /// The entries after `checkpoint`, in sequence order, up to the first missing or invalid one.
    static func entries(fd: Int32, path: String, after checkpoint: Checkpoint) throws -> [StoredEntry] {
        let size = try FileIO.size(fd, path)
        var out: [StoredEntry] = []
        var position = checkpoint.position
        var sequence = checkpoint.sequence
        while let e = try readEntry(fd: fd, path: path, at: position, fileSize: size, generation: checkpoint.generation, sequence: sequence)
            ?? readEntry(fd: fd, path: path, at: dataStart, fileSize: size, generation: checkpoint.generation, sequence: sequence) {
            out.append(e)
            position = e.journalPosition + e.size
            sequence += 1
        }
        return out
    }

    /// The entry at `position` if it is whole and is the one expected there.
    static func readEntry(fd: Int32, path: String, at position: Int64, fileSize: Int64,
                          generation: UInt64, sequence: UInt64) throws -> StoredEntry? {
        guard position >= dataStart, position + Int64(entryHeaderSize) <= fileSize else { return nil }
        var header = [UInt8](repeating: 0, count: entryHeaderSize)
        try header.withUnsafeMutableBytes { try FileIO.readAll(fd, into: $0, at: position, path) }
        func get<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            header.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
        }
        let length = Int(get(8, UInt32.self))
        let topicLength = Int(get(12, UInt16.self))
        guard get(0, UInt32.self) == entryMagic, get(16, UInt64.self) == generation, get(24, UInt64.self) == sequence,
              topicLength >= 1, topicLength <= 249,
              position + Int64(entryHeaderSize + topicLength + length) <= fileSize
        else { return nil }
        var rest = [UInt8](repeating: 0, count: topicLength + length)
        try rest.withUnsafeMutableBytes { try FileIO.readAll(fd, into: $0, at: position + Int64(entryHeaderSize), path) }
        var crc = rest.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[topicLength...])) }
        crc = header.withUnsafeBytes { CRC32C.update(crc, UnsafeRawBufferPointer(rebasing: $0[8...])) }
        crc = rest.withUnsafeBytes { CRC32C.update(crc, UnsafeRawBufferPointer(rebasing: $0[0..<topicLength])) }
        guard crc == get(4, UInt32.self) else { return nil }
        return StoredEntry(
            sequence: sequence, journalPosition: position, topic: String(decoding: rest[0..<topicLength], as: UTF8.self),
            partition: get(32, Int32.self), segmentBase: get(40, Int64.self), position: get(48, Int64.self),
            payload: Array(rest[topicLength...]))
    }

    /// Writes every entry after `checkpoint` into its segment and fsyncs the segments touched.
    private static func replay(fd: Int32, path: String, from checkpoint: Checkpoint, directory: String, logger: Logger) throws {
        let entries = try Self.entries(fd: fd, path: path, after: checkpoint)
        var files: [String: Int32] = [:]
        defer { for f in files.values { FileIO.closeFile(f) } }
        var replayed = 0
        var skipped = 0
        for e in entries {
            let segmentPath = directory + "/" + TopicPartition(topic: e.topic, partition: e.partition).description + "/"
                + Segment.fileName(base: e.segmentBase)
            var segmentFD = files[segmentPath]
            if segmentFD == nil {
                let f = open(segmentPath, O_RDWR | O_CLOEXEC)
                if f < 0 {
                    // Segments are created (and their directory fsynced) before any entry names them,
                    // so a missing one was deleted by retention: its bytes are no longer wanted.
                    if errno == ENOENT {
                        skipped += 1
                        continue
                    }
                    throw FileIO.error("open", segmentPath)
                }
                files[segmentPath] = f
                segmentFD = f
            }
            try e.payload.withUnsafeBytes { try FileIO.writeAll(segmentFD!, $0, at: e.position, segmentPath) }
            replayed += 1
        }
        for (p, f) in files { try FileIO.syncData(f, p) }
        if !entries.isEmpty {
            logger.notice("replayed the bus journal into the segments", metadata: [
                "entries": "\(replayed)", "segmentsGone": "\(skipped)", "files": "\(files.count)",
                "sequences": "\(checkpoint.sequence)..<\(checkpoint.sequence + UInt64(entries.count))",
            ])
        }
    }

    // MARK: Appending (the flusher)

    /// Places `entries` after the head and returns their positions and the first one's
    /// sequence number (the rest follow in order), recording `segments` as
    /// written for the next checkpoint; waits for a checkpoint when the journal is full.
    /// Returns nil when they cannot fit even in an empty journal: the caller fsyncs the
    /// segments directly. Throws once the journal has failed.
    func reserve(_ entries: [Entry], segments: [Segment]) throws -> (positions: [Int64], firstSequence: UInt64)? {
        while true {
            enum Outcome { case placed([Int64], UInt64), direct, wait, failed(String) }
            let outcome: Outcome = state.withLock { s in
                if let failure = s.failure { return .failed(failure) }
                let first = s.headSeq
                if let positions = Self.place(entries, &s) {
                    for segment in segments { s.dirty[ObjectIdentifier(segment)] = segment }
                    if s.headSeq != s.tailSeq && used(s) * 2 >= s.capacity - Self.dataStart && !s.checkpointWanted {
                        s.checkpointWanted = true
                        // Half full again within a second: checkpoints (a round of segment fsyncs
                        // each) would come too often for this write rate, so the journal grows.
                        let now = DispatchTime.now().uptimeNanoseconds
                        if now - s.lastHalfFull < 1_000_000_000 && s.capacity < maxBytes { s.growWanted = true }
                        s.lastHalfFull = now
                        wake.signal()
                    }
                    return .placed(positions, first)
                }
                if s.capacity < maxBytes && !s.growWanted {
                    s.growWanted = true
                    wake.signal()
                }
                if s.headSeq == s.tailSeq {
                    s.direct += 1
                    return .direct
                }
                s.flusherWaiting = true
                s.checkpointWanted = true
                wake.signal()
                return .wait
            }
            switch outcome {
            case .placed(let positions, let first): return (positions, first)
            case .direct: return nil
            case .failed(let failure): throw BusError.io("the bus journal failed: \(failure)")
            case .wait: progress.wait()
            }
        }
    }

    private func used(_ s: State) -> Int64 {
        s.headLap == s.tailLap ? s.head - s.tail : (s.capacity - s.tail) + (s.head - Self.dataStart)
    }

    /// Positions for `entries` after the head, advancing it, or nil (head unchanged) when
    /// one would overwrite an entry after the checkpoint. An entry wraps to `dataStart` when
    /// it does not fit before the end; on the checkpoint's lap it may end at the checkpoint.
    private static func place(_ entries: [Entry], _ s: inout State) -> [Int64]? {
        var head = s.head
        var lap = s.headLap
        var positions: [Int64] = []
        positions.reserveCapacity(entries.count)
        for e in entries {
            let n = e.size
            if lap == s.tailLap {
                if head + n <= s.capacity {
                    positions.append(head)
                    head += n
                    continue
                }
                lap += 1
                head = dataStart
            }
            guard head + n <= s.tail else { return nil }
            positions.append(head)
            head += n
        }
        s.head = head
        s.headLap = lap
        s.headSeq += UInt64(entries.count)
        return positions
    }

    /// Writes `entries` at the positions and sequence numbers `reserve` gave, one `pwritev`
    /// per contiguous run.
    func write(_ entries: [Entry], at positions: [Int64], firstSequence: UInt64) throws {
        var run: [[UInt8]] = []
        var runStart: Int64 = 0
        var runEnd: Int64 = -1
        for (i, e) in entries.enumerated() {
            let header = Self.encodeHeader(e, generation: generation, sequence: firstSequence + UInt64(i))
            if positions[i] != runEnd {
                if !run.isEmpty { try FileIO.writeAll(fd, run, at: runStart, path) }
                run = []
                runStart = positions[i]
            }
            run.append(header)
            run.append(contentsOf: e.chunks)
            runEnd = positions[i] + e.size
        }
        if !run.isEmpty { try FileIO.writeAll(fd, run, at: runStart, path) }
    }

    /// An entry's header and topic, the bytes before its payload.
    static func encodeHeader(_ e: Entry, generation: UInt64, sequence: UInt64) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(entryHeaderSize + e.topic.utf8.count)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(entryMagic)
        put(UInt32(0))
        put(UInt32(e.length))
        put(UInt16(e.topic.utf8.count))
        put(UInt16(0))
        put(generation)
        put(sequence)
        put(e.partition)
        put(UInt32(0))
        put(e.segmentBase)
        put(e.position)
        out.append(contentsOf: e.topic.utf8)
        let crc = out.withUnsafeBytes { CRC32C.update(e.payloadCRC, UnsafeRawBufferPointer(rebasing: $0[8...])) }
        withUnsafeBytes(of: crc.littleEndian) { out.replaceSubrange(4..<8, with: $0) }
        return out
    }

    /// Makes the written entries durable.
    func sync() throws {
        try FileIO.syncData(fd, path)
    }

    /// Fails the journal: every later `reserve` throws, and checkpoints stop (what the
    /// journal holds stays for the replay on the next open).
    func fail(_ message: String) {
        state.withLock { s in
            if s.failure == nil { s.failure = message }
            if s.flusherWaiting {
                s.flusherWaiting = false
                progress.signal()
            }
        }
        logger.critical("the bus journal failed; appends fail until the bus is reopened", metadata: ["error": "\(message)"])
    }

    // MARK: Checkpoints and growth (the checkpointer thread)

    /// The checkpointer's loop; returns after the final checkpoint `stop` asked for.
    func checkpointLoop(pool: FsyncPool) {
        while true {
            wake.wait()
            let (grow, stopping) = state.withLock { s in (s.growWanted, s.stopping) }
            checkpoint(pool: pool)
            if stopping {
                exited.signal()
                return
            }
            if grow { self.grow() }
        }
    }

    /// Fsyncs every segment written since the last pass, then records the head as the checkpoint.
    private func checkpoint(pool: FsyncPool) {
        let snapshot = state.withLock { s -> (segments: [Segment], checkpoint: Checkpoint, lap: UInt64, slot: Int)? in
            s.checkpointWanted = false
            if s.failure != nil || (s.headSeq == s.tailSeq && s.dirty.isEmpty) {
                if s.flusherWaiting {
                    s.flusherWaiting = false
                    progress.signal()
                }
                return nil
            }
            let segments = Array(s.dirty.values)
            s.dirty = [:]
            return (segments, Checkpoint(generation: generation, sequence: s.headSeq, position: s.head), s.headLap, s.nextSlot)
        }
        guard let snapshot else { return }
        let jobs = snapshot.segments.map { FsyncPool.Job(segment: $0, log: nil) }
        pool.runAll(jobs)
        if let failed = jobs.first(where: { $0.error != nil }) {
            return fail("checkpoint fsync of \(failed.segment.path): \(failed.error!)")
        }
        do {
            try writeSlot(snapshot.slot, snapshot.checkpoint)
            try FileIO.syncData(fd, path)
        } catch {
            return fail("checkpoint of \(path): \(error)")
        }
        state.withLock { s in
            s.tail = snapshot.checkpoint.position
            s.tailLap = snapshot.lap
            s.tailSeq = snapshot.checkpoint.sequence
            s.nextSlot = 1 - snapshot.slot
            s.checkpoints += 1
            if s.flusherWaiting {
                s.flusherWaiting = false
                progress.signal()
            }
        }
    }

    /// Doubles the usable area (up to `maxBytes`), zero-filled and fsynced before use.
    private func grow() {
        let capacity = state.withLock { s in
            s.growWanted = false
            return s.capacity
        }
        let target = min(maxBytes + Self.dataStart, Self.dataStart + (capacity - Self.dataStart) * 2)
        guard target > capacity else { return }
        // The segments need the space more: the journal only grows where it takes a small part of what is free.
        var fs = statvfs()
        guard fstatvfs(fd, &fs) == 0, Int64(fs.f_bavail) * Int64(fs.f_frsize) >= 8 * (target - capacity) else { return }
        do {
            try Self.zeroFill(fd: fd, path: path, from: capacity, to: target)
            try FileIO.syncData(fd, path)
        } catch {
            // Out of space, most likely: the journal keeps its size and works as before.
            _ = ftruncate(fd, off_t(capacity))
            logger.warning("could not grow the bus journal", metadata: ["journal": "\(path)", "bytes": "\(target)", "error": "\(error)"])
            return
        }
        state.withLock { s in
            s.capacity = target
            s.growths += 1
        }
    }

    /// Asks the checkpointer for a last checkpoint and waits for it to end. Call it after
    /// the flusher has exited.
    func stop() {
        let already = state.withLock { s in
            defer { s.stopping = true }
            return s.stopping
        }
        if already { return }
        wake.signal()
        exited.wait()
    }
}
