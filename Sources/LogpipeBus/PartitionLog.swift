import Logging
import Metrics
import Synchronization

/// Options of a `LocalBus`.
public struct LocalBusOptions: Sendable {
    /// A segment receives no more appends once it holds this many bytes; the next append starts a new one.
    public var segmentBytes: Int64
    /// The active segment is also closed to appends once its first record is older than this (`nil`: never),
    /// so retention by age can delete data on a quiet partition.
    public var segmentMaxAgeSeconds: Int64?
    /// Bytes accepted but not yet durable, across all partitions; beyond it `produce` throws `overloaded`.
    public var maxPendingBytes: Int
    /// The largest encoded batch (one produce call's records for one partition).
    public var maxBatchBytes: Int
    /// Bytes of log between two sparse index entries.
    public var indexIntervalBytes: Int64
    /// How often retention runs on its own (`nil`: only on open, on segment rolls and when asked).
    public var retentionCheckIntervalSeconds: Double?
    /// The `Retry-After` an `overloaded` error suggests.
    public var overloadedRetryAfterSeconds: Int
    /// Where recovery, corruption and I/O failures are reported.
    public var logger: Logger
    /// Where metrics go; `nil` uses `MetricsSystem.factory` as bootstrapped when the bus opens.
    public var metricsFactory: (any MetricsFactory)?
    /// Writer (the default: one process per directory) or reader of another process's bus.
    public var access: LocalBusAccess
    /// How often a reader checks the writer's durable ends; new topics and deleted segments about once a second.
    public var followIntervalMillis: Int
    /// The largest the writer's journal (`_journal`, see `Journal`) grows to, from 256 KiB
    /// (at least 64 KiB): a flush cycle larger than about half of it fsyncs its segments
    /// directly instead.
    public var journalBytes: Int64

    /// Options; the defaults suit a collector on one machine.
    public init(
        segmentBytes: Int64 = 128 << 20,
        segmentMaxAgeSeconds: Int64? = 24 * 3600,
        maxPendingBytes: Int = 64 << 20,
        maxBatchBytes: Int = 16 << 20,
        indexIntervalBytes: Int64 = 4096,
        retentionCheckIntervalSeconds: Double? = 300,
        overloadedRetryAfterSeconds: Int = 1,
        logger: Logger = Logger(label: "logpipe.bus"),
        metricsFactory: (any MetricsFactory)? = nil,
        access: LocalBusAccess = .write,
        followIntervalMillis: Int = 10,
        journalBytes: Int64 = 64 << 20
    ) {
        self.journalBytes = journalBytes
        self.access = access
        self.followIntervalMillis = max(1, followIntervalMillis)
        self.segmentBytes = segmentBytes
        self.segmentMaxAgeSeconds = segmentMaxAgeSeconds
        self.maxPendingBytes = maxPendingBytes
        self.maxBatchBytes = maxBatchBytes
        self.indexIntervalBytes = indexIntervalBytes
        self.retentionCheckIntervalSeconds = retentionCheckIntervalSeconds
        self.overloadedRetryAfterSeconds = overloadedRetryAfterSeconds
        self.logger = logger
        self.metricsFactory = metricsFactory
    }
}

/// One batch waiting in a partition's pending buffer.
struct PendingBatch {
    /// Where it starts among the partition's pending bytes.
    var position: Int
    var length: Int
    var baseOffset: Int64
    var count: Int
    var timestamp: Int64
}

/// Metrics of one partition, created once so the hot path does no label lookups.
///
/// Exported names (labels `topic`, `partition`): `logpipe_bus_appended_bytes_total`,
/// `logpipe_bus_appended_records_total`, `logpipe_bus_high_watermark`,
/// `logpipe_bus_low_watermark`, `logpipe_bus_partition_size_bytes` and the
/// timer `logpipe_bus_fsync_seconds`.
struct PartitionMetrics: Sendable {
    let bytesAppended: Counter
    let recordsAppended: Counter
    let highWatermark: Gauge
    let lowWatermark: Gauge
    let sizeBytes: Gauge
    let fsync: Metrics.Timer

    init(_ tp: TopicPartition, factory: any MetricsFactory) {
        let dims = [("topic", tp.topic), ("partition", String(tp.partition))]
        bytesAppended = Counter(label: "logpipe_bus_appended_bytes_total", dimensions: dims, factory: factory)
        recordsAppended = Counter(label: "logpipe_bus_appended_records_total", dimensions: dims, factory: factory)
        highWatermark = Gauge(label: "logpipe_bus_high_watermark", dimensions: dims, factory: factory)
        lowWatermark = Gauge(label: "logpipe_bus_low_watermark", dimensions: dims, factory: factory)
        sizeBytes = Gauge(label: "logpipe_bus_partition_size_bytes", dimensions: dims, factory: factory)
        fsync = Metrics.Timer(label: "logpipe_bus_fsync_seconds", dimensions: dims, preferredDisplayUnit: .seconds, factory: factory)
    }
}

