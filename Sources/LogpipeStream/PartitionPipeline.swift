import Foundation
import Logging
import LogpipeBus
import LogpipeLake
import LogpipeRecords
import Metrics

/// One owned source partition: its commit log, its position, its partition sinks.
/// Driven by one task; micro-batch by micro-batch it fetches, parses once, hands the
/// batch to every sink and commits when a sink asks (or on stop).
final class PartitionPipeline {
    let source: TopicPartition
    let kind: RecordKind
    let bus: any Bus
    let configuration: StreamConfiguration
    let logger: Logger
    let statistics: StreamStatisticsBox
    /// Publishes committed offsets to the bus or the group (for lag only).
    let publish: @Sendable ([TopicPartition: Int64]) async throws -> Void
    private(set) var log: PartitionCommitLog
    private var sinks: [(name: String, sink: any PartitionSink)]
    /// The next offset to read.
    private(set) var position: Int64
    private var reader = JSONBodyReader()
    /// Parse targets reused batch after batch (emptied keeping capacity): once the sinks
    /// have consumed a batch nothing else holds its buffers, so no fresh memory is touched.
    private var logRows = LogBatch()
    private var activityRows = ActivityBatch()
    private var busTimestamps: [Int64] = []
    private var lastCommitNanos = DispatchClock.nanos()
    private var deadLettersLogged = 0
    private let recordsCounter: Counter
    private let deadLetterCounter: Counter
    private let lagGauge: Gauge
    private let batchTimer: Metrics.Timer
    private let commitTimer: Metrics.Timer
    private let commitCounter: Counter
    private let lastCommitGauge: Gauge
    private let filesWritten: Counter
    private let bytesWritten: Counter

    private init(source: TopicPartition, kind: RecordKind, bus: any Bus,
                 configuration: StreamConfiguration, logger: Logger, statistics: StreamStatisticsBox,
                 publish: @escaping @Sendable ([TopicPartition: Int64]) async throws -> Void, log: PartitionCommitLog, sinks: [(name: String, sink: any PartitionSink)], position: Int64) {
        self.source = source
        self.kind = kind
        self.bus = bus
        self.configuration = configuration
        self.logger = logger
        self.statistics = statistics
        self.publish = publish
        self.log = log
        self.sinks = sinks
        self.position = position
        let dimensions = [("topic", source.topic), ("partition", String(source.partition))]
        recordsCounter = Counter(label: "logpipe_stream_records_total", dimensions: dimensions)
        deadLetterCounter = Counter(label: "logpipe_stream_dead_letters_total", dimensions: dimensions)
        lagGauge = Gauge(label: "logpipe_stream_lag_records", dimensions: dimensions)
        batchTimer = Metrics.Timer(label: "logpipe_stream_batch_seconds", dimensions: [("topic", source.topic)])
        commitTimer = Metrics.Timer(label: "logpipe_stream_commit_seconds", dimensions: [("topic", source.topic)])
        commitCounter = Counter(label: "logpipe_stream_commits_total", dimensions: dimensions)
        lastCommitGauge = Gauge(label: "logpipe_stream_last_commit_timestamp_seconds", dimensions: dimensions)
        filesWritten = Counter(label: "logpipe_lake_files_written_total", dimensions: [("topic", source.topic)])
        bytesWritten = Counter(label: "logpipe_lake_bytes_written_total", dimensions: [("topic", source.topic)])
    }

