import Dispatch
import Foundation
import Logging
import Metrics
import Synchronization

/// The embedded bus: a durable append-only log per topic-partition in a local directory.
///
/// Layout under `directory`:
/// - `_topics/<topic>.json`: a topic's partition count and retention.
/// - `<topic>-<partition>/<base offset, 20 digits>.log`: segments of record batches
///   (see `RecordBatch`), and `.index` files beside segments closed to appends.
/// - `_groups/<group>.json`: a consumer group's committed offsets.
/// - `_journal`: the writer's write-ahead journal (`Journal`).
///
/// Writes go through one flusher thread doing group commit: producers encode
/// and checksum their batches on their own tasks, then under a short lock take
/// offsets, copy the bytes to per-partition pending buffers and wait; the
/// flusher writes what is pending to the segments, appends the same bytes to the
/// journal and fdatasyncs only the journal, publishes the new high watermarks and
/// resumes those producers together (see the flusher's extension for how it sizes
/// groups). A checkpointer thread makes the segments durable behind it (fsyncs in
/// parallel on `FsyncPool` threads), so the journal can be overwritten.
/// Blocking file I/O never runs on Swift's cooperative pool: the flusher and
/// fsync workers are `Thread`s, and topic creation, commits and retention run
/// on a serial dispatch queue. Reads are `pread`s of durable bytes, mostly from
/// the page cache, done by the fetching task; fetches see only fsynced records.
///
/// Keyed records go to Kafka's partition for the key, records without a key
/// round-robin over the partitions, and every record carries the time its
/// produce call encoded it. A produce call spanning partitions is acknowledged
/// when all its partitions are durable; if one of them fails, the call throws
/// although its records on the other partitions may be durable (at least once).
/// When more than `maxPendingBytes` wait to become durable, `produce` throws
/// `overloaded` at once instead of queueing.
///
/// Recovery on open first replays the journal's entries after its checkpoint into
/// their segments, then scans the tail segment of every partition, checking every
/// batch's framing, offsets and CRC, and truncates it at the first bad batch
/// (a torn write), logging what was cut. Older segments are trusted through
/// their index files, rescanned when those are missing or stale, and their CRCs
/// are checked again on every fetch: a corrupt batch in an older segment is
/// never truncated (it may be followed by good data) but fetches reaching it
/// throw `BusError.corrupt`, so a consumer stops there instead of reading garbage.
///
/// A partition whose write or fsync fails takes no more appends until the bus
/// is reopened (after an fsync error the state of the page cache is unknown).
///
/// Metrics go to `options.metricsFactory` (by default the bootstrapped
/// `MetricsSystem`): `logpipe_bus_append_seconds` (per topic), and per topic and
/// partition `logpipe_bus_fsync_seconds`, `logpipe_bus_appended_bytes_total`,
/// `logpipe_bus_appended_records_total`, `logpipe_bus_high_watermark`,
/// `logpipe_bus_low_watermark`, `logpipe_bus_partition_size_bytes`; also
/// `logpipe_bus_overloaded_total` and `logpipe_bus_recovery_truncated_bytes_total`.
///
/// Call `close()` when done: the flusher thread holds the bus until then.
public final class LocalBus: Bus {
    /// The root directory.
    public let directory: String
    let options: LocalBusOptions
    var logger: Logger { options.logger }

    struct State {
        var topics: [String: TopicState] = [:]
        /// Partitions with pending bytes, in the order they got them.
        var dirty: [PartitionLog] = []
        var produceWaiters: [ProduceWaiter] = []
        /// Accepted bytes not yet durable (pending and being flushed).
        var inflightBytes = 0
        /// The flusher waits on `flusherWake`; the producer that brings the
        /// number of waiting producers to this wakes it (0: the flusher is busy).
        var flusherWakeAt = 0
        /// Producers the last flush cycle resumed: they come back soon, and
        /// waiting briefly for them makes the next group (and fsync) cover them too.
        var lastCycleWaiters = 0
        /// A moving average of a flush cycle's write and fsync time, in nanoseconds.
        var cycleNanos: UInt64 = 0
        var statistics = LocalBus.FlushStatistics()
        var closing = false
        var closed = false
        var flusherExited = false
        var flusherExitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// A producer waiting for its records to become durable.
    struct ProduceWaiter {
        let continuation: CheckedContinuation<Void, Error>
        let partitions: [PartitionLog]
    }

