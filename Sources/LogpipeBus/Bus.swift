/// The Bus: durable, partitioned, ordered topics between the collector and the
/// stream workers. `LocalBus` (an embedded append-only log) and the Kafka bus
/// implement this one protocol and pass one contract suite (LogpipeTesting).

/// A topic and one of its partitions.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    /// The topic name, for example `logs.raw`.
    public var topic: String
    /// The partition number, from 0.
    public var partition: Int32

    /// A topic-partition.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)-\(partition)" }
}

/// How long and how much a topic keeps.
public struct RetentionPolicy: Sendable, Equatable {
    /// Segments whose newest record is older than this are deleted; `nil` keeps forever.
    public var maxAgeSeconds: Int64?
    /// Oldest segments are deleted while a partition is larger than this; `nil` means no limit.
    public var maxBytesPerPartition: Int64?

    /// A retention policy.
    public init(maxAgeSeconds: Int64? = 7 * 24 * 3600, maxBytesPerPartition: Int64? = nil) {
        self.maxAgeSeconds = maxAgeSeconds
        self.maxBytesPerPartition = maxBytesPerPartition
    }

    /// Seven days, no size limit: the seed's Kafka topics.
    public static let sevenDays = RetentionPolicy()
}

/// The shape of a topic to create.
public struct TopicSpec: Sendable, Equatable {
    /// The topic name.
    public var name: String
    /// The number of partitions.
    public var partitions: Int32
    /// Retention.
    public var retention: RetentionPolicy

    /// A topic spec.
    public init(name: String, partitions: Int32 = 3, retention: RetentionPolicy = .sevenDays) {
        self.name = name
        self.partitions = partitions
        self.retention = retention
    }
}

/// Records to produce, all bytes in one buffer so a request body's records go
/// to the bus without one allocation each.
public struct ProduceBatch: Sendable {
    /// Keys and values, back to back.
    public var buffer: [UInt8]
    /// One entry per record, in produce order.
    public var entries: [Entry]

    /// Where one record's key and value sit in `buffer`.
    public struct Entry: Sendable, Equatable {
        /// The key's range in `buffer`; `nil` for a record without a key.
        public var key: Range<Int32>?
        /// The value's range in `buffer`.
        public var value: Range<Int32>
        /// An explicit partition; `nil` lets the bus choose from the key.
        public var partition: Int32?

        /// An entry.
        public init(key: Range<Int32>?, value: Range<Int32>, partition: Int32? = nil) {
            self.key = key
            self.value = value
            self.partition = partition
        }
    }

    /// An empty batch.
    public init() {
        buffer = []
        entries = []
    }

    /// Appends a record, copying its key and value into the buffer.
    public mutating func append<K: Collection, V: Collection>(key: K?, value: V, partition: Int32? = nil)
    where K.Element == UInt8, V.Element == UInt8 {
        var keyRange: Range<Int32>? = nil
        if let key {
            let start = Int32(buffer.count)
            buffer.append(contentsOf: key)
            keyRange = start..<Int32(buffer.count)
        }
        let start = Int32(buffer.count)
        buffer.append(contentsOf: value)
        entries.append(Entry(key: keyRange, value: start..<Int32(buffer.count), partition: partition))
    }

    /// The number of records.
    public var count: Int { entries.count }
}

/// Where each produced record landed, in produce order.
public struct ProduceResult: Sendable {
    /// The partition and offset of each record.
    public var placements: [(partition: Int32, offset: Int64)]

    /// A produce result.
    public init(placements: [(partition: Int32, offset: Int64)]) {
        self.placements = placements
    }
}

/// Records read from one partition, all bytes in one buffer.
public struct FetchedBatch: Sendable {
    /// Keys and values, back to back.
    public var buffer: [UInt8]
    /// One entry per record, in offset order.
    public var records: [Record]
    /// The offset the next record will get: the end of the log when this was read.
    public var highWatermark: Int64

    /// One record's offset, producer timestamp and byte ranges in `buffer`.
    public struct Record: Sendable, Equatable {
        /// The record's offset in its partition.
        public var offset: Int64
        /// When the bus appended it, in milliseconds since the epoch.
        public var timestampMillis: Int64
        /// The key's range in `buffer`; `nil` without a key.
        public var key: Range<Int32>?
        /// The value's range in `buffer`.
        public var value: Range<Int32>

        /// A fetched record.
        public init(offset: Int64, timestampMillis: Int64, key: Range<Int32>?, value: Range<Int32>) {
            self.offset = offset
            self.timestampMillis = timestampMillis
            self.key = key
            self.value = value
        }
    }

    /// A fetched batch.
    public init(buffer: [UInt8], records: [Record], highWatermark: Int64) {
        self.buffer = buffer
        self.records = records
        self.highWatermark = highWatermark
    }

    /// The offset to read from next.
    public func nextOffset(after start: Int64) -> Int64 { records.last.map { $0.offset + 1 } ?? start }
}

