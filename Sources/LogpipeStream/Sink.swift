import Foundation
import LogpipeBus
import LogpipeLake
import LogpipeRecords

/// The records of one micro-batch of one source partition, parsed once into columns and
/// handed, the same value, to every sink.
public struct StreamBatch: Sendable {
    /// The parsed rows.
    public enum Rows: Sendable {
        /// Log records (`logs.raw`).
        case logs(LogBatch)
        /// Activity events (`events.activity`).
        case activity(ActivityBatch)

        /// The number of rows.
        public var count: Int {
            switch self {
            case .logs(let b): b.count
            case .activity(let b): b.count
            }
        }
    }

    /// The source partition.
    public var source: TopicPartition
    /// The source offsets this batch consumed (rows plus dead letters).
    public var offsets: Range<Int64>
    /// The valid records, in offset order.
    public var rows: Rows
    /// When the bus appended each row, milliseconds since the epoch (one per row).
    public var busTimestampsMillis: [Int64]
    /// Records of this batch that failed to parse (counted and logged, not in `rows`).
    public var deadLetters: Int

    /// A stream batch.
    public init(source: TopicPartition, offsets: Range<Int64>, rows: Rows, busTimestampsMillis: [Int64], deadLetters: Int) {
        self.source = source
        self.offsets = offsets
        self.rows = rows
        self.busTimestampsMillis = busTimestampsMillis
        self.deadLetters = deadLetters
    }
}

/// What a partition sink contributes to a commit.
public struct SinkCommit: Sendable {
    /// Files written and synced under staging names, renamed into place after the commit point.
    public var files: [CommittedFile]
    /// The sink's state for this partition as of the commit's offset (`nil`: unchanged / stateless).
    public var state: Data?

    /// A sink's commit contribution.
    public init(files: [CommittedFile] = [], state: Data? = nil) {
        self.files = files
        self.state = state
    }
}

/// Where a sink's partition state comes from when a worker takes a partition.
public struct SinkPartitionContext: Sendable {
    /// The partition.
    public var source: TopicPartition
    /// The lake.
    public var store: any FileStore
    /// The sink's state from the partition's last commit, `nil` on a fresh partition.
    public var checkpoint: Data?
    /// The offset the partition resumes from (rows below it are already reflected in `checkpoint`).
    public var resumeOffset: Int64
    /// The staging path of a new file of this partition with the given id and extension
    /// (a commit names it; recovery deletes it otherwise).
    public var stagingPath: @Sendable (_ id: String, _ extension: String) -> String

    /// A context.
    public init(source: TopicPartition, store: any FileStore, checkpoint: Data?, resumeOffset: Int64,
                stagingPath: @escaping @Sendable (_ id: String, _ extension: String) -> String) {
        self.source = source
        self.store = store
        self.checkpoint = checkpoint
        self.resumeOffset = resumeOffset
        self.stagingPath = stagingPath
    }
}

/// A consumer of the stream: the raw lake sink, and the analytics.
///
/// A sink is shared by the worker; for each partition the worker owns, it opens a
/// `PartitionSink` that sees that partition's batches in order and joins that partition's
/// commits: the files it returns and the state it checkpoints are committed atomically
/// with the partition's source offset. Because a commit is per partition, partition
/// sinks of one sink in several workers combine their partial results where they meet
/// (mergeable state), never by sharing a commit.
public protocol StreamSink: Sendable {
    /// A stable name; its state is stored under this key in commit records.
    var name: String { get }
    /// Opens the sink for a partition the worker has just taken, from its checkpoint.
    func openPartition(_ context: SinkPartitionContext) async throws -> any PartitionSink
    /// Every partition has made its last commit (the worker is stopping or caught up):
    /// returns once whatever the sink still writes in the background is durable.
    func finish() async
}

extension StreamSink {
    /// Nothing in the background by default.
    public func finish() async {}
}

/// One sink's view of one partition. Driven by the partition's task (a batch may be
/// consumed on a child task of it, alongside the other sinks): calls never overlap.
public protocol PartitionSink: AnyObject, Sendable {
    /// Consumes a micro-batch. Throwing stops the partition (it is re-read from the last commit).
    func consume(_ batch: StreamBatch) async throws
    /// Whether the sink wants a commit now (a file reached its size or age target).
    func commitDue(nowNanos: UInt64) -> Bool
    /// Makes everything consumed so far committable: finishes and syncs files, snapshots
    /// state. Called at a batch boundary; the commit then names these files and state.
    func prepareCommit() async throws -> SinkCommit
    /// The commit is durable and its files are in place.
    func didCommit(_ record: CommitRecord) async
    /// The partition is being dropped without committing what is open (or a commit
    /// failed): discard uncommitted work. Staging leftovers are removed by recovery.
    func abandon() async
    /// A fetch found no new records (`nowNanos` monotonic): a sink that keeps time, such
    /// as event-time windows of a quiet partition, may act on it. Output it produces
    /// becomes durable through a commit it asks for with `commitDue`.
    func idle(nowNanos: UInt64) async throws
}

extension PartitionSink {
    /// Nothing to do by default.
    public func idle(nowNanos: UInt64) async throws {}
}
