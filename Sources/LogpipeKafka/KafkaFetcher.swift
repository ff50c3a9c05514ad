#if Kafka
import CRdKafka
import Foundation
import LogpipeBus
import Synchronization

/// Reads partitions from explicit offsets for `Bus.fetch`, without a consumer
/// group: librdkafka's simple consumer (`rd_kafka_consume_start`) prefetches
/// each partition being read into its own bounded queue
/// (`queued.max.messages.kbytes` applies per partition), and a fetch that
/// continues where the last one ended is served from that queue.
///
/// A second client, the probe, answers "where does this partition end?" from
/// a fetch response's high watermark, because some brokers' ListOffsets is
/// not exact (tansu answers 'latest' with the last batch's first offset + 1);
/// Kafka's is, and there the probe just confirms it.
final class KafkaFetcher: Sendable {
    let client: RDKafkaClient
    let probe: RDKafkaClient
    let requestTimeoutMillis: Int32
    let dataTimeoutMillis: Int32
    private let readers = Mutex<[TopicPartition: PartitionReader]>([:])
    private let fetchTopics: TopicHandles
    private let probeTopics: TopicHandles
    /// Serializes probes: one `consume_start` per partition at a time on the probe client.
    private let probeLock = Mutex(())

    init(client: RDKafkaClient, probe: RDKafkaClient, requestTimeoutMillis: Int32, dataTimeoutMillis: Int32) {
        self.client = client
        self.probe = probe
        self.requestTimeoutMillis = requestTimeoutMillis
        self.dataTimeoutMillis = dataTimeoutMillis
        fetchTopics = TopicHandles(client: client)
        probeTopics = TopicHandles(client: probe)
    }

    /// The reader of `tp`, created on first use.
    func reader(for tp: TopicPartition) -> PartitionReader {
        readers.withLock { readers in
            if let reader = readers[tp] { return reader }
            let reader = PartitionReader(tp: tp, topic: fetchTopics.handle(tp.topic), fetcher: self)
            readers[tp] = reader
            return reader
        }
    }

    /// The first kept offset and the exact end of a partition. Blocks.
    func watermarks(_ tp: TopicPartition) throws -> (low: Int64, high: Int64) {
        let (low, listed) = try client.listOffsets(tp, timeoutMillis: requestTimeoutMillis)
        guard listed > low else { return (low, listed) }
        // Read the record before the listed end: the response carrying it
        // also carries the partition's high watermark.
        let fetched: Int64? = try probeLock.withLock { _ in
            let rkt = probeTopics.handle(tp.topic)
            guard rd_kafka_consume_start(rkt, tp.partition, listed - 1) == 0 else {
                throw kafkaError(rd_kafka_last_error(), "probe of \(tp)")
            }
            defer { rd_kafka_consume_stop(rkt, tp.partition) }
            let deadline = ContinuousClock.now + .milliseconds(Int(requestTimeoutMillis))
            while ContinuousClock.now < deadline {
                guard let message = rd_kafka_consume(rkt, tp.partition, millisUntil(deadline)) else { continue }
                defer { rd_kafka_message_destroy(message) }
                switch message.pointee.err {
                case RD_KAFKA_RESP_ERR_NO_ERROR, RD_KAFKA_RESP_ERR__PARTITION_EOF:
                    return probe.fetchedHighWatermark(tp)
                case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET, RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
                    // Retention removed the record meanwhile; the listed end is all there is to know.
                    return nil
                default:
                    continue
                }
            }
            throw BusError.io("no fetch response for \(tp) within \(requestTimeoutMillis) ms")
        }
        return (low, max(listed, fetched ?? listed))
    }

    /// Stops prefetching partitions nobody fetched for `idle`, so a worker that
    /// no longer reads a partition (it moved to another worker) does not keep
    /// its queue full and its fetch requests going. A later fetch restarts it.
    func stopIdleReaders(idle: Duration) {
        let all = readers.withLock { Array($0.values) }
        let now = ContinuousClock.now
        for reader in all { reader.stopIfIdle(since: now - idle) }
    }

    /// Stops every reader and destroys topic handles and clients; call once, after every fetch returned.
    func close() {
        let all = readers.withLock { readers in
            defer { readers.removeAll() }
            return Array(readers.values)
        }
        for reader in all { reader.stop() }
        fetchTopics.destroyAll()
        probeTopics.destroyAll()
        client.destroy()
        probe.destroy()
    }
}

