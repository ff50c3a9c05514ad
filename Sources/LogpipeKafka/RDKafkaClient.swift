#if Kafka
import CRdKafka
import Foundation
import Logging
import LogpipeBus

/// The oldest librdkafka the bus runs with: 2.2.0 fixed the ApiVersions
/// handshake with brokers that answer it in an older version (librdkafka
/// issue #4253; Debian 12's 2.0.2 fails against tansu with "Read underflow").
let minimumLibrdkafkaVersion: Int32 = 0x0202_0000

/// What librdkafka's C callbacks reach through `rd_kafka_opaque`: the logger,
/// and for group consumers the rebalance handler. Retained by the client for
/// the handle's whole life.
final class ClientContext: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; the rebalance
    // handler is only ever called by librdkafka on the thread polling the handle.
    let logger: Logger
    let name: String
    let rebalance: ((OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?

    init(
        logger: Logger, name: String,
        rebalance: ((OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)? = nil
    ) {
        self.logger = logger
        self.name = name
        self.rebalance = rebalance
    }

    static func of(_ rk: OpaquePointer?) -> ClientContext? {
        guard let rk, let opaque = rd_kafka_opaque(rk) else { return nil }
        return Unmanaged<ClientContext>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// One librdkafka client handle (`rd_kafka_t`) and the calls Logpipe makes on it.
///
/// librdkafka handles are thread-safe, so this is `Sendable`; calls that block
/// on the network are synchronous here and callers run them on
/// `BlockingExecutor`, never on the cooperative pool.
final class RDKafkaClient: @unchecked Sendable {
    // @unchecked: `handle` is a thread-safe librdkafka handle, immutable until `destroy()`,
    // which its owner calls once after every user has stopped.
    let handle: OpaquePointer
    let context: ClientContext
    private let contextRetain: Unmanaged<ClientContext>

    /// Creates a producer or consumer from `properties` (applied in order:
    /// later dictionaries win), installing log and error callbacks; `configure`
    /// may install more callbacks on the raw configuration.
    init(
        type: rd_kafka_type_t,
        properties: [[String: String]],
        context: ClientContext,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws {
        let version = rd_kafka_version()
        guard version >= minimumLibrdkafkaVersion else {
            throw BusError.io(
                "librdkafka \(String(cString: rd_kafka_version_str())) is loaded; Logpipe's Kafka bus needs 2.2 or newer (see docs/kafka.md)")
        }
        guard let conf = rd_kafka_conf_new() else { throw BusError.io("rd_kafka_conf_new failed") }
        do {
            for dictionary in properties {
                for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) {
                    try Self.set(conf, key, value)
                }
            }
        } catch {
            rd_kafka_conf_destroy(conf)
            throw error
        }
        contextRetain = Unmanaged.passRetained(context)
        rd_kafka_conf_set_opaque(conf, contextRetain.toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
            guard let context = ClientContext.of(rk) else { return }
            let body = message.map { String(cString: $0) } ?? ""
            let text = "\(facility.map { String(cString: $0) } ?? ""): \(body)"
            // syslog levels: 0-3 errors, 4 warning, 5-6 notice/info, 7 debug.
            var swiftLevel: Logger.Level = level <= 3 ? .error : level == 4 ? .warning : level <= 6 ? .info : .debug
            // `kafka.*` settings go to producer and consumers alike; each ignoring the other's is expected.
            if body.contains("property and will be ignored by this") { swiftLevel = .debug }
            context.logger.log(level: swiftLevel, "\(text)", metadata: ["kafka.client": "\(context.name)"])
        }
        rd_kafka_conf_set_error_cb(conf) { rk, err, reason, _ in
            guard let context = ClientContext.of(rk) else { return }
            let text = reason.map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(err)))
            // librdkafka retries transient errors (a broker going away) on its own; only fatal ones end the client.
            let level: Logger.Level = rd_kafka_resp_err_t(err) == RD_KAFKA_RESP_ERR__FATAL ? .critical : .warning
            context.logger.log(level: level, "kafka: \(text)", metadata: ["kafka.client": "\(context.name)"])
        }
        configure(conf)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            contextRetain.release()
            throw BusError.io("cannot create Kafka client: \(cString(errstr))")
        }
        handle = rk
        self.context = context
    }

    /// Destroys the handle; call once, after every user has stopped.
    func destroy() {
        rd_kafka_destroy(handle)
        contextRetain.release()
    }

    private static func set(_ conf: OpaquePointer, _ key: String, _ value: String) throws {
        var errstr = [CChar](repeating: 0, count: 512)
        let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
        guard result == RD_KAFKA_CONF_OK else {
            throw KafkaConfigurationError.rejectedProperty(key: key, reason: cString(errstr))
        }
    }

    /// Every topic's partition count, from a metadata request for all topics
    /// (a request naming one topic could create it on brokers that auto-create).
    /// Blocks up to `timeoutMillis`.
    func partitionCounts(timeoutMillis: Int32) throws -> [String: Int32] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 1, nil, &metadata, timeoutMillis)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw kafkaError(err, "metadata request") }
        defer { rd_kafka_metadata_destroy(metadata) }
        var counts: [String: Int32] = [:]
        for i in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[i]
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR, let name = topic.topic else { continue }
            counts[String(cString: name)] = topic.partition_cnt
        }
        return counts
    }

    /// The log start and end offsets the broker reports through ListOffsets.
    /// Blocks up to `timeoutMillis`.
    func listOffsets(_ tp: TopicPartition, timeoutMillis: Int32) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, tp.topic, tp.partition, &low, &high, timeoutMillis)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw kafkaError(err, "watermarks of \(tp)") }
        return (low, high)
    }

    /// The high watermark of the last fetch response this consumer received
    /// for `tp`, or nil before the first one.
    func fetchedHighWatermark(_ tp: TopicPartition) -> Int64? {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_get_watermark_offsets(handle, tp.topic, tp.partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return high
    }

    /// Serves queued callbacks (delivery reports, errors), waiting up to `timeoutMillis` for one.
    func poll(timeoutMillis: Int32) {
        rd_kafka_poll(handle, timeoutMillis)
    }
}

/// The text in a NUL-terminated C buffer (librdkafka's `errstr`).
func cString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// A `BusError` for a librdkafka error code.
func kafkaError(_ err: rd_kafka_resp_err_t, _ what: String) -> BusError {
    .io("\(what): \(String(cString: rd_kafka_err2str(err))) (\(String(cString: rd_kafka_err2name(err))))")
}

/// A C partition list built from Swift values, destroyed with the value's owner.
struct PartitionList: ~Copyable {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(_ entries: [(TopicPartition, Int64?)]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(entries.count))
        for (tp, offset) in entries {
            let element = rd_kafka_topic_partition_list_add(pointer, tp.topic, tp.partition)!
            if let offset { element.pointee.offset = offset }
        }
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    /// Each element's topic-partition, offset and error.
    var elements: [(tp: TopicPartition, offset: Int64, err: rd_kafka_resp_err_t)] {
        PartitionList.elements(of: pointer)
    }

    static func elements(of list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [(tp: TopicPartition, offset: Int64, err: rd_kafka_resp_err_t)] {
        (0..<Int(list.pointee.cnt)).map { i in
            let e = list.pointee.elems[i]
            return (TopicPartition(topic: String(cString: e.topic), partition: e.partition), e.offset, e.err)
        }
    }
}
#endif