/// One partition's state.
public struct PartitionInfo: Sendable, Equatable {
    /// The partition number.
    public var partition: Int32
    /// The first offset still kept (retention moves it forward).
    public var lowWatermark: Int64
    /// The offset the next record will get.
    public var highWatermark: Int64
    /// Bytes on disk (0 where the implementation cannot tell).
    public var sizeBytes: Int64

    /// Partition info.
    public init(partition: Int32, lowWatermark: Int64, highWatermark: Int64, sizeBytes: Int64) {
        self.partition = partition
        self.lowWatermark = lowWatermark
        self.highWatermark = highWatermark
        self.sizeBytes = sizeBytes
    }
}

/// One topic's state.
public struct TopicInfo: Sendable, Equatable {
    /// The topic name.
    public var name: String
    /// Its partitions, by number.
    public var partitions: [PartitionInfo]

    /// Topic info.
    public init(name: String, partitions: [PartitionInfo]) {
        self.name = name
        self.partitions = partitions
    }
}

/// Why a bus call failed.
public enum BusError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The topic does not exist.
    case unknownTopic(String)
    /// The partition does not exist in the topic.
    case unknownPartition(TopicPartition)
    /// The requested offset is below the low watermark (deleted by retention) or above the high watermark.
    case offsetOutOfRange(TopicPartition, requested: Int64, low: Int64, high: Int64)
    /// More bytes are waiting to be made durable than the bus accepts; retry later.
    case overloaded(retryAfterSeconds: Int)
    /// A record or batch is larger than the bus accepts.
    case recordTooLarge(Int)
    /// The bus is closed.
    case closed
    /// Stored data is corrupt beyond what recovery repairs.
    case corrupt(String)
    /// An operating-system or broker error.
    case io(String)
    /// The disk is full (ENOSPC, EDQUOT): nothing of the append was kept, and appends are
    /// tried again once there is space.
    case noSpace(String)
    /// Another live process holds the embedded bus's writer lock (`pid` when it could be read).
    case writerLocked(directory: String, pid: Int32?)
    /// The bus was opened read-only (`LocalBusAccess.read`) and cannot append or create topics.
    case readOnly(String)

    public var description: String {
        switch self {
        case .unknownTopic(let t): "unknown topic '\(t)'"
        case .unknownPartition(let tp): "unknown partition \(tp)"
        case .offsetOutOfRange(let tp, let r, let l, let h): "offset \(r) out of range for \(tp) (kept \(l)..<\(h))"
        case .overloaded(let s): "bus overloaded, retry after \(s)s"
        case .recordTooLarge(let n): "record of \(n) bytes is too large"
        case .closed: "bus is closed"
        case .corrupt(let s): "corrupt log: \(s)"
        case .io(let s): "I/O error: \(s)"
        case .noSpace(let s): "no space left: \(s)"
        case .writerLocked(let d, let pid):
            "the bus in \(d) is already open for writing by process \(pid.map(String.init) ?? "(unknown pid)") (a logpipe collect or run): one writer per data directory; stop it or use another --data-dir"
        case .readOnly(let d): "the bus in \(d) is open read-only in this process; only its writer (logpipe collect or run) appends"
        }
    }
}

/// Durable, partitioned, ordered topics with consumer-group offsets.
///
/// Semantics every implementation keeps (the contract suite checks them):
/// - `produce` returns only when every record is durable (fsynced locally,
///   `acks=all` on Kafka); records of one key keep their order on one partition.
/// - A key's partition is Kafka's default partitioner: `murmur2(key) & 0x7fffffff % partitions`.
/// - Offsets in a partition start at 0 and grow by one per record, with no gaps.
/// - `fetch` never returns a corrupt or partly written record.
public protocol Bus: Sendable {
    /// Creates the topic if it does not exist; an existing topic is left as it is.
    func createTopic(_ spec: TopicSpec) async throws
    /// Every topic with its partitions' watermarks and sizes.
    func topics() async throws -> [TopicInfo]
    /// The number of partitions of a topic.
    func partitionCount(topic: String) async throws -> Int32
    /// Appends records, returning once all are durable.
    func produce(topic: String, batch: ProduceBatch) async throws -> ProduceResult
    /// Reads records from `offset` on, up to about `maxBytes`, waiting up to
    /// `maxWaitMillis` for the first record when none is there yet.
    func fetch(_ tp: TopicPartition, from offset: Int64, maxBytes: Int, maxWaitMillis: Int) async throws -> FetchedBatch
    /// Stores a consumer group's next offsets to read, atomically.
    func commit(group: String, offsets: [TopicPartition: Int64]) async throws
    /// A consumer group's committed next offsets for a topic, by partition (absent = none committed).
    func committedOffsets(group: String, topic: String) async throws -> [Int32: Int64]
    /// Names of every consumer group with committed offsets.
    func groups() async throws -> [String]
    /// Flushes what is pending and releases files and connections.
    func close() async throws
}