/// One partition's read position, prefetch state and the records taken from
/// librdkafka's queue that did not fit the last fetch's `maxBytes`.
final class PartitionReader: @unchecked Sendable {
    // @unchecked: every mutable property is accessed only while `lock` is held;
    // a fetch holds it for its whole (blocking) duration, on a blocking-call
    // thread, so two fetches of one partition take turns.
    let tp: TopicPartition
    private let rkt: OpaquePointer
    private unowned let fetcher: KafkaFetcher
    private let lock = NSLock()
    private var started = false
    private var position: Int64 = 0
    private var knownHigh: Int64 = 0
    private var leftovers: [UnsafeMutablePointer<rd_kafka_message_t>] = []
    private var lastFetch = ContinuousClock.now

    init(tp: TopicPartition, topic: OpaquePointer, fetcher: KafkaFetcher) {
        self.tp = tp
        self.rkt = topic
        self.fetcher = fetcher
    }

    /// `Bus.fetch` for this partition. Blocks up to `maxWaitMillis` when the
    /// partition ends at `offset`, and up to the data timeout when the broker
    /// has records there that have not reached the prefetch queue yet.
    func fetch(from offset: Int64, maxBytes: Int, maxWaitMillis: Int) throws -> FetchedBatch {
        lock.lock()
        defer {
            lastFetch = ContinuousClock.now
            lock.unlock()
        }
        if !started || offset != position { try restart(at: offset) }

        var messages: [UnsafeMutablePointer<rd_kafka_message_t>] = []
        defer { for m in messages { rd_kafka_message_destroy(m) } }
        var bytes = 0
        var full = false
        /// Adds a record if it fits (the first always does); false once full.
        func take(_ m: UnsafeMutablePointer<rd_kafka_message_t>) -> Bool {
            let size = m.pointee.len + m.pointee.key_len
            if !messages.isEmpty && bytes + size > maxBytes {
                full = true
                return false
            }
            messages.append(m)
            bytes += size
            position = m.pointee.offset + 1
            return true
        }

        var kept = 0
        while kept < leftovers.count && take(leftovers[kept]) { kept += 1 }
        leftovers.removeFirst(kept)

        if messages.isEmpty {
            let high = max(knownHigh, fetcher.client.fetchedHighWatermark(tp) ?? 0)
            let behind = position < high
            let waitMillis = behind ? max(maxWaitMillis, Int(fetcher.dataTimeoutMillis)) : maxWaitMillis
            let deadline = ContinuousClock.now + .milliseconds(waitMillis)
            repeat {
                guard let m = rd_kafka_consume(rkt, tp.partition, millisUntil(deadline)) else { continue }
                if try accept(m) {
                    _ = take(m)
                    break
                }
            } while ContinuousClock.now < deadline
            if messages.isEmpty && behind {
                throw BusError.io("no records from the broker for \(tp) at offset \(position) within \(waitMillis) ms, high watermark \(high)")
            }
        }

        if !messages.isEmpty && !full {
            let capacity = 256
            let batch = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: capacity)
            defer { batch.deallocate() }
            drain: while !full {
                let n = rd_kafka_consume_batch(rkt, tp.partition, 0, batch, capacity)
                if n <= 0 { break }
                for i in 0..<n {
                    guard let m = batch[i] else { continue }
                    if full {
                        leftovers.append(m)
                    } else if try accept(m), !take(m) {
                        leftovers.append(m)
                    }
                }
                if n < capacity { break drain }
            }
        }

