import Foundation
import LogpipeBus
import LogpipeLake
import LogpipeRecords
import LogpipeStream

/// What one partition's analytics produced up to one of its commits, handed out after
/// that commit is durable.
public struct AnalyticsPublication: Sendable, Equatable, Codable {
    /// The topic.
    public var topic: String
    /// The partition.
    public var partition: Int32
    /// The partition's publication number, increasing from 1: a replay after a restart repeats a
    /// number with the same content, so (topic, partition, sequence) names it idempotently.
    /// Whole-system (`<stream>-global`) publications: the window end in seconds, or, with
    /// `through`, where the claimed range of window ends starts (microseconds, exclusive).
    public var sequence: Int64
    /// Whole-system publications of a claimed range: where it ends (microseconds, inclusive);
    /// the name is then (topic, partition, sequence, through). `nil` otherwise.
    public var through: Int64?
    /// Windows, alerts and late counts since the previous publication (`lateRows` and
    /// `futureRows` empty: the rows themselves are in the commit's late files).
    public var output: AnalyticsOutput

    /// A publication.
    public init(topic: String, partition: Int32, sequence: Int64, through: Int64? = nil, output: AnalyticsOutput) {
        self.topic = topic
        self.partition = partition
        self.sequence = sequence
        self.through = through
        self.output = output
    }

    /// The name of its files in the lake: a replay, or another merger publishing the same
    /// claim, has the same one.
    public var fileName: String { Self.fileName(topic: topic, partition: partition, sequence: sequence, through: through) }

    /// `part-<topic>-<partition>-<sequence, 12 digits>[-<through>].json`.
    static func fileName(topic: String, partition: Int32, sequence: Int64, through: Int64? = nil) -> String {
        let base = "part-\(topic)-\(partition)-\(String(format: "%012lld", sequence))"
        return through.map { "\(base)-\($0).json" } ?? "\(base).json"
    }
}

/// Where a partition's late (and future) rows go: NDJSON in the contract's form, one file
/// per stream and commit, named after the commit's publication so a reader can match
/// them. The commit that carries the publication renames the file into place.
public enum LateRowsLayout {
    /// The lake directory of a stream's late rows.
    public static func directory(_ stream: AnalyticsStream) -> String {
        stream == .logs ? "late/logs" : "late/activity"
    }

    /// The file name of a publication's late rows.
    public static func fileName(topic: String, partition: Int32, sequence: Int64) -> String {
        AnalyticsPublication.fileName(topic: topic, partition: partition, sequence: sequence)
    }
}

/// The analytics as a stream sink: each partition the worker owns gets its own
/// `StreamAnalytics`, fed the same parsed batches as the raw sink, and its state
/// (windows, watermarks, detector history) is checkpointed in that partition's commits.
///
/// Delivery: a partition's outputs since its previous commit travel in the commit's
/// state and are handed to `publish` once the commit is durable, and again when the
/// partition is next opened from that commit (the sink cannot know whether the first
/// delivery finished). A restart therefore never loses or double-counts a window, and a
/// repeated publication has the same (topic, partition, sequence): `publish` must write
/// idempotently by that name (e.g. `createExclusive` of a lake file named after it, an
/// alerts-topic key). The store replaces by window, so repeats do not change it. The
/// sink never asks for a commit itself.
///
/// Late and future rows are not part of that state: they stream into a staged file per
/// stream that the commit itself names and renames into `late/…`, like the raw sink's
/// Parquet files. A commit record therefore grows with the windows closed since the
/// previous commit, never with the rows, and memory stays bounded during a backfill
/// however many rows arrive late.
///
/// The live store does not wait for commits: each batch's windows and alerts are
/// recorded there as soon as they are computed (commits follow the raw sink's file
/// rolls, a minute apart by default, far too late for a live view). A window's content
/// is fixed by the rows before its close, so a restarted worker computes it again
/// identically and the store's replace-by-window keeps one row of it.
///
/// Partitions: logs are keyed by service, so per-service metrics and their detectors are
/// complete in one partition. Client-IP, flood (DDoS), system-wide and activity windows
/// describe the whole system: by default a `GlobalWindowCoordinator` shared by every
/// partition of this sink combines them (one row per window, one alert per incident) and
/// publishes them as `<stream>-global` publications named by window end. Given an
/// `exchange`, the coordinators of several worker processes combine them through the lake,
/// one of them merging, and each emission is one publication named by the range of window
/// ends it claimed in the exchange, which every merger cuts the same (see
/// `GlobalWindowCoordinator`).
public struct AnalyticsSink: StreamSink {
    /// The analytics configuration of every partition.
    public let configuration: AnalyticsConfiguration
    /// Receives each publication (lake `metrics/` and `alerts/` writer, alerts topic, webhook).
    public let publish: @Sendable (AnalyticsPublication) async -> Void
    /// Also records every batch's output here as it is computed, when given (the live API).
    public let store: AnalyticsStore?
    /// Combines the whole-system windows of this sink's partitions; `nil`: each partition
    /// emits its own.
    public let coordinator: GlobalWindowCoordinator?

