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
extension LocalBus {
    /// One partition's share of a flush cycle.
    ///
    /// `@unchecked Sendable`: an item is used by one thread at a time, the flusher
    /// or the one `concurrentPerform` iteration that fsyncs it.
    private final class FlushItem: @unchecked Sendable {
        let log: PartitionLog
        var bytes: [UInt8]
        let batches: [PendingBatch]
        /// The active segment when the work was taken.
        var segment: Segment
        let roll: Bool
        /// A segment this cycle started (after `roll`), published with the data.
        var newSegment: Segment?
        var newIndexEntries: [IndexEntry] = []
        var error: String?

        init(log: PartitionLog, bytes: [UInt8], batches: [PendingBatch], segment: Segment, roll: Bool) {
            self.log = log
            self.bytes = bytes
            self.batches = batches
            self.segment = segment
            self.roll = roll
        }
    }

    private enum Take {
        case work([FlushItem], [ProduceWaiter], Int)
        case sleep
        case waitForGroup(until: UInt64)
        case exit([CheckedContinuation<Void, Never>])
    }

    func flushLoop() {
        // While set, the flusher is giving the producers it just resumed until
        // then to come back, so they share the next fsync.
        var groupDeadline: UInt64? = nil
        while true {
            let take: Take = state.withLock { s in
                if s.dirty.isEmpty {
                    if s.closing {
                        s.flusherExited = true
                        let waiters = s.flusherExitWaiters
                        s.flusherExitWaiters = []
                        return .exit(waiters)
                    }
                    s.flusherWakeAt = 1
                    return .sleep
                }
                if !s.closing && s.produceWaiters.count < s.lastCycleWaiters {
                    let now = DispatchTime.now().uptimeNanoseconds
                    // Waiting costs latency; bound it by half a cycle's I/O (what a smaller group would cost extra).
                    let deadline = groupDeadline ?? now + min(s.cycleNanos / 2, 2_000_000)
                    groupDeadline = deadline
                    if now < deadline {
                        s.flusherWakeAt = s.lastCycleWaiters
                        return .waitForGroup(until: deadline)
                    }
                }
                groupDeadline = nil
                s.flusherWakeAt = 0
                s.lastCycleWaiters = s.produceWaiters.count
                let nowMillis = Self.nowMillis()
                var items: [FlushItem] = []
                var bytes = 0
                for log in s.dirty {
                    let segment = log.active
                    var roll = segment.writtenSize >= options.segmentBytes
                    if !roll, segment.writtenSize > 0, let maxAge = options.segmentMaxAgeSeconds,
                       let first = segment.firstTimestamp, first < nowMillis - maxAge * 1000 {
                        roll = true
                    }
                    items.append(FlushItem(log: log, bytes: log.pending, batches: log.pendingBatches, segment: segment, roll: roll))
                    bytes += log.pending.count
                    log.pending = []
                    log.pendingBatches = []
                }
                s.dirty.removeAll(keepingCapacity: true)
                let waiters = s.produceWaiters
                s.produceWaiters.removeAll(keepingCapacity: true)
                return .work(items, waiters, bytes)
            }
            switch take {
            case .sleep:
                flusherWake.wait()
            case .waitForGroup(let deadline):
                _ = flusherWake.wait(timeout: DispatchTime(uptimeNanoseconds: deadline))
            case .exit(let waiters):
                for w in waiters { w.resume() }
                return
            case .work(let items, let waiters, let bytes):
                flush(items, waiters, bytes)
            }
        }
    }

    private func flush(_ items: [FlushItem], _ waiters: [ProduceWaiter], _ inflight: Int) {
        let ioStart = DispatchTime.now().uptimeNanoseconds
        for item in items {
            write(item)
            // Start every file's writeback before waiting on the first: the
            // fsyncs then overlap their data writes and share journal commits.
            if item.error == nil && items.count > 1 { FileIO.startWriteback(item.segment.fd) }
        }
        for item in items where item.error == nil { sync(item) }
        let ioNanos = DispatchTime.now().uptimeNanoseconds - ioStart

        var rolled = false
        var failed: Set<ObjectIdentifier> = []
        var fetchWaiters: [CheckedContinuation<Void, Never>] = []
        var failedWaiters: [(ProduceWaiter, String)] = []
        state.withLock { s in
            s.inflightBytes -= inflight
            s.cycleNanos = s.cycleNanos == 0 ? ioNanos : (s.cycleNanos * 7 + ioNanos) / 8
            for item in items {
                let log = item.log
                if let error = item.error {
                    failed.insert(ObjectIdentifier(log))
                    log.failure = "\(log.tp) takes no more appends after an I/O error: \(error)"
                    // Offsets handed out after the durable end are void, whatever is still pending.
                    s.inflightBytes -= log.pending.count
                    log.pending = []
                    log.pendingBatches = []
                    log.nextOffset = log.highWatermark
                    s.dirty.removeAll { $0 === log }
                    s.produceWaiters.removeAll { w in
                        guard w.partitions.contains(where: { $0 === log }) else { return false }
                        failedWaiters.append((w, log.failure!))
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
                fetchWaiters.append(contentsOf: log.fetchWaiters.values)
                log.fetchWaiters.removeAll()
                // Hand the buffer back for reuse.
                item.bytes.removeAll(keepingCapacity: true)
                if log.spare.capacity < item.bytes.capacity { swap(&log.spare, &item.bytes) }
                log.metrics.bytesAppended.increment(by: Int64(item.batches.reduce(0) { $0 + $1.length }))
                log.metrics.recordsAppended.increment(by: Int64(records))
                log.updateGauges()
            }
        }
        for w in waiters {
            if let bad = w.partitions.first(where: { failed.contains(ObjectIdentifier($0)) }) {
                w.continuation.resume(throwing: BusError.io(bad.failure ?? "\(bad.tp) write failed"))
            } else {
                w.continuation.resume()
            }
        }
        for (w, message) in failedWaiters { w.continuation.resume(throwing: BusError.io(message)) }
        for w in fetchWaiters { w.resume() }
        if rolled {
            adminQueue.async { [self] in _ = retainSegments(nowMillis: Self.nowMillis()) }
        }
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
                item.segment = fresh
                item.newSegment = fresh
            }
            let segment = item.segment
            let start = segment.writtenSize
            do {
                try item.bytes.withUnsafeBytes { try FileIO.writeAll(segment.fd, $0, at: start, segment.path) }
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
            segment.writtenSize = start + Int64(item.bytes.count)
        } catch {
            item.error = "\(error)"
            logger.error("append failed", metadata: ["partition": "\(item.log.tp)", "error": "\(error)"])
        }
    }

    private func sync(_ item: FlushItem) {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            try FileIO.syncData(item.segment.fd, item.segment.path)
            item.log.metrics.fsync.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
        } catch {
            item.error = "\(error)"
            logger.critical("fsync failed", metadata: ["partition": "\(item.log.tp)", "error": "\(error)"])
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
