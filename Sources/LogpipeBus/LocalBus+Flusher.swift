import Dispatch
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Group commit: the flusher thread's loop.
///
/// A cycle takes what producers have queued, writes it at once (so the page
/// cache copy overlaps the producers preparing their next batches), and keeps
/// taking and writing until the group is complete: as many producers as the
/// last cycle resumed, or half a cycle's I/O time has passed. Then it appends
/// what it wrote to the journal and fdatasyncs that one file (`Journal`), or, for a
/// group too large for the journal, fsyncs every segment it wrote, once, in
/// parallel; then it publishes the new high watermarks and resumes every producer
/// of the group.
extension LocalBus {
    /// One partition's share of a take.
    ///
    /// `@unchecked Sendable`: only the flusher thread uses it.
    private final class FlushItem: @unchecked Sendable {
        let log: PartitionLog
        /// Encoded batches, written back to back.
        let chunks: [[UInt8]]
        let byteCount: Int
        let batches: [PendingBatch]
        /// The segment written to: the active one, or a new one after `roll`.
        var segment: Segment
        let roll: Bool
        /// A segment this item started, published with the data.
        var newSegment: Segment?
        var newIndexEntries: [IndexEntry] = []
        /// Where in the segment the bytes went, and their CRC-32C: the journal entry.
        var position: Int64 = 0
        var payloadCRC: UInt32 = 0
        var error: String?
        /// The write failed for want of space (`BusError.noSpace`): nothing of it is in the
        /// file, so the partition may take appends again once space returns.
        var noSpace = false

        init(log: PartitionLog, chunks: [[UInt8]], byteCount: Int, batches: [PendingBatch], segment: Segment, roll: Bool) {
            self.log = log
            self.chunks = chunks
            self.byteCount = byteCount
            self.batches = batches
            self.segment = segment
            self.roll = roll
        }
    }

    /// A group commit in progress.
    private struct Cycle {
        var items: [FlushItem] = []
        var waiters: [ProduceWaiter] = []
        var inflight = 0
        /// The segment each partition is being written to in this cycle.
        var segments: [ObjectIdentifier: Segment] = [:]
        /// Partitions whose write failed in this cycle: their later items are not written.
        var failed: [ObjectIdentifier: String] = [:]
        /// Of `failed`, those whose write found no space and left their files as they were.
        var noSpace: Set<ObjectIdentifier> = []
        var deadline: UInt64?
        var ioNanos: UInt64 = 0
    }

    private enum Step {
        case sleep
        case waitForGroup(until: UInt64)
        case write([FlushItem], commit: Bool)
        case exit([CheckedContinuation<Void, Never>])
    }

