import Dispatch
import Logging

/// Reading: offset lookup, long-poll waits and batch decoding.
extension LocalBus {
    /// What a fetch reads, captured under the lock and read after it.
    private struct SegmentView {
        let segment: Segment
        let durableSize: Int64
        let nextOffset: Int64
        let corruption: String?
        /// The next segment's base offset: records at or past it do not belong here.
        let limit: Int64
    }

    private enum Plan {
        case empty(highWatermark: Int64)
        case read([SegmentView], start: IndexEntry, highWatermark: Int64)
    }

    public func fetch(_ tp: TopicPartition, from offset: Int64, maxBytes: Int, maxWaitMillis: Int) async throws -> FetchedBatch {
        let log = try partitionLog(tp)
        var waited = false
        while true {
            let plan: Plan = try state.withLock { s in
                if s.closed { throw BusError.closed }
                let low = log.lowWatermark
                let high = log.highWatermark
                if offset < low || offset > high {
                    throw BusError.offsetOutOfRange(tp, requested: offset, low: low, high: high)
                }
                if offset == high { return .empty(highWatermark: high) }
                let first = log.segmentIndex(for: offset)
                var views: [SegmentView] = []
                views.reserveCapacity(min(4, log.segments.count - first))
                for i in first..<log.segments.count {
                    let seg = log.segments[i]
                    let limit = i + 1 < log.segments.count ? log.segments[i + 1].baseOffset : Int64.max
                    views.append(SegmentView(segment: seg, durableSize: seg.durableSize, nextOffset: seg.nextOffset,
                                             corruption: seg.corruption, limit: limit))
                }
                return .read(views, start: log.segments[first].indexEntry(atOrBefore: offset), highWatermark: high)
            }
            switch plan {
            case .empty(let high):
                if waited || maxWaitMillis <= 0 || Task.isCancelled {
                    return FetchedBatch(buffer: [], records: [], highWatermark: high)
                }
                await waitForData(log, beyond: offset, maxWaitMillis: maxWaitMillis)
                waited = true
            case .read(let views, let start, let high):
                return try read(tp, views, start: start, from: offset, maxBytes: max(maxBytes, 1), highWatermark: high)
            }
        }
    }

    /// Suspends until the partition's high watermark passes `offset`, the wait
    /// times out, the task is cancelled or the bus closes.
    private func waitForData(_ log: PartitionLog, beyond offset: Int64, maxWaitMillis: Int) async {
        let id = nextWaiterID.wrappingAdd(1, ordering: .relaxed).oldValue
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let registered = state.withLock { s in
                    if s.closing || log.highWatermark > offset || Task.isCancelled { return false }
                    log.fetchWaiters[id] = c
                    return true
                }
                if !registered {
                    c.resume()
                    return
                }
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(maxWaitMillis)) { [self] in
                    wakeFetchWaiter(log, id)
                }
            }
        } onCancel: {
            wakeFetchWaiter(log, id)
        }
    }

    private func wakeFetchWaiter(_ log: PartitionLog, _ id: UInt64) {
        state.withLock { _ in log.fetchWaiters.removeValue(forKey: id) }?.resume()
    }

    /// Reads batches from durable bytes, verifying each one's framing, offsets and CRC.
    private func read(
        _ tp: TopicPartition, _ views: [SegmentView], start: IndexEntry, from offset: Int64, maxBytes: Int, highWatermark: Int64
    ) throws -> FetchedBatch {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(min(maxBytes, 1 << 20) + 256)
        var records: [FetchedBatch.Record] = []
        var taken = 0
        // Enough on-disk bytes for maxBytes of keys and values plus framing, within sane bounds.
        let wanted = min(maxBytes, 16 << 20)
        let chunk = min(max(wanted + wanted / 8 + 4096, 64 << 10), 16 << 20)

        func corrupt(_ view: SegmentView, _ position: Int64, _ what: String) throws -> FetchedBatch {
            if !records.isEmpty { return FetchedBatch(buffer: buffer, records: records, highWatermark: highWatermark) }
            let message = "\(tp) \(view.segment.path) at byte \(position): \(what)"
            logger.error("refusing to serve a corrupt batch", metadata: ["problem": "\(message)"])
            throw BusError.corrupt(message)
        }

        for (k, view) in views.enumerated() {
            var position = k == 0 ? start.position : 0
            var expected = k == 0 ? start.offset : view.segment.baseOffset
            var window: [UInt8] = []
            var windowStart: Int64 = 0
            while position < view.durableSize {
                // Load a window starting at `position`, large enough for the batch there.
                let available = view.durableSize - position
                if available < Int64(RecordBatch.headerSize) { return try corrupt(view, position, "durable bytes end inside a batch header") }
                if position < windowStart || position + Int64(RecordBatch.headerSize) > windowStart + Int64(window.count) {
                    window = try readWindow(view.segment, at: position, count: Int(min(available, Int64(chunk))))
                    windowStart = position
                }
                var rel = Int(position - windowStart)
                let parsed = window.withUnsafeBytes {
                    RecordBatch.parseHeader(UnsafeRawBufferPointer(rebasing: $0[rel..<rel + RecordBatch.headerSize]),
                                            expectedBase: expected, maxLength: options.maxBatchBytes)
                }
                let header: RecordBatch.Header
                switch parsed {
                case .success(let h): header = h
                case .failure(let problem): return try corrupt(view, position, "\(problem)")
                }
                if Int64(header.length) > available { return try corrupt(view, position, "batch runs past the durable end") }
                if header.nextOffset > view.limit { return try corrupt(view, position, "batch runs into the next segment's offsets") }
                if rel + header.length > window.count {
                    window = try readWindow(view.segment, at: position, count: Int(min(available, Int64(max(chunk, header.length)))))
                    windowStart = position
                    rel = 0
                }
                let batchStart = rel
                let outcome: Result<Bool, RecordBatch.HeaderProblem> = window.withUnsafeBytes { raw in
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[batchStart..<batchStart + header.length])
                    if let bad = RecordBatch.verifyCRC(bytes, header) { return .failure(bad) }
                    if header.nextOffset <= offset { return .success(true) }
                    do throws(RecordBatch.HeaderProblem) {
                        return .success(try RecordBatch.decode(bytes, header, from: offset, maxBytes: maxBytes,
                                                               buffer: &buffer, records: &records, bytesTaken: &taken))
                    } catch {
                        return .failure(error)
                    }
                }
                switch outcome {
                case .failure(let problem): return try corrupt(view, position, "\(problem)")
                case .success(let more):
                    if !more || taken >= maxBytes {
                        return FetchedBatch(buffer: buffer, records: records, highWatermark: highWatermark)
                    }
                }
                position += Int64(header.length)
                expected = header.nextOffset
            }
            if let problem = view.corruption, max(expected, offset) < view.limit {
                return try corrupt(view, position, problem)
            }
        }
        return FetchedBatch(buffer: buffer, records: records, highWatermark: highWatermark)
    }

    private func readWindow(_ segment: Segment, at position: Int64, count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            try FileIO.readAll(segment.fd, into: UnsafeMutableRawBufferPointer(out), at: position, segment.path)
            initialized = count
        }
    }
}