    let state = Mutex(State())
    let flusherWake = DispatchSemaphore(value: 0)
    /// Fsyncs the files of a multi-partition flush cycle at once.
    let fsyncPool = FsyncPool(threads: 3)
    let adminQueue = DispatchQueue(label: "logpipe.bus.admin")
    let nextWaiterID = Atomic<UInt64>(0)
    let metricsFactory: any MetricsFactory
    /// Produce calls refused with `overloaded`.
    let overloadedCounter: Counter
    /// Bytes recovery cut from torn or corrupt log tails.
    let truncatedBytesCounter: Counter
    /// Held from open to close by a writer (`LocalBusAccess.write`); nil for a reader.
    let writerLock: WriterLock?
    /// The writer's journal; nil for a reader.
    let journal: Journal?

    /// Opens (creating if needed) the bus in `directory`, recovering every
    /// partition and applying retention. Blocking: call it at startup.
    public init(directory: String, options: LocalBusOptions = LocalBusOptions()) throws {
        self.directory = directory
        self.options = options
        metricsFactory = options.metricsFactory ?? MetricsSystem.factory
        overloadedCounter = Counter(label: "logpipe_bus_overloaded_total", factory: metricsFactory)
        truncatedBytesCounter = Counter(label: "logpipe_bus_recovery_truncated_bytes_total", factory: metricsFactory)
        let topics: [String: TopicState]
        do {
            if options.access == .write {
                try FileIO.makeDirectories(directory)
                // Before anything is written: recovery truncates tails, which only the one writer may do.
                let lock = try WriterLock(directory: directory)
                writerLock = lock
                do {
                    try FileIO.makeDirectories(directory + "/_topics")
                    try FileIO.makeDirectories(directory + "/_groups")
                    // Replayed before the partitions open, so their recovery sees every acknowledged byte.
                    journal = try Journal(directory: directory, maxBytes: options.journalBytes, logger: options.logger)
                } catch {
                    lock.release()
                    throw error
                }
            } else {
                writerLock = nil
                journal = nil
            }
            do {
                if options.access == .write { try removeStaleGroupTemporaries() }
                topics = try loadTopics()
                try journal?.beginGeneration()
            } catch {
                writerLock?.release()
                throw error
            }
        } catch {
            fsyncPool.stop()
            throw error
        }
        state.withLock { $0.topics = topics }
        if options.access == .read {
            startFollower()
            return
        }
        _ = retainSegments(nowMillis: Self.nowMillis())
        let thread = Thread { [self] in flushLoop() }
        thread.name = "logpipe-bus-flusher"
        thread.start()
        if let journal {
            let checkpointer = Thread { [journal, fsyncPool] in journal.checkpointLoop(pool: fsyncPool) }
            checkpointer.name = "logpipe-bus-checkpointer"
            checkpointer.start()
        }
        if let every = options.retentionCheckIntervalSeconds { scheduleRetention(every: every) }
    }

    private func scheduleRetention(every seconds: Double) {
        adminQueue.asyncAfter(deadline: .now() + seconds) { [weak self] in
            guard let self, !state.withLock({ $0.closing }) else { return }
            _ = retainSegments(nowMillis: Self.nowMillis())
            scheduleRetention(every: seconds)
        }
    }

    /// Opens the bus in the directory at `url`.
    public convenience init(directory url: URL, options: LocalBusOptions = LocalBusOptions()) throws {
        try self.init(directory: url.path, options: options)
    }

    var topicsDirectory: String { directory + "/_topics" }
    var groupsDirectory: String { directory + "/_groups" }

    static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    // MARK: Topics