    func flushLoop() {
        var cycle = Cycle()
        while true {
            let step: Step = state.withLock { s in
                var fresh: [FlushItem] = []
                if !s.dirty.isEmpty {
                    let nowMillis = Self.nowMillis()
                    for log in s.dirty {
                        let id = ObjectIdentifier(log)
                        let segment = cycle.segments[id] ?? log.active
                        // Roll only on a partition's first write of a cycle, when everything
                        // in the old segment is durable and published (its index file says so).
                        var roll = false
                        if cycle.segments[id] == nil {
                            roll = segment.writtenSize >= options.segmentBytes
                            if !roll, segment.writtenSize > 0, let maxAge = options.segmentMaxAgeSeconds,
                               let first = segment.firstTimestamp, first < nowMillis - maxAge * 1000 {
                                roll = true
                            }
                        }
                        fresh.append(FlushItem(log: log, chunks: log.pending, byteCount: log.pendingBytes,
                                               batches: log.pendingBatches, segment: segment, roll: roll))
                        cycle.inflight += log.pendingBytes
                        log.pending = []
                        log.pendingBatches = []
                        log.pendingBytes = 0
                    }
                    s.dirty.removeAll(keepingCapacity: true)
                    cycle.waiters.append(contentsOf: s.produceWaiters)
                    s.produceWaiters.removeAll(keepingCapacity: true)
                }
                if fresh.isEmpty && cycle.items.isEmpty {
                    if s.closing {
                        s.flusherExited = true
                        let waiters = s.flusherExitWaiters
                        s.flusherExitWaiters = []
                        return .exit(waiters)
                    }
                    s.flusherWakeAt = 1
                    return .sleep
                }
                if !s.closing && cycle.waiters.count < s.lastCycleWaiters {
                    let now = DispatchTime.now().uptimeNanoseconds
                    // Waiting costs latency; bound it by half a cycle's I/O, what a smaller group would cost extra.
                    let deadline = cycle.deadline ?? now + min(s.cycleNanos / 2, 2_000_000)
                    cycle.deadline = deadline
                    if now < deadline {
                        s.flusherWakeAt = s.lastCycleWaiters - cycle.waiters.count
                        return fresh.isEmpty ? .waitForGroup(until: deadline) : .write(fresh, commit: false)
                    }
                }
                s.flusherWakeAt = 0
                s.lastCycleWaiters = cycle.waiters.count
                return .write(fresh, commit: true)
            }
            switch step {
            case .sleep:
                flusherWake.wait()
            case .waitForGroup(let deadline):
                _ = flusherWake.wait(timeout: DispatchTime(uptimeNanoseconds: deadline))
            case .exit(let waiters):
                for w in waiters { w.resume() }
                return
            case .write(let fresh, let commit):
                let start = DispatchTime.now().uptimeNanoseconds
                for item in fresh {
                    let id = ObjectIdentifier(item.log)
                    if let earlier = cycle.failed[id] {
                        item.error = earlier
                    } else {
                        write(item)
                        if let error = item.error { cycle.failed[id] = error }
                        if item.noSpace { cycle.noSpace.insert(id) }
                    }
                    cycle.segments[id] = item.segment
                    cycle.items.append(item)
                }
                cycle.ioNanos += DispatchTime.now().uptimeNanoseconds - start
                if commit {
                    self.commit(cycle)
                    cycle = Cycle()
                }
            }
        }
    }

    /// Makes what the cycle wrote durable (see `makeDurable`), publishes it and resumes the producers.
    private func commit(_ cycle: Cycle) {
        var failed = cycle.failed
        var noSpace = cycle.noSpace
        let start = DispatchTime.now().uptimeNanoseconds
        let fsyncs = makeDurable(cycle.items.filter { failed[ObjectIdentifier($0.log)] == nil }, &failed, &noSpace)
        // Out of space, a partition stays open, so what this cycle wrote for it before the
        // failed write (acknowledged to no one, its offsets about to be handed out again)
        // must go: the file is cut back to its durable end, and a segment the cycle started
        // is removed.
        var cut: Set<ObjectIdentifier> = []
        for item in cycle.items where noSpace.contains(ObjectIdentifier(item.log)) {
            if let fresh = item.newSegment {
                FileIO.closeFile(fresh.fd)
                unlink(fresh.path)
                item.newSegment = nil
            }
            guard cut.insert(ObjectIdentifier(item.log)).inserted else { continue }
            let active = state.withLock { _ in item.log.active }
            if active.writtenSize != active.durableSize {
                _ = ftruncate(active.fd, off_t(active.durableSize))
                active.writtenSize = active.durableSize
            }
        }
        let ioNanos = cycle.ioNanos + DispatchTime.now().uptimeNanoseconds - start

        var rolled = false
        var fetchWaiters: [CheckedContinuation<Void, Never>] = []
        var failedWaiters: [(ProduceWaiter, BusError)] = []
        state.withLock { s in
            s.inflightBytes -= cycle.inflight
            s.cycleNanos = s.cycleNanos == 0 ? ioNanos : (s.cycleNanos * 7 + ioNanos) / 8
            s.statistics.cycles += 1
            s.statistics.fsyncs += fsyncs
            s.statistics.produceCalls += cycle.waiters.count
            s.statistics.bytes += Int64(cycle.inflight)
            for item in cycle.items {
                let log = item.log
                if let error = failed[ObjectIdentifier(log)] {
                    if log.failure != nil { continue }
                    // Out of space, the write left the file at its last durable batch: this
                    // cycle's and the pending appends fail, later ones are tried again.
                    let refusal: BusError = noSpace.contains(ObjectIdentifier(log))
                        ? .noSpace("\(log.tp): \(error)") : .io("\(log.tp) takes no more appends after an I/O error: \(error)")
                    if case .io(let message) = refusal { log.failure = message }
                    // Offsets handed out after the durable end are void, whatever is still pending.
                    s.inflightBytes -= log.pendingBytes
                    log.pending = []
                    log.pendingBatches = []
                    log.pendingBytes = 0
                    log.nextOffset = log.highWatermark
                    s.dirty.removeAll { $0 === log }
                    s.produceWaiters.removeAll { w in
                        guard w.partitions.contains(where: { $0 === log }) else { return false }
                        failedWaiters.append((w, refusal))
                        return true
                    }
                    continue
                }
                if let fresh = item.newSegment {
                    log.segments.append(fresh)
                    rolled = true
                }
                let segment = item.segment
                segment.durableSize = segment.writtenSize
                segment.index.append(contentsOf: item.newIndexEntries)
                if segment.firstTimestamp == nil { segment.firstTimestamp = item.batches.first?.timestamp }
                var records = 0
                for b in item.batches {
                    segment.maxTimestamp = max(segment.maxTimestamp, b.timestamp)
                    records += b.count
                }
                segment.nextOffset = item.batches.last!.baseOffset + Int64(item.batches.last!.count)
                log.highWatermark = segment.nextOffset
                publishDurable(log)
                fetchWaiters.append(contentsOf: log.fetchWaiters.values)
                log.fetchWaiters.removeAll()
                log.metrics.bytesAppended.increment(by: Int64(item.batches.reduce(0) { $0 + $1.length }))
                log.metrics.recordsAppended.increment(by: Int64(records))
                log.updateGauges()
            }
        }
        for w in cycle.waiters {
            if let bad = w.partitions.first(where: { failed[ObjectIdentifier($0)] != nil }) {
                let id = ObjectIdentifier(bad)
                w.continuation.resume(throwing: noSpace.contains(id)
                    ? BusError.noSpace("\(bad.tp): \(failed[id] ?? "no space")")
                    : BusError.io(bad.failure ?? "\(bad.tp) write failed"))
            } else {
                w.continuation.resume()
            }
        }
        for (w, error) in failedWaiters { w.continuation.resume(throwing: error) }
        for w in fetchWaiters { w.resume() }
        if rolled {
            adminQueue.async { [self] in _ = retainSegments(nowMillis: Self.nowMillis()) }
        }
    }

