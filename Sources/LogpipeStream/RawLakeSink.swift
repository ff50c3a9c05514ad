import Foundation
import LogpipeBus
import LogpipeLake
import LogpipeRecords

/// The raw sink: every valid record into the lake's hourly Parquet partitions
/// (`logs/raw/…`, `events/activity/…`), exactly once.
///
/// Files stay open across micro-batches, one per hour of event time that the partition's
/// records touched since the last commit (a late record simply opens a file in its own,
/// older hour). A commit closes all of them at once, so a commit's offset cleanly splits
/// the partition: rows below it are in committed files, rows above it in none. Commits
/// happen when a file reaches `rollBytes` or the oldest open file is `rollAgeSeconds` old.
public struct RawLakeSink: StreamSink {
    /// How files roll.
    public struct Options: Sendable, Equatable {
        /// A file is closed (and the partition committed) once it reaches about this many bytes.
        public var rollBytes: Int64
        /// Open files are closed once the oldest has been open this long (wall time), so data
        /// becomes visible soon even at low rates.
        public var rollAgeSeconds: Double
        /// Encoding options of the files.
        public var file: LakeFileOptions

        /// Options: 128 MiB files, visible within 60 s.
        public init(rollBytes: Int64 = 128 << 20, rollAgeSeconds: Double = 60, file: LakeFileOptions = LakeFileOptions()) {
            self.rollBytes = max(1, rollBytes)
            self.rollAgeSeconds = max(0, rollAgeSeconds)
            self.file = file
        }
    }

    /// The options.
    public let options: Options

    /// A raw sink.
    public init(options: Options = Options()) {
        self.options = options
    }

    public var name: String { "raw" }

    public func openPartition(_ context: SinkPartitionContext) async throws -> any PartitionSink {
        RawPartitionSink(context: context, options: options)
    }
}

/// The raw sink of one partition: the open files of each dataset by hour.
final class RawPartitionSink: PartitionSink, @unchecked Sendable {
    // @unchecked: a partition sink is driven by its partition's task alone (the
    // `PartitionSink` contract), so its mutable state is never touched concurrently.
    let context: SinkPartitionContext
    let options: RawLakeSink.Options
    let logs: HourFiles<LogBatch>
    let activity: HourFiles<ActivityBatch>

    init(context: SinkPartitionContext, options: RawLakeSink.Options) {
        self.context = context
        self.options = options
        logs = HourFiles(context: context, options: options.file)
        activity = HourFiles(context: context, options: options.file)
    }

    func consume(_ batch: StreamBatch) async throws {
        switch batch.rows {
        case .logs(let rows): try await logs.append(rows)
        case .activity(let rows): try await activity.append(rows)
        }
    }

    func commitDue(nowNanos: UInt64) -> Bool {
        let ageNanos = UInt64(options.rollAgeSeconds * 1e9)
        for files in [logs.state, activity.state] {
            if files.largestBytes >= options.rollBytes { return true }
            if let opened = files.oldestOpenedNanos, nowNanos &- opened >= ageNanos { return true }
        }
        return false
    }

    func prepareCommit() async throws -> SinkCommit {
        SinkCommit(files: try await logs.finishAll() + activity.finishAll())
    }

    func didCommit(_ record: CommitRecord) async {}

    func abandon() async {
        await logs.abortAll()
        await activity.abortAll()
    }
}

/// What decides a roll: the largest open file and the oldest one's age.
struct OpenFilesState {
    var largestBytes: Int64 = 0
    var oldestOpenedNanos: UInt64?
}

/// The open files of one dataset, by hour.
final class HourFiles<Rows: LakeRows> {
    typealias State = OpenFilesState

    let context: SinkPartitionContext
    let options: LakeFileOptions
    var open: [HourPartition: StagedParquetFile<Rows>] = [:]
    private(set) var state = State()

    init(context: SinkPartitionContext, options: LakeFileOptions) {
        self.context = context
        self.options = options
    }

    /// Appends a batch, each run of rows to the file of its hour.
    func append(_ batch: Rows) async throws {
        let n = batch.count
        guard n > 0 else { return }
        let hours = batch.timestampMicros.values.withUnsafeBufferPointer { ts -> [(HourPartition, Range<Int>)] in
            var runs: [(HourPartition, Range<Int>)] = []
            var start = 0
            var current = HourPartition(timestampMicros: ts[0])
            for i in 1..<n {
                let h = HourPartition(timestampMicros: ts[i])
                if h != current {
                    runs.append((current, start..<i))
                    start = i
                    current = h
                }
            }
            runs.append((current, start..<n))
            return runs
        }
        for (hour, rows) in hours {
            try await file(for: hour).append(batch, rows: rows)
        }
        var largest: Int64 = 0
        for file in open.values { largest = max(largest, file.estimatedBytes) }
        state.largestBytes = largest
    }

    private func file(for hour: HourPartition) async throws -> StagedParquetFile<Rows> {
        if let file = open[hour] { return file }
        let id = UUID().uuidString.lowercased()
        let file = try await StagedParquetFile<Rows>(
            store: context.store, stagingPath: context.stagingPath(id, "parquet"),
            id: id, hour: hour, options: options)
        open[hour] = file
        if state.oldestOpenedNanos == nil { state.oldestOpenedNanos = file.openedAtNanos }
        return file
    }

    /// Finishes every open file (footer, fsync) and forgets them.
    func finishAll() async throws -> [CommittedFile] {
        let out = try await StagedParquetFile.finishAll(open.keys.sorted().map { open[$0]! })
        open.removeAll()
        state = State()
        return out
    }

    /// Deletes every open file.
    func abortAll() async {
        for file in open.values { await file.abort() }
        open.removeAll()
        state = State()
    }
}
