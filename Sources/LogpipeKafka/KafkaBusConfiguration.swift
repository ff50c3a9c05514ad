import Foundation

/// How to reach a Kafka cluster and how the bus's librdkafka clients behave.
/// Plain data, so it exists in builds without the `Kafka` trait too (the CLI
/// can parse `--bus kafka://…` and report that Kafka support is not built in).
public struct KafkaBusConfiguration: Sendable, Equatable {
    /// `host:port` pairs, comma-separated, as librdkafka's `bootstrap.servers`.
    public var bootstrapServers: String
    /// librdkafka properties applied to every client after Logpipe's defaults,
    /// so any of them (SASL, SSL, `linger.ms`, `compression.type`, …) can be
    /// set or overridden as librdkafka documents it.
    public var properties: [String: String]
    /// Replication factor of topics the bus creates; -1 takes the broker's default.
    public var replicationFactor: Int32
    /// How long metadata, admin, offset and watermark requests may take.
    public var requestTimeoutMillis: Int32
    /// How long a fetch waits for records the broker is known to have before failing.
    public var dataTimeoutMillis: Int32

    /// A configuration with Logpipe's defaults (see `defaultProperties`).
    public init(
        bootstrapServers: String,
        properties: [String: String] = [:],
        replicationFactor: Int32 = -1,
        requestTimeoutMillis: Int32 = 30_000,
        dataTimeoutMillis: Int32 = 30_000
    ) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
        self.replicationFactor = replicationFactor
        self.requestTimeoutMillis = requestTimeoutMillis
        self.dataTimeoutMillis = dataTimeoutMillis
    }

    /// Parses a bus URL, `kafka://host:9092[,host2:9092]`, and flat settings
    /// whose `kafka.`-prefixed keys become librdkafka properties
    /// (`kafka.security.protocol` → `security.protocol`). Two keys are Logpipe's
    /// own: `kafka.logpipe.replication.factor` and `kafka.logpipe.request.timeout.ms`.
    public init(url: String, settings: [String: String] = [:]) throws(KafkaConfigurationError) {
        let scheme = "kafka://"
        guard url.hasPrefix(scheme) else { throw .invalidURL(url) }
        let hosts = url.dropFirst(scheme.count).split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " /")) }
        guard !hosts.isEmpty, hosts.allSatisfy({ !$0.isEmpty && !$0.contains("/") }) else { throw .invalidURL(url) }
        self.init(bootstrapServers: hosts.joined(separator: ","))
        for (key, value) in settings where key.hasPrefix("kafka.") {
            let property = String(key.dropFirst("kafka.".count))
            switch property {
            case "logpipe.replication.factor":
                guard let n = Int32(value) else { throw .invalidValue(key: key, value: value) }
                replicationFactor = n
            case "logpipe.request.timeout.ms":
                guard let n = Int32(value), n > 0 else { throw .invalidValue(key: key, value: value) }
                requestTimeoutMillis = n
            default:
                properties[property] = value
            }
        }
    }

    /// What every client gets before `properties`: topics are created only by
    /// `createTopic` (never by a metadata lookup), and the broker list.
    public var commonProperties: [String: String] {
        ["bootstrap.servers": bootstrapServers, "allow.auto.create.topics": "false"]
    }

    /// The producer's defaults: the bus promises `acks=all` durability and no
    /// duplicates from retries (idempotence), keys partitioned like Kafka's Java
    /// client, and a bounded send queue so a slow cluster pushes back instead of
    /// growing memory.
    public static let defaultProducerProperties: [String: String] = [
        "acks": "all",
        "enable.idempotence": "true",
        "partitioner": "murmur2_random",
        // Each produce call waits for its acknowledgements, so the wait to fill
        // a batch is paid per request; concurrent requests still share batches.
        "linger.ms": "1",
        "compression.type": "lz4",
        "queue.buffering.max.kbytes": "65536",
        "queue.buffering.max.messages": "200000",
        "delivery.timeout.ms": "120000",
    ]

    /// The fetch consumer's defaults: bounded per-partition prefetch queues (the
    /// library's defaults can hold gigabytes), short broker waits so a long poll
    /// notices new records quickly, and no offset storage (the lake owns offsets).
    ///
    /// The queue is bounded by bytes, 32 MiB a partition (`queued.min.messages` is
    /// set past what that holds so it never binds first). librdkafka asks for more
    /// only once the queue is below its bound, and a broker may answer with far
    /// more than `fetch.message.max.bytes` (tansu sends ~58,000 records, ~19 MB of
    /// logs, in one response), so the queue must hold enough for the stream to keep
    /// working through that round trip: at 10,000 records (~3 MB of logs) the stream
    /// waited on about half of every cycle and Kafka → lake ran at ~60% of the local
    /// bus (docs/profile.md).
    public static let defaultFetchProperties: [String: String] = [
        "queued.max.messages.kbytes": "32768",
        "queued.min.messages": "1000000",
        "fetch.max.bytes": "8388608",
        "fetch.message.max.bytes": "1048576",
        "fetch.wait.max.ms": "100",
        "fetch.error.backoff.ms": "50",
        // When a partition's queue is full, re-check after 10 ms rather than
        // librdkafka's 1 s, so a reader that catches up is not left idle.
        "fetch.queue.backoff.ms": "10",
        "enable.partition.eof": "true",
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "error",
    ]
}

/// Why a Kafka bus configuration was refused.
public enum KafkaConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bus URL is not `kafka://host:port[,host:port…]`.
    case invalidURL(String)
    /// A setting's value has the wrong form.
    case invalidValue(key: String, value: String)
    /// librdkafka refused a property.
    case rejectedProperty(key: String, reason: String)

    public var description: String {
        switch self {
        case .invalidURL(let u): "invalid Kafka bus URL '\(u)' (expected kafka://host:port[,host:port…])"
        case .invalidValue(let k, let v): "invalid value '\(v)' for \(k)"
        case .rejectedProperty(let k, let r): "librdkafka refused \(k): \(r)"
        }
    }
}