    /// Makes `items` durable: one journal entry each and one fdatasync of the journal, or,
    /// when they do not fit even in an empty journal, an fsync of every segment they wrote,
    /// in parallel. Failures land in `failed` by partition (a failed fsync is never
    /// retried as if the data were safe, so it is never `noSpace`). Returns the fsyncs made.
    private func makeDurable(_ items: [FlushItem], _ failed: inout [ObjectIdentifier: String],
                             _ noSpace: inout Set<ObjectIdentifier>) -> Int {
        guard !items.isEmpty else { return 0 }
        guard let journal else { preconditionFailure("only a writer, which has a journal, flushes") }
        let entries = items.map { item in
            Journal.Entry(topic: item.log.tp.topic, partition: item.log.tp.partition, segmentBase: item.segment.baseOffset,
                          position: item.position, chunks: item.chunks, length: item.byteCount, payloadCRC: item.payloadCRC)
        }
        var segments: [ObjectIdentifier: Segment] = [:]
        for item in items { segments[ObjectIdentifier(item.segment)] = item.segment }
        do {
            if let placed = try journal.reserve(entries, segments: Array(segments.values)) {
                let start = DispatchTime.now().uptimeNanoseconds
                do {
                    try journal.write(entries, at: placed.positions, firstSequence: placed.firstSequence)
                    try journal.sync()
                } catch {
                    journal.fail("\(error)")
                    throw error
                }
                let nanos = Int64(DispatchTime.now().uptimeNanoseconds - start)
                var timed: Set<ObjectIdentifier> = []
                for item in items where timed.insert(ObjectIdentifier(item.log)).inserted {
                    item.log.metrics.fsync.recordNanoseconds(nanos)
                }
                return 1
            }
        } catch {
            for item in items { failed[ObjectIdentifier(item.log)] = "\(error)" }
            return 0
        }
        var jobs: [FsyncPool.Job] = []
        var synced: Set<ObjectIdentifier> = []
        for item in items where synced.insert(ObjectIdentifier(item.segment)).inserted {
            jobs.append(FsyncPool.Job(segment: item.segment, log: item.log))
        }
        fsyncPool.runAll(jobs)
        for job in jobs {
            if let error = job.error, let log = job.log {
                failed[ObjectIdentifier(log)] = "\(error)"
                // A failed fsync may have lost written pages the file still seems to hold:
                // never retried as if the data were safe, whatever errno said.
                noSpace.remove(ObjectIdentifier(log))
                logger.critical("fsync failed", metadata: ["partition": "\(log.tp)", "error": "\(error)"])
            }
        }
        return jobs.count
    }