    public func createTopic(_ spec: TopicSpec) async throws {
        try Self.validateName(spec.name, what: "topic")
        guard spec.partitions >= 1 && spec.partitions <= 10_000 else {
            throw BusError.io("topic '\(spec.name)' needs 1 to 10000 partitions, not \(spec.partitions)")
        }
        if options.access == .read { return try await awaitTopic(spec.name) }
        try await onAdminQueue { [self] in
            try state.withLock { s in
                if s.closing { throw BusError.closed }
            }
            if state.withLock({ $0.topics[spec.name] != nil }) { return }
            var partitions: [PartitionLog] = []
            for p in 0..<spec.partitions {
                partitions.append(try openPartition(TopicPartition(topic: spec.name, partition: p)))
            }
            try FileIO.syncDirectory(directory)
            // The metadata file is written last: it is what makes the topic exist on the next open.
            try FileIO.writeFileAtomically(topicsDirectory + "/" + spec.name + ".json", Self.encodeTopic(spec), directory: topicsDirectory)
            let topic = TopicState(spec: spec, partitions: partitions, metricsFactory: metricsFactory)
            for p in partitions { p.updateGauges() }
            state.withLock { $0.topics[spec.name] = topic }
            logger.info("created topic", metadata: ["topic": "\(spec.name)", "partitions": "\(spec.partitions)"])
        }
    }

    /// Gives an existing topic a new retention: its `_topics/<topic>.json` is rewritten
    /// atomically, so the next open keeps it, and retention runs at once with it (a smaller
    /// limit frees disk now, not at the next check). `createTopic` leaves an existing topic
    /// as it is, so this is how a changed setting reaches a bus that already has data.
    /// Writer only. Returns the number of segments retention deleted; nothing happens
    /// (and 0 is returned) when the retention is already `retention`.
    @discardableResult
    public func setRetention(_ retention: RetentionPolicy, topic: String) async throws -> Int {
        guard options.access == .write else { throw BusError.readOnly(directory) }
        if let age = retention.maxAgeSeconds, age <= 0 {
            throw BusError.io("retention of '\(topic)': the maximum age must be more than 0 seconds, not \(age) (nil keeps forever)")
        }
        if let bytes = retention.maxBytesPerPartition, bytes <= 0 {
            throw BusError.io("retention of '\(topic)': the size limit must be more than 0 bytes, not \(bytes) (nil: no limit)")
        }
        return try await onAdminQueue { [self] in
            try state.withLock { s in
                if s.closing { throw BusError.closed }
            }
            let t = try topicState(topic)
            let old = t.retention
            if old == retention { return 0 }
            var spec = t.spec
            spec.retention = retention
            // The file first: were it to fail, the bus would apply a retention the next open forgets.
            try FileIO.writeFileAtomically(topicsDirectory + "/" + topic + ".json", Self.encodeTopic(spec), directory: topicsDirectory)
            t.retention = retention
            logger.notice("retention of \(topic) changed: \(Self.describeAge(old)) → \(Self.describeAge(retention)), \(Self.describeSize(old)) → \(Self.describeSize(retention))")
            return retainSegments(nowMillis: Self.nowMillis())
        }
    }

    /// A retention's age as an operator set it: `168 h`, `1.5 h`, `kept forever`.
    static func describeAge(_ retention: RetentionPolicy) -> String {
        guard let seconds = retention.maxAgeSeconds else { return "kept forever" }
        let hours = Double(seconds) / 3600
        return hours == hours.rounded() ? "\(Int64(hours)) h" : "\(hours) h"
    }

    /// A retention's size limit as an operator set it: `512 MiB per partition`, `no size limit`.
    static func describeSize(_ retention: RetentionPolicy) -> String {
        guard let bytes = retention.maxBytesPerPartition else { return "no size limit" }
        return bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB per partition" : "\(bytes) bytes per partition"
    }

    public func topics() async throws -> [TopicInfo] {
        try state.withLock { s in
            if s.closed { throw BusError.closed }
            return s.topics.values.sorted { $0.name < $1.name }.map { t in
                TopicInfo(name: t.name, partitions: t.partitions.map(\.info))
            }
        }
    }

    public func partitionCount(topic: String) async throws -> Int32 {
        try topicState(topic).partitionCount
    }

    /// A topic's spec, with the retention in force now (in a reader, as of when it opened
    /// or first saw the topic: the writer applies retention).
    public func topicSpec(_ topic: String) throws -> TopicSpec {
        try topicState(topic).spec
    }

    func topicState(_ topic: String) throws -> TopicState {
        try state.withLock { s in
            if s.closed { throw BusError.closed }
            guard let t = s.topics[topic] else { throw BusError.unknownTopic(topic) }
            return t
        }
    }