        return makeBatch(messages)
    }

    /// Whether `m` is a record to return; destroys it otherwise. Throws for
    /// an offset out of range, ignores end-of-partition events, stale records
    /// from before a restart and transient errors (librdkafka retries those).
    private func accept(_ m: UnsafeMutablePointer<rd_kafka_message_t>) throws -> Bool {
        let err = m.pointee.err
        if err == RD_KAFKA_RESP_ERR_NO_ERROR && m.pointee.offset >= position { return true }
        rd_kafka_message_destroy(m)
        switch err {
        case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET, RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
            let requested = position
            stopLocked()
            let (low, high) = try fetcher.watermarks(tp)
            throw BusError.offsetOutOfRange(tp, requested: requested, low: low, high: high)
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
            stopLocked()
            throw BusError.unknownTopic(tp.topic)
        case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
            stopLocked()
            throw BusError.unknownPartition(tp)
        default:
            return false
        }
    }

    /// Checks `offset` against the partition's exact watermarks and starts
    /// prefetching there (librdkafka drops what was queued for the old position).
    private func restart(at offset: Int64) throws {
        let (low, high) = try fetcher.watermarks(tp)
        guard offset >= low && offset <= high else {
            throw BusError.offsetOutOfRange(tp, requested: offset, low: low, high: high)
        }
        stopLocked()
        guard rd_kafka_consume_start(rkt, tp.partition, offset) == 0 else {
            throw kafkaError(rd_kafka_last_error(), "start reading \(tp) at \(offset)")
        }
        started = true
        position = offset
        knownHigh = high
    }

    private func makeBatch(_ messages: [UnsafeMutablePointer<rd_kafka_message_t>]) -> FetchedBatch {
        var size = 0
        for m in messages { size += m.pointee.len + m.pointee.key_len }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(size)
        var records: [FetchedBatch.Record] = []
        records.reserveCapacity(messages.count)
        for m in messages {
            var key: Range<Int32>? = nil
            if let k = m.pointee.key {
                let start = Int32(buffer.count)
                buffer.append(contentsOf: UnsafeRawBufferPointer(start: k, count: m.pointee.key_len))
                key = start..<Int32(buffer.count)
            }
            let start = Int32(buffer.count)
            if let v = m.pointee.payload {
                buffer.append(contentsOf: UnsafeRawBufferPointer(start: v, count: m.pointee.len))
            }
            var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let timestamp = rd_kafka_message_timestamp(m, &timestampType)
            records.append(FetchedBatch.Record(
                offset: m.pointee.offset, timestampMillis: max(timestamp, 0), key: key, value: start..<Int32(buffer.count)))
        }
        knownHigh = max(knownHigh, fetcher.client.fetchedHighWatermark(tp) ?? 0, position)
        return FetchedBatch(buffer: buffer, records: records, highWatermark: knownHigh)
    }

    /// Stops prefetching if no fetch ran since `cutoff`; skips a reader a fetch is using.
    func stopIfIdle(since cutoff: ContinuousClock.Instant) {
        guard lock.try() else { return }
        defer { lock.unlock() }
        if started && lastFetch < cutoff { stopLocked() }
    }

    /// Stops prefetching and drops queued records; used when the bus closes.
    func stop() {
        lock.lock()
        defer { lock.unlock() }
        stopLocked()
    }

    private func stopLocked() {
        for m in leftovers { rd_kafka_message_destroy(m) }
        leftovers.removeAll()
        if started {
            rd_kafka_consume_stop(rkt, tp.partition)
            started = false
        }
    }
}

/// Topic handles of one client, created on first use and kept until the client closes.
final class TopicHandles: Sendable {
    private let client: RDKafkaClient
    /// Handles are librdkafka's thread-safe `rd_kafka_topic_t`; the dictionary is guarded here.
    private let handles = Mutex<[String: SendableHandle]>([:])

    init(client: RDKafkaClient) {
        self.client = client
    }

    /// The handle of `topic`.
    func handle(_ topic: String) -> OpaquePointer {
        handles.withLock { handles in
            if let h = handles[topic] { return h.pointer }
            let h = rd_kafka_topic_new(client.handle, topic, nil)!
            handles[topic] = SendableHandle(pointer: h)
            return h
        }
    }

    /// Destroys every handle.
    func destroyAll() {
        handles.withLock { handles in
            for h in handles.values { rd_kafka_topic_destroy(h.pointer) }
            handles.removeAll()
        }
    }
}

/// A librdkafka object pointer that librdkafka documents as thread-safe.
struct SendableHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Milliseconds from now to `deadline`, at least 0, as librdkafka's `int timeout_ms`.
func millisUntil(_ deadline: ContinuousClock.Instant) -> Int32 {
    let left = ContinuousClock.now.duration(to: deadline)
    if left <= .zero { return 0 }
    let (seconds, attoseconds) = left.components
    return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
}
#endif