    /// Writes one partition's pending bytes, first starting a new segment if the active one is full or old.
    private func write(_ item: FlushItem) {
        do {
            if item.roll {
                let old = item.segment
                let fresh = try createSegment(item.log, base: item.batches[0].baseOffset)
                // The old segment is complete and durable: cache its index for the next open.
                do {
                    let snapshot = state.withLock { _ in
                        (old.index, old.nextOffset, old.firstTimestamp, old.maxTimestamp)
                    }
                    var scan = Segment.Scan(baseOffset: old.baseOffset)
                    scan.validSize = old.writtenSize
                    scan.index = snapshot.0
                    scan.nextOffset = snapshot.1
                    scan.firstTimestamp = snapshot.2
                    scan.maxTimestamp = snapshot.3
                    scan.bytesSinceIndexEntry = old.bytesSinceIndexEntry
                    try Segment.writeIndexFile(path: old.indexPath, logSize: old.writtenSize, scan: scan)
                } catch {
                    logger.warning("could not write segment index; it will be rebuilt on open", metadata: ["segment": "\(old.path)", "error": "\(error)"])
                }
                // Give back the blocks reserved past its end.
                _ = ftruncate(old.fd, off_t(old.writtenSize))
                item.segment = fresh
                item.newSegment = fresh
            }
            let segment = item.segment
            let start = segment.writtenSize
            if start + Int64(item.byteCount) > segment.preallocatedSize {
                let step = max(Int64(item.byteCount), min(options.segmentBytes, 8 << 20))
                FileIO.preallocate(segment.fd, offset: segment.preallocatedSize, length: start + step - segment.preallocatedSize)
                segment.preallocatedSize = start + step
            }
            do {
                try FileIO.writeAll(segment.fd, item.chunks, at: start, segment.path)
            } catch {
                // Cut what part of the write landed so the file ends at the last durable batch.
                _ = ftruncate(segment.fd, off_t(start))
                throw error
            }
            for b in item.batches {
                let position = start + Int64(b.position)
                if position == 0 || segment.bytesSinceIndexEntry >= options.indexIntervalBytes {
                    item.newIndexEntries.append(IndexEntry(offset: b.baseOffset, position: position))
                    segment.bytesSinceIndexEntry = 0
                }
                segment.bytesSinceIndexEntry += Int64(b.length)
            }
            segment.writtenSize = start + Int64(item.byteCount)
            item.position = start
            // Computed here, while producers prepare the next group, not in the commit.
            var crc: UInt32 = 0
            for chunk in item.chunks { crc = chunk.withUnsafeBytes { CRC32C.update(crc, $0) } }
            item.payloadCRC = crc
        } catch {
            item.error = "\(error)"
            if case BusError.noSpace(let message) = error {
                item.error = message
                item.noSpace = true
            }
            // A segment started for this write is not published: remove it, so the next
            // append can start it again.
            if let fresh = item.newSegment {
                FileIO.closeFile(fresh.fd)
                unlink(fresh.path)
                item.newSegment = nil
            }
            logger.error("append failed", metadata: ["partition": "\(item.log.tp)", "error": "\(error)"])
        }
    }

    /// Creates an empty segment file starting at `base` and makes its directory entry durable.
    func createSegment(_ log: PartitionLog, base: Int64) throws -> Segment {
        let path = log.directory + "/" + Segment.fileName(base: base)
        let fd = try FileIO.openReadWrite(path, create: true, exclusive: true)
        do {
            try FileIO.syncDirectory(log.directory)
        } catch {
            FileIO.closeFile(fd)
            unlink(path)
            throw error
        }
        return Segment(baseOffset: base, path: path, indexPath: Self.indexPath(forLog: path), fd: fd, scan: Segment.Scan(baseOffset: base))
    }

    static func indexPath(forLog path: String) -> String {
        String(path.dropLast(4)) + ".index"
    }
}