/// One partition of the local log: its segments, the offsets handed out and
/// made durable, the bytes waiting for the flusher and the fetches waiting for data.
///
/// `@unchecked Sendable`: every `var` is read and written only under the
/// LocalBus state lock; `let`s are immutable.
final class PartitionLog: @unchecked Sendable {
    let tp: TopicPartition
    let directory: String
    let metrics: PartitionMetrics

    /// Ascending by base offset; never empty; the last one is the active segment.
    var segments: [Segment]
    /// The offset the next produced record gets.
    var nextOffset: Int64
    /// Offsets below this are durable and readable.
    var highWatermark: Int64
    /// Encoded batches (the producers' own buffers) the flusher has not taken yet.
    var pending: [[UInt8]] = []
    var pendingBatches: [PendingBatch] = []
    /// Bytes in `pending`.
    var pendingBytes = 0
    /// Set when a write or fsync failed: the partition takes no more appends until reopened.
    var failure: String?
    /// Fetches waiting for the high watermark to move.
    var fetchWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    /// The durable marker (`DurableMarker`): the writer rewrites it, readers poll it; nil when a reader found none yet.
    let markerFD: Int32?

    init(tp: TopicPartition, directory: String, segments: [Segment], markerFD: Int32?, metricsFactory: any MetricsFactory) {
        self.tp = tp
        self.directory = directory
        self.segments = segments
        self.markerFD = markerFD
        self.metrics = PartitionMetrics(tp, factory: metricsFactory)
        nextOffset = segments.last!.nextOffset
        highWatermark = nextOffset
    }

    deinit {
        if let markerFD { FileIO.closeFile(markerFD) }
    }

    var active: Segment { segments[segments.count - 1] }
    var lowWatermark: Int64 { segments[0].baseOffset }
    var sizeBytes: Int64 { segments.reduce(0) { $0 + $1.durableSize } }

    var info: PartitionInfo {
        PartitionInfo(partition: tp.partition, lowWatermark: lowWatermark, highWatermark: highWatermark, sizeBytes: sizeBytes)
    }

    func updateGauges() {
        metrics.highWatermark.record(highWatermark)
        metrics.lowWatermark.record(lowWatermark)
        metrics.sizeBytes.record(sizeBytes)
    }

    /// The index of the segment holding `offset`: the last one whose base is at or below it.
    func segmentIndex(for offset: Int64) -> Int {
        var lo = 0
        var hi = segments.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if segments[mid].baseOffset <= offset { lo = mid + 1 } else { hi = mid }
        }
        return max(lo - 1, 0)
    }
}

/// One topic: its spec, partitions, keyless round-robin counter and append timer
/// (`logpipe_bus_append_seconds`, label `topic`: a produce call from its start to its acknowledgement).
final class TopicState: Sendable {
    /// The topic's name and partition count, fixed at creation; its retention is `retention`.
    private let shape: TopicSpec
    /// Retention can change while the bus is open (`LocalBus.setRetention`), so it is
    /// read and swapped under its own lock rather than being part of the fixed shape.
    private let currentRetention: Mutex<RetentionPolicy>
    let partitions: [PartitionLog]
    let roundRobin = Atomic<UInt32>(0)
    let appendTimer: Metrics.Timer

    init(spec: TopicSpec, partitions: [PartitionLog], metricsFactory: any MetricsFactory) {
        shape = spec
        currentRetention = Mutex(spec.retention)
        self.partitions = partitions
        appendTimer = Metrics.Timer(label: "logpipe_bus_append_seconds", dimensions: [("topic", spec.name)],
                                    preferredDisplayUnit: .seconds, factory: metricsFactory)
    }

    /// The topic's name.
    var name: String { shape.name }

    /// The topic's partition count.
    var partitionCount: Int32 { shape.partitions }

    /// The retention in force now.
    var retention: RetentionPolicy {
        get { currentRetention.withLock { $0 } }
        set { currentRetention.withLock { $0 = newValue } }
    }

    /// The spec with the retention in force now.
    var spec: TopicSpec { TopicSpec(name: shape.name, partitions: shape.partitions, retention: retention) }
}