    func partitionLog(_ tp: TopicPartition) throws -> PartitionLog {
        let t = try topicState(tp.topic)
        guard tp.partition >= 0 && Int(tp.partition) < t.partitions.count else { throw BusError.unknownPartition(tp) }
        return t.partitions[Int(tp.partition)]
    }

    // MARK: Produce

    public func produce(topic: String, batch: ProduceBatch) async throws -> ProduceResult {
        guard options.access == .write else { throw BusError.readOnly(directory) }
        let start = DispatchTime.now().uptimeNanoseconds
        let t = try topicState(topic)
        let n = batch.entries.count
        if n == 0 { return ProduceResult(placements: []) }
        let partitionCount = t.partitionCount

        // Choose partitions and group the entries by partition, in produce order.
        var groups = [[Int]](repeating: [], count: Int(partitionCount))
        try batch.buffer.withUnsafeBytes { buf in
            for (i, e) in batch.entries.enumerated() {
                // The fields are public, so the ranges are checked before any byte is read through them.
                let size = Int32(clamping: buf.count)
                if e.value.lowerBound < 0 || e.value.upperBound > size
                    || e.key.map({ $0.lowerBound < 0 || $0.upperBound > size }) ?? false {
                    throw BusError.io("produce batch entry \(i) points outside its buffer of \(buf.count) bytes")
                }
                let p: Int32
                if let explicit = e.partition {
                    guard explicit >= 0 && explicit < partitionCount else {
                        throw BusError.unknownPartition(TopicPartition(topic: topic, partition: explicit))
                    }
                    p = explicit
                } else if let key = e.key {
                    p = KafkaPartitioner.partition(
                        key: UnsafeRawBufferPointer(rebasing: buf[Int(key.lowerBound)..<Int(key.upperBound)]),
                        partitions: partitionCount)
                } else {
                    p = Int32(t.roundRobin.wrappingAdd(1, ordering: .relaxed).oldValue % UInt32(partitionCount))
                }
                groups[Int(p)].append(i)
            }
        }

        // Encode and checksum outside the lock; the lock only assigns offsets and copies bytes.
        let timestamp = Self.nowMillis()
        // A var so the lock below patches each buffer in place, uniquely referenced, and hands it on without a copy.
        var encoded: [(partition: Int, bytes: [UInt8], count: Int)] = []
        var total = 0
        for (p, indices) in groups.enumerated() where !indices.isEmpty {
            let size = RecordBatch.encodedSize(batch, indices: indices)
            if size > options.maxBatchBytes { throw BusError.recordTooLarge(size) }
            encoded.append((p, RecordBatch.encode(batch, indices: indices, timestampMillis: timestamp), indices.count))
            total += size
        }
        if total > options.maxPendingBytes { throw BusError.recordTooLarge(total) }

        var bases = [Int64](repeating: 0, count: encoded.count)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let outcome: Result<Bool, BusError> = state.withLock { s in
                if s.closing { return .failure(.closed) }
                if s.inflightBytes + total > options.maxPendingBytes {
                    return .failure(.overloaded(retryAfterSeconds: options.overloadedRetryAfterSeconds))
                }
                for e in encoded {
                    if let failure = t.partitions[e.partition].failure { return .failure(.io(failure)) }
                }
                var touched: [PartitionLog] = []
                touched.reserveCapacity(encoded.count)
                for k in encoded.indices {
                    let log = t.partitions[encoded[k].partition]
                    if log.pendingBatches.isEmpty { s.dirty.append(log) }
                    let base = log.nextOffset
                    let count = encoded[k].count
                    RecordBatch.patchBaseOffset(&encoded[k].bytes, at: 0, base)
                    log.pendingBatches.append(PendingBatch(
                        position: log.pendingBytes, length: encoded[k].bytes.count, baseOffset: base, count: count, timestamp: timestamp))
                    log.pending.append(encoded[k].bytes)
                    log.pendingBytes += encoded[k].bytes.count
                    log.nextOffset = base + Int64(count)
                    bases[k] = base
                    touched.append(log)
                }
                s.inflightBytes += total
                s.produceWaiters.append(ProduceWaiter(continuation: continuation, partitions: touched))
                let wake = s.flusherWakeAt > 0 && s.produceWaiters.count >= s.flusherWakeAt
                if wake { s.flusherWakeAt = 0 }
                return .success(wake)
            }
            switch outcome {
            case .success(let wake):
                if wake { flusherWake.signal() }
            case .failure(let error):
                if case .overloaded = error { overloadedCounter.increment() }
                continuation.resume(throwing: error)
            }
        }