    /// A sink publishing to `publish` and `store`. With `combineAcrossPartitions`, the
    /// whole-system windows of its partitions are combined, waiting for the partitions in
    /// `expected` (per stream: every partition of the source topics), and with `exchange`
    /// across every worker of the group; `writesBeside` then publishes them beside the
    /// partitions' tasks (`GlobalWindowCoordinator`).
    public init(configuration: AnalyticsConfiguration = AnalyticsConfiguration(), store: AnalyticsStore? = nil,
                combineAcrossPartitions: Bool = true, expected: [AnalyticsStream: Set<TopicPartition>] = [:],
                exchange: GlobalWindowExchange? = nil, writesBeside: Bool = false,
                publish: @escaping @Sendable (AnalyticsPublication) async -> Void = { _ in }) {
        self.configuration = configuration
        self.store = store
        self.publish = publish
        coordinator = combineAcrossPartitions
            ? GlobalWindowCoordinator(configuration: configuration, expected: expected, store: store, exchange: exchange,
                                      writesBeside: writesBeside, publish: publish) : nil
    }

    public var name: String { "analytics" }

    /// Waits for the whole-system publications still being written, and records them.
    public func finish() async {
        await coordinator?.finish()
    }

    public func openPartition(_ context: SinkPartitionContext) async throws -> any PartitionSink {
        let sink = AnalyticsPartitionSink(context: context, configuration: configuration)
        sink.analytics.combinesAcrossPartitions = coordinator != nil
        if let checkpoint = context.checkpoint, let replay = try sink.restore(Array(checkpoint)) {
            store?.record(replay.output)
            await publish(replay)
        }
        let handle = AnalyticsPartitionSinkHandle(sink: sink, store: store, coordinator: coordinator, deliver: publish)
        // Parts kept in the checkpoint go to the coordinator again.
        await handle.reportToCoordinator()
        return handle
    }
}

/// Why a checkpoint could not be read.
public struct AnalyticsCheckpointError: Error, CustomStringConvertible {
    /// What is wrong.
    public var description: String
}

/// A staged NDJSON file of late rows, written in pieces so memory stays bounded.
final class LateRowsFile {
    let stream: AnalyticsStream
    let stagingPath: String
    let writer: any FileWriter
    var buffer: [UInt8] = []
    var rows: Int64 = 0
    var bytes: Int64 = 0

    /// Bytes buffered before they are handed to the store.
    static let flushBytes = 1 << 20

    init(stream: AnalyticsStream, stagingPath: String, writer: any FileWriter) {
        self.stream = stream
        self.stagingPath = stagingPath
        self.writer = writer
    }

    func flushIfFull() async throws {
        if buffer.count >= Self.flushBytes { try await flush() }
    }