    /// Takes the partition: recovers its commit log (finishing renames, claiming it, removing
    /// unreferenced staging files) and opens every sink from its checkpoint.
    static func open(source: TopicPartition, kind: RecordKind, bus: any Bus, store: any FileStore,
                     sinks: [any StreamSink], configuration: StreamConfiguration, logger: Logger,
                     statistics: StreamStatisticsBox,
                     publish: @escaping @Sendable ([TopicPartition: Int64]) async throws -> Void) async throws -> PartitionPipeline {
        let log = try await PartitionCommitLog.open(
            store: store, topic: source.topic, partition: source.partition, owner: configuration.workerId,
            retainedRecords: configuration.retainedCommits, logger: logger)
        var position = log.nextOffset ?? 0
        if position == 0, let info = try await bus.topics().first(where: { $0.name == source.topic })?
            .partitions.first(where: { $0.partition == source.partition }) {
            // A partition never committed starts at the oldest record the bus still keeps.
            position = info.lowWatermark
        }
        let stagingDirectory = log.stagingDirectory
        var opened: [(name: String, sink: any PartitionSink)] = []
        do {
            for sink in sinks {
                let context = SinkPartitionContext(
                    source: source, store: store, checkpoint: log.state(of: sink.name), resumeOffset: position,
                    stagingPath: { id, ext in "\(stagingDirectory)/\(id).\(ext)" })
                opened.append((sink.name, try await sink.openPartition(context)))
            }
        } catch {
            for (_, s) in opened { await s.abandon() }
            throw error
        }
        logger.info("partition opened", metadata: [
            "partition": "\(source)", "resumeOffset": "\(position)", "commit": "\(log.last?.sequence ?? 0)"])
        return PartitionPipeline(source: source, kind: kind, bus: bus, configuration: configuration, logger: logger,
                                 statistics: statistics, publish: publish, log: log, sinks: opened, position: position)
    }

    /// The outcome of one micro-batch.
    struct Step {
        /// Records fetched (valid and dead letters).
        var records: Int
        /// The partition's end when fetched.
        var highWatermark: Int64
    }

    /// Runs one micro-batch: fetch from `position`, parse, hand to every sink.
    func step(maxWaitMillis: Int) async throws -> Step {
        let fetched: FetchedBatch
        do {
            fetched = try await bus.fetch(source, from: position, maxBytes: configuration.maxFetchBytes,
                                          maxWaitMillis: maxWaitMillis)
        } catch BusError.offsetOutOfRange(_, let requested, let low, let high) where requested < low {
            logger.error("records deleted by bus retention before they were committed to the lake", metadata: [
                "partition": "\(source)", "from": "\(requested)", "to": "\(low)", "high": "\(high)"])
            statistics.add(lostToRetention: low - requested)
            position = low
            return Step(records: 0, highWatermark: high)
        }
        guard let last = fetched.records.last else {
            let now = DispatchClock.nanos()
            for (_, sink) in sinks { try await sink.idle(nowNanos: now) }
            return Step(records: 0, highWatermark: fetched.highWatermark)
        }
        let start = position
        // Timed from the fetch's answer: a fetch may wait for records to arrive.
        let started = DispatchClock.nanos()
        let batch = parse(fetched)
        position = last.offset + 1
        let streamBatch = StreamBatch(source: source, offsets: start..<position, rows: batch.rows,
                                      busTimestampsMillis: batch.timestamps, deadLetters: batch.dead)
        try await consume(streamBatch)
        recordsCounter.increment(by: batch.rows.count)
        if batch.dead > 0 { deadLetterCounter.increment(by: batch.dead) }
        statistics.add(records: batch.rows.count, deadLetters: batch.dead)
        // Only batches with records move it: an empty fetch means the partition is caught up.
        lagGauge.record(max(0, fetched.highWatermark - position))
        batchTimer.recordNanoseconds(Int64(DispatchClock.nanos() &- started))
        return Step(records: fetched.records.count, highWatermark: fetched.highWatermark)
    }

    /// Hands the batch to every sink at once: the raw lake's Parquet encoding and the
    /// analytics each take a core, so a partition far larger than the others (the tail of a
    /// backfill) no longer runs on one. Each sink still sees one batch at a time, in order.
    private func consume(_ batch: StreamBatch) async throws {
        guard sinks.count > 1 else {
            for (_, sink) in sinks { try await sink.consume(batch) }
            return
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (_, sink) in sinks { group.addTask { try await sink.consume(batch) } }
            try await group.waitForAll()
        }
    }