        var placements = [(partition: Int32, offset: Int64)](repeating: (0, 0), count: n)
        for (k, e) in encoded.enumerated() {
            for (j, i) in groups[e.partition].enumerated() {
                placements[i] = (Int32(e.partition), bases[k] + Int64(j))
            }
        }
        t.appendTimer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
        return ProduceResult(placements: placements)
    }

    // MARK: Statistics

    /// Counts of the group commit's work since the bus opened.
    public struct FlushStatistics: Sendable, Equatable {
        /// Flush cycles: groups of produce calls made durable together.
        public var cycles: Int = 0
        /// Files fsynced on the acknowledgement path: the journal once per cycle, or each
        /// segment a cycle too large for the journal wrote.
        public var fsyncs: Int = 0
        /// Produce calls acknowledged (or failed) by those cycles.
        public var produceCalls: Int = 0
        /// Bytes written to segments.
        public var bytes: Int64 = 0
        /// Journal checkpoints: the segments made durable behind the journal, off the acknowledgement path.
        public var checkpoints: Int = 0
        /// Cycles too large for the journal, whose segments were fsynced directly.
        public var journalBypasses: Int = 0
        /// Times the journal doubled its size.
        public var journalGrowths: Int = 0
    }

    /// What the group commit has done so far: `produceCalls / cycles` is the
    /// average group size, the number of acknowledgements one fsync round paid for.
    public var flushStatistics: FlushStatistics {
        var statistics = state.withLock { $0.statistics }
        if let journal {
            journal.state.withLock { j in
                statistics.checkpoints = j.checkpoints
                statistics.journalBypasses = j.direct
                statistics.journalGrowths = j.growths
            }
        }
        return statistics
    }

    // MARK: Consumer groups

    public func commit(group: String, offsets: [TopicPartition: Int64]) async throws {
        if group.isEmpty { throw BusError.io("a consumer group needs a name") }
        for (tp, offset) in offsets {
            _ = try partitionLog(tp)
            if offset < 0 { throw BusError.io("cannot commit negative offset \(offset) for \(tp)") }
        }
        try await onAdminQueue { [self] in
            try state.withLock { s in if s.closing { throw BusError.closed } }
            // Other processes (stream workers reading this bus) commit too: read, merge and replace under the group's lock.
            try withGroupLock(group) {
                var merged = try readGroupFile(group)
                for (tp, offset) in offsets { merged[tp.topic, default: [:]][tp.partition] = offset }
                try FileIO.writeFileAtomically(groupFilePath(group), Self.encodeGroup(group, merged), directory: groupsDirectory,
                                               temporary: groupFilePath(group) + ".\(getpid()).tmp")
            }
        }
    }

    public func committedOffsets(group: String, topic: String) async throws -> [Int32: Int64] {
        try state.withLock { s in if s.closed { throw BusError.closed } }
        return try await onAdminQueue { [self] in try readGroupFile(group)[topic] ?? [:] }
    }

    public func groups() async throws -> [String] {
        try state.withLock { s in if s.closed { throw BusError.closed } }
        return try await onAdminQueue { [self] in
            guard FileIO.exists(groupsDirectory) else { return [] }
            var names: [String] = []
            for name in try FileIO.list(groupsDirectory) where name.hasSuffix(".json") {
                let path = groupsDirectory + "/" + name
                do {
                    names.append(try Self.decodeGroup(try FileIO.readFile(path)).0)
                } catch {
                    throw BusError.corrupt("group offsets \(path): \(error)")
                }
            }
            return names.sorted()
        }
    }

    // MARK: Retention

    /// Deletes, per partition, the oldest segments whose newest record is older
    /// than the topic's maximum age, then the oldest while the partition is larger
    /// than its maximum size; the active segment is never deleted. Runs on open,
    /// after segment rolls and every `retentionCheckIntervalSeconds`.
    /// Returns the number of segments deleted.
    @discardableResult
    public func enforceRetention(now: Date = Date()) async throws -> Int {
        // Retention deletes files: the writer's job. A reader notices what it deleted.
        guard options.access == .write else { return 0 }
        let millis = Int64((now.timeIntervalSince1970 * 1000).rounded())
        return try await onAdminQueue { [self] in retainSegments(nowMillis: millis) }
    }

