#if Kafka
import CRdKafka
import Foundation
import LogpipeBus
import Synchronization

/// Where one record's delivery report lands: `rd_kafka_message_t._private`
/// points at the record's slot, and the slot points back at its tracker, so a
/// whole produce call costs one allocation for its reports, not one per record.
struct DeliverySlot {
    var tracker: UnsafeMutableRawPointer
    var partition: Int32
    var offset: Int64
    var error: rd_kafka_resp_err_t
}

/// Collects the delivery reports of one `produce` call and resumes its caller
/// when every enqueued record has one.
///
/// Reports come from the producer's poll thread while the caller may still be
/// enqueueing, so the counts sit behind a mutex; the slots are written only by
/// reports (one each) and read only after the last one.
final class DeliveryTracker: @unchecked Sendable {
    // @unchecked: `slots` is raw memory written once per slot by the poll thread
    // before `delivered()` takes the lock, and read by the caller only after the
    // lock showed every report in (the mutex orders those accesses).
    let slots: UnsafeMutablePointer<DeliverySlot>
    let capacity: Int
    private let state = Mutex(State())

    private struct State {
        var enqueued = 0
        var delivered = 0
        var sealed = false
        var continuation: CheckedContinuation<Void, Never>?
        var complete: Bool { sealed && delivered == enqueued }
    }

    init(capacity: Int) {
        self.capacity = capacity
        slots = .allocate(capacity: max(capacity, 1))
        let me = Unmanaged.passUnretained(self).toOpaque()
        for i in 0..<capacity {
            (slots + i).initialize(to: DeliverySlot(tracker: me, partition: -1, offset: -1, error: RD_KAFKA_RESP_ERR_NO_ERROR))
        }
    }

    deinit { slots.deallocate() }

    /// Counts records librdkafka accepted.
    func enqueued(_ n: Int) {
        state.withLock { $0.enqueued += n }
    }

    /// Called by the delivery report callback, once per record.
    func delivered() {
        let continuation = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.delivered += 1
            guard s.complete else { return nil }
            defer { s.continuation = nil }
            return s.continuation
        }
        continuation?.resume()
    }

    /// No more records will be enqueued; waits for the reports of those that were.
    func sealAndWait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                s.sealed = true
                if s.complete { return true }
                s.continuation = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}

/// The delivery report callback: fills the record's slot and counts it.
let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, _ in
    guard let message, let raw = message.pointee._private else { return }
    let slot = raw.assumingMemoryBound(to: DeliverySlot.self)
    slot.pointee.partition = message.pointee.partition
    slot.pointee.offset = message.pointee.offset
    slot.pointee.error = message.pointee.err
    Unmanaged<DeliveryTracker>.fromOpaque(slot.pointee.tracker).takeUnretainedValue().delivered()
}

/// A non-null address for empty keys and values: librdkafka writes a null
/// pointer as a null key (or a tombstone value), which is not what an empty
/// byte string means.
nonisolated(unsafe) let emptyBytes: UnsafeMutableRawPointer = {
    let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    p.storeBytes(of: 0, as: UInt8.self)
    return p
}()

/// Enqueues records of a batch from `start` on until librdkafka refuses one;
/// returns how many it took and the refusal, if any.
func enqueue(
    _ batch: ProduceBatch, from start: Int, topic rkt: OpaquePointer, tracker: DeliveryTracker
) -> (count: Int, error: rd_kafka_resp_err_t?) {
    batch.buffer.withUnsafeBytes { buffer -> (Int, rd_kafka_resp_err_t?) in
        let base = buffer.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
        var i = start
        while i < batch.entries.count {
            let entry = batch.entries[i]
            let value = entry.value.isEmpty ? emptyBytes : base! + Int(entry.value.lowerBound)
            var key: UnsafeMutableRawPointer? = nil
            var keyLength = 0
            if let k = entry.key {
                key = k.isEmpty ? emptyBytes : base! + Int(k.lowerBound)
                keyLength = k.count
            }
            let rc = rd_kafka_produce(
                rkt, entry.partition ?? RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                value, entry.value.count, key, keyLength, tracker.slots + i)
            if rc != 0 { return (i - start, rd_kafka_last_error()) }
            i += 1
        }
        return (i - start, nil)
    }
}
#endif