    func flush() async throws {
        guard !buffer.isEmpty else { return }
        try await writer.write(buffer)
        bytes += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// One partition's analytics state and its outputs not yet published.
final class AnalyticsPartitionSink: @unchecked Sendable {
    // @unchecked: driven by the partition's task alone (the `PartitionSink` contract).
    let context: SinkPartitionContext
    var source: TopicPartition { context.source }
    var analytics: StreamAnalytics
    /// Produced since the last `prepareCommit`.
    var pending: AnalyticsPublication
    /// Late rows since the last `prepareCommit`, per stream.
    var lateFiles: [AnalyticsStream: LateRowsFile] = [:]
    /// Included in the commit being made, published by `didCommit`.
    var inFlight: AnalyticsPublication?
    /// The sequence number of the last commit's publication.
    var sequence: Int64 = 0
    /// The end up to which the coordinator has emitted whole-system windows, as far as
    /// this partition knows: checkpointed, so that after a restart a window that some
    /// partition already dropped as emitted is not emitted again from the others' parts.
    var globalEmitted: Int64 = .min

    init(context: SinkPartitionContext, configuration: AnalyticsConfiguration) {
        self.context = context
        analytics = StreamAnalytics(configuration: configuration)
        pending = Self.empty(context.source)
    }

    static func empty(_ source: TopicPartition) -> AnalyticsPublication {
        AnalyticsPublication(topic: source.topic, partition: source.partition, sequence: 0, output: AnalyticsOutput())
    }

    /// The open late-rows file of `stream`, created on first use.
    private func lateFile(_ stream: AnalyticsStream) async throws -> LateRowsFile {
        if let file = lateFiles[stream] { return file }
        let path = context.stagingPath(UUID().uuidString.lowercased(), "json")
        let file = LateRowsFile(stream: stream, stagingPath: path, writer: try await context.store.openWriter(path))
        lateFiles[stream] = file
        return file
    }

    /// Appends `output`'s late and future rows, as NDJSON lines `append` writes, to the
    /// stream's late file.
    private func keepLateAndFuture(_ output: AnalyticsOutput, _ stream: AnalyticsStream,
                                   _ append: (Int, inout [UInt8]) -> Void) async throws {
        guard !output.lateRows.isEmpty || !output.futureRows.isEmpty else { return }
        let file = try await lateFile(stream)
        for row in output.lateRows + output.futureRows {
            append(row, &file.buffer)
            file.buffer.append(UInt8(ascii: "\n"))
        }
        file.rows += Int64(output.lateRows.count + output.futureRows.count)
        try await file.flushIfFull()
    }

    /// Processes a batch; returns what it produced (without the late row indices).
    func consume(_ rows: StreamBatch.Rows, arrivalMillis: [Int64]) async throws -> AnalyticsOutput {
        var output: AnalyticsOutput
        switch rows {
        case .logs(let batch):
            output = analytics.process(logs: batch, arrivalMillis: arrivalMillis)
            try await keepLateAndFuture(output, .logs) { JSONRecordWriter.appendLog(batch, row: $0, to: &$1) }
        case .activity(let batch):
            output = analytics.process(activities: batch, arrivalMillis: arrivalMillis)
            try await keepLateAndFuture(output, .activities) { JSONRecordWriter.appendActivity(batch, row: $0, to: &$1) }
        }
        output.lateRows = []
        output.futureRows = []
        pending.output.append(output)
        return output
    }

    /// What to commit: the late-rows files, finished and synced, and the state (the
    /// analytics snapshot and the publication the commit carries).
    func prepare() async throws -> SinkCommit {
        var publication = pending
        sequence += 1
        publication.sequence = sequence
        var files: [CommittedFile] = []
        for stream in AnalyticsStream.allCases {
            guard let file = lateFiles[stream] else { continue }
            try await file.flush()
            try await file.writer.finish()
            let name = LateRowsLayout.fileName(topic: source.topic, partition: source.partition, sequence: sequence)
            files.append(CommittedFile(dataset: stream == .logs ? .logs : .activity, staging: file.stagingPath,
                                       final: "\(LateRowsLayout.directory(stream))/\(name)", rows: file.rows, bytes: file.bytes))
        }
        lateFiles = [:]
        inFlight = publication
        pending = Self.empty(source)
        let snapshot = analytics.snapshot()
        var out = Data("LPA2".utf8)
        var length = UInt32(snapshot.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: snapshot)
        var emitted = globalEmitted.littleEndian
        withUnsafeBytes(of: &emitted) { out.append(contentsOf: $0) }
        out.append(contentsOf: AnalyticsJSON.encode(publication))
        return SinkCommit(files: files, state: out)
    }

    /// Deletes the open late-rows files (their rows are read again from the last commit).
    func abandon() async {
        for file in lateFiles.values { await file.writer.abort() }
        lateFiles = [:]
    }

    /// Restores from a commit's state; returns its publication when it has anything to replay.
    func restore(_ bytes: [UInt8]) throws -> AnalyticsPublication? {
        // LPAS: the first format, without the coordinator's position.
        let current = bytes.count >= 8 && bytes[0..<4].elementsEqual("LPA2".utf8)
        guard current || (bytes.count >= 8 && bytes[0..<4].elementsEqual("LPAS".utf8)) else {
            throw AnalyticsCheckpointError(description: "not an analytics checkpoint")
        }
        let length = Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
        var json = 8 + length
        guard bytes.count >= json + (current ? 8 : 0) else { throw AnalyticsCheckpointError(description: "truncated analytics checkpoint") }
        try analytics.restore(Array(bytes[8..<8 + length]))
        if current {
            var emitted: UInt64 = 0
            for i in 0..<8 { emitted |= UInt64(bytes[json + i]) << (8 * UInt64(i)) }
            globalEmitted = Int64(bitPattern: emitted)
            json += 8
        }
        // Non-finite numbers are strings in it, as in every analytics JSON.
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let publication = try decoder.decode(AnalyticsPublication.self, from: Data(bytes[json...]))
        sequence = publication.sequence
        return publication.output.isEmpty ? nil : publication
    }
}

/// The `PartitionSink` face of `AnalyticsPartitionSink`.
final class AnalyticsPartitionSinkHandle: PartitionSink, @unchecked Sendable {
    // @unchecked: see `AnalyticsPartitionSink`.
    let sink: AnalyticsPartitionSink
    /// The live store, fed each batch's output at once.
    let store: AnalyticsStore?
    /// Receives each committed publication.
    let deliver: @Sendable (AnalyticsPublication) async -> Void
    /// When the partition last had records (monotonic), for idleness.
    var lastDataNanos = DispatchClock.nanos()
    /// The stream this partition carries, once seen.
    var stream: AnalyticsStream?
    /// Idleness closed windows not committed yet: ask for a commit, so the watermark
    /// that closed them is checkpointed with them.
    var idleOutputPending = false
    /// Combines whole-system windows across partitions, when given.
    let coordinator: GlobalWindowCoordinator?

    init(sink: AnalyticsPartitionSink, store: AnalyticsStore?, coordinator: GlobalWindowCoordinator?,
         deliver: @escaping @Sendable (AnalyticsPublication) async -> Void) {
        self.sink = sink
        self.store = store
        self.coordinator = coordinator
        self.deliver = deliver
        let restored = sink.analytics
        stream = restored.watermarkMicros(.logs) != nil ? .logs : restored.watermarkMicros(.activities) != nil ? .activities : nil
    }

    /// Hands the parts of whole-system windows this partition's watermark passed to the
    /// coordinator, and drops those it has emitted.
    func reportToCoordinator() async {
        guard let coordinator, let stream, let wm = sink.analytics.watermarkMicros(stream) else { return }
        let parts = sink.analytics.takeGlobalParts(stream)
        let emitted = await coordinator.report(sink.source, stream: stream, watermark: wm, parts: parts,
                                               knownEmitted: sink.globalEmitted)
        sink.globalEmitted = emitted
        sink.analytics.dropGlobalWindows(stream, upTo: emitted)
    }

    func consume(_ batch: StreamBatch) async throws {
        let output = try await sink.consume(batch.rows, arrivalMillis: batch.busTimestampsMillis)
        if batch.rows.count > 0 {
            lastDataNanos = DispatchClock.nanos()
            switch batch.rows {
            case .logs: stream = .logs
            case .activity: stream = .activities
            }
        }
        if let coordinator, store != nil, let stream, let open = sink.analytics.openGlobalParts(stream) {
            await coordinator.live(sink.source, stream: stream, parts: open)
        }
        await reportToCoordinator()
        AnalyticsGauges.update(sink.source, sink.analytics, batch.rows)
        guard let store else { return }
        var live = output
        // Open windows go to the live store only; the lake keeps final windows.
        if sink.analytics.configuration.outputMode == .append { live.append(sink.analytics.liveWindows()) }
        if !live.isEmpty { store.record(live) }
    }

    func idle(nowNanos: UInt64) async throws {
        let timeout = sink.analytics.configuration.idleTimeoutMicros
        guard timeout > 0, let stream, nowNanos &- lastDataNanos >= UInt64(timeout) * 1000 else {
            // A quiet partition still meets the other workers (its exchange object, merges).
            await reportToCoordinator()
            return
        }
        let output = sink.analytics.advance(stream, toEventTime: wallClockMicros())
        if !output.isEmpty {
            sink.pending.output.append(output)
            idleOutputPending = true
            store?.record(output)
        }
        // Also keeps an idle partition counted, at the clock, by the coordinator.
        await reportToCoordinator()
    }

    func commitDue(nowNanos: UInt64) -> Bool { idleOutputPending }

    func prepareCommit() async throws -> SinkCommit {
        idleOutputPending = false
        return try await sink.prepare()
    }

    func didCommit(_ record: CommitRecord) async {
        guard let publication = sink.inFlight else { return }
        sink.inFlight = nil
        if !publication.output.isEmpty { await deliver(publication) }
    }

    func abandon() async { await sink.abandon() }
}