    /// Retention's work; call it on the admin queue (or before the bus is shared).
    func retainSegments(nowMillis: Int64) -> Int {
        let victims: [(TopicPartition, Segment)] = state.withLock { s in
            var victims: [(TopicPartition, Segment)] = []
            for t in s.topics.values {
                let retention = t.retention
                for p in t.partitions {
                    var size = p.sizeBytes
                    while p.segments.count > 1 {
                        let oldest = p.segments[0]
                        var expired = false
                        if let maxAge = retention.maxAgeSeconds {
                            expired = oldest.durableSize == 0 || oldest.maxTimestamp < nowMillis - maxAge * 1000
                        }
                        if let maxBytes = retention.maxBytesPerPartition, size > maxBytes { expired = true }
                        if !expired { break }
                        p.segments.removeFirst()
                        size -= oldest.durableSize
                        victims.append((p.tp, oldest))
                    }
                    p.updateGauges()
                }
            }
            return victims
        }
        for (tp, segment) in victims {
            do {
                try FileIO.remove(segment.path)
                try FileIO.remove(segment.indexPath)
                logger.info("retention deleted segment", metadata: [
                    "partition": "\(tp)", "segment": "\(segment.path)",
                    "offsets": "\(segment.baseOffset)..<\(segment.nextOffset)", "bytes": "\(segment.durableSize)",
                ])
            } catch {
                logger.error("retention could not delete segment", metadata: ["segment": "\(segment.path)", "error": "\(error)"])
            }
        }
        return victims.count
    }

    // MARK: Close

    public func close() async throws {
        let (fetchWaiters, alreadyExited) = state.withLock { s -> ([CheckedContinuation<Void, Never>], Bool) in
            s.closing = true
            var waiters: [CheckedContinuation<Void, Never>] = []
            for t in s.topics.values {
                for p in t.partitions {
                    waiters.append(contentsOf: p.fetchWaiters.values)
                    p.fetchWaiters.removeAll()
                }
            }
            s.flusherWakeAt = 0
            return (waiters, s.flusherExited)
        }
        for w in fetchWaiters { w.resume() }
        flusherWake.signal()
        if !alreadyExited {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let exited = state.withLock { s in
                    if s.flusherExited { return true }
                    s.flusherExitWaiters.append(c)
                    return false
                }
                if exited { c.resume() }
            }
        }
        // The last checkpoint: a bus closed cleanly leaves nothing to replay.
        if let journal { await onAdminQueue { journal.stop() } }
        fsyncPool.stop()
        // Waits for queued admin work, then releases the segments (closing their files).
        await onAdminQueue { [self] in
            state.withLock { s in
                s.closed = true
                s.topics.removeAll()
            }
        }
        writerLock?.release()
    }

    // MARK: Helpers

    /// Runs blocking work on the serial admin queue and awaits it.
    func onAdminQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            adminQueue.async {
                do { c.resume(returning: try work()) } catch { c.resume(throwing: error) }
            }
        }
    }

    func onAdminQueue(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { c in
            adminQueue.async {
                work()
                c.resume()
            }
        }
    }

    /// Topic names as Kafka allows them: 1 to 249 of `[A-Za-z0-9._-]`, not `.` or `..`.
    static func validateName(_ name: String, what: String) throws {
        let ok = !name.isEmpty && name.utf8.count <= 249 && name != "." && name != ".."
            && name.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F || b == 0x2D
            }
        if !ok { throw BusError.io("invalid \(what) name '\(name)': use 1 to 249 of A-Z a-z 0-9 . _ -") }
    }

    /// A file name for any group name: bytes outside `[A-Za-z0-9_-]` as `%XX`
    /// (dots too, so no name can be `.` or `..`).
    static func fileName(forGroup group: String) -> String {
        var out = ""
        for b in group.utf8 {
            if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D {
                out.unicodeScalars.append(UnicodeScalar(b))
            } else {
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