    private func parse(_ fetched: FetchedBatch) -> (rows: StreamBatch.Rows, timestamps: [Int64], dead: Int) {
        var timestamps = busTimestamps
        busTimestamps = []
        timestamps.removeAll(keepingCapacity: true)
        defer { busTimestamps = timestamps }
        var dead = 0
        let limits = configuration.limits
        switch kind {
        case .logs:
            var batch = logRows
            logRows = LogBatch()
            batch.removeAll(keepingCapacity: true)
            defer { logRows = batch }
            fetched.buffer.withUnsafeBytes { buffer in
                for record in fetched.records {
                    let json = UnsafeRawBufferPointer(rebasing: buffer[Int(record.value.lowerBound)..<Int(record.value.upperBound)])
                    if let error = reader.appendLog(json: json, to: &batch, limits: limits) {
                        dead += 1
                        deadLetter(record, error)
                    } else {
                        timestamps.append(record.timestampMillis)
                    }
                }
            }
            return (.logs(batch), timestamps, dead)
        case .activities:
            var batch = activityRows
            activityRows = ActivityBatch()
            batch.removeAll(keepingCapacity: true)
            defer { activityRows = batch }
            fetched.buffer.withUnsafeBytes { buffer in
                for record in fetched.records {
                    let json = UnsafeRawBufferPointer(rebasing: buffer[Int(record.value.lowerBound)..<Int(record.value.upperBound)])
                    if let error = reader.appendActivity(json: json, to: &batch, limits: limits) {
                        dead += 1
                        deadLetter(record, error)
                    } else {
                        timestamps.append(record.timestampMillis)
                    }
                }
            }
            return (.activity(batch), timestamps, dead)
        }
    }

    private func deadLetter(_ record: FetchedBatch.Record, _ error: RecordError) {
        guard deadLettersLogged < configuration.deadLettersLogged else { return }
        deadLettersLogged += 1
        logger.warning("dead letter: record does not parse", metadata: [
            "partition": "\(source)", "offset": "\(record.offset)", "field": "\(error.field)",
            "error": "\(error.message)",
            "suppressed": "\(deadLettersLogged == configuration.deadLettersLogged ? "further dead letters are only counted" : "no")"])
    }

    /// Whether a commit is due: a sink asks for one, or offsets advanced without any sink
    /// holding data (dead letters only) for longer than the roll age.
    func commitDue(nowNanos: UInt64) -> Bool {
        for (_, sink) in sinks where sink.commitDue(nowNanos: nowNanos) { return true }
        return position != (log.nextOffset ?? 0)
            && nowNanos &- lastCommitNanos >= UInt64(configuration.raw.rollAgeSeconds * 1e9)
    }

    /// Whether anything is consumed but not committed.
    var hasUncommitted: Bool { position != (log.nextOffset ?? 0) }

    /// Commits everything consumed so far: sinks finish their files and snapshot state,
    /// then one commit record makes files, offset and state durable together.
    func commit() async throws {
        let started = DispatchClock.nanos()
        var files: [CommittedFile] = []
        var states: [String: Data] = [:]
        for (name, sink) in sinks {
            let part = try await sink.prepareCommit()
            files += part.files
            if let state = part.state { states[name] = state }
        }
        let record = try await log.commit(files: files, nextOffset: position, states: states)
        lastCommitNanos = DispatchClock.nanos()
        let bytes = files.reduce(0) { $0 + $1.bytes }
        statistics.add(commits: 1, files: files.count, bytes: bytes)
        commitTimer.recordNanoseconds(Int64(lastCommitNanos &- started))
        commitCounter.increment()
        lastCommitGauge.record(Date().timeIntervalSince1970)
        if !files.isEmpty {
            filesWritten.increment(by: files.count)
            bytesWritten.increment(by: Int(bytes))
        }
        for (_, sink) in sinks { await sink.didCommit(record) }
        do {
            try await publish([source: position])
        } catch {
            logger.warning("bus offset commit failed (the lake's commit stands)", metadata: [
                "partition": "\(source)", "error": "\(error)"])
        }
    }

    /// Drops uncommitted work of every sink.
    func abandon() async {
        for (_, sink) in sinks { await sink.abandon() }
    }
}
