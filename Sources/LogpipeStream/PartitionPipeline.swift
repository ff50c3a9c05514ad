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
    /// Parse targets of a batch's two halves, reused batch after batch (emptied keeping
    /// capacity): once the sinks have consumed a batch nothing else holds its buffers, so
    /// no fresh memory is touched.
    private let logChunks = (head: ParseChunk<LogBatch>(), tail: ParseChunk<LogBatch>())
    private let activityChunks = (head: ParseChunk<ActivityBatch>(), tail: ParseChunk<ActivityBatch>())
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
            fetched = try await fetch(maxWaitMillis: maxWaitMillis)
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
        if last.offset + 1 < fetched.highWatermark { prefetch(from: last.offset + 1) }
        let batch = await parse(fetched)
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

    /// The next batch when more was waiting: read while this one is parsed and consumed,
    /// so the bus read and its checksums are off the partition's critical path. Only the
    /// fetch runs ahead: `position`, and so every commit, moves only with what the sinks
    /// consumed.
    private var prefetched: (from: Int64, task: Task<FetchedBatch, any Error>)?

    private func prefetch(from offset: Int64) {
        let (bus, source, maxBytes) = (bus, source, configuration.maxFetchBytes)
        prefetched = (offset, Task { try await bus.fetch(source, from: offset, maxBytes: maxBytes, maxWaitMillis: 0) })
    }

    /// The batch at `position`: the prefetched one if it starts there, else a fresh fetch.
    private func fetch(maxWaitMillis: Int) async throws -> FetchedBatch {
        if let ahead = prefetched {
            prefetched = nil
            if ahead.from == position { return try await ahead.task.value }
            ahead.task.cancel()
        }
        return try await bus.fetch(source, from: position, maxBytes: configuration.maxFetchBytes, maxWaitMillis: maxWaitMillis)
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

    /// Parses a fetched batch into column buffers. A large batch is split in two halves
    /// parsed at the same time (the second in a child task, so on the other core), then the
    /// second half's columns are appended to the first: parsing is most of a micro-batch's
    /// own work, and one partition often holds most of a backfill.
    private func parse(_ fetched: FetchedBatch) async -> (rows: StreamBatch.Rows, timestamps: [Int64], dead: Int) {
        switch kind {
        case .logs:
            let (rows, timestamps, dead) = await parseHalves(fetched, into: logChunks)
            return (.logs(rows), timestamps, dead)
        case .activities:
            let (rows, timestamps, dead) = await parseHalves(fetched, into: activityChunks)
            return (.activity(rows), timestamps, dead)
        }
    }

    /// Records from which a fetched batch is parsed in two halves at once (smaller ones are
    /// not worth a child task).
    static let parallelParseRecords = 2_048

    /// Parses the first half of `fetched` into `chunks.head` here and the second into
    /// `chunks.tail` concurrently, appends the tail to the head and returns the head's rows.
    private func parseHalves<Rows: ParsedRows>(_ fetched: FetchedBatch, into chunks: (head: ParseChunk<Rows>, tail: ParseChunk<Rows>)) async
        -> (rows: Rows, timestamps: [Int64], dead: Int) {
        let n = fetched.records.count
        let split = n >= Self.parallelParseRecords ? n / 2 : n
        let limits = configuration.limits
        let (head, tail) = chunks
        async let second: Void = split < n ? tail.parse(fetched, split..<n, limits: limits) : ()
        head.parse(fetched, 0..<split, limits: limits)
        await second
        if split < n {
            head.rows.append(contentsOf: tail.rows)
            head.timestamps += tail.timestamps
            head.failures += tail.failures
        }
        for (index, error) in head.failures { deadLetter(fetched.records[index], error) }
        return (head.rows, head.timestamps, head.failures.count)
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
        prefetched?.task.cancel()
        prefetched = nil
        for (_, sink) in sinks { await sink.abandon() }
    }
}

/// One half of a fetched batch being parsed: its reader, rows, the valid records' bus
/// timestamps and the failures by record index. A class, so the buffers have one owner
/// and are refilled in place.
final class ParseChunk<Rows: ParsedRows>: @unchecked Sendable {
    // @unchecked: a chunk is used by one task at a time: the partition's task, or the child
    // task it awaits before touching the chunk again.
    var reader = JSONBodyReader()
    var rows = Rows()
    var timestamps: [Int64] = []
    var failures: [(index: Int, error: RecordError)] = []

    /// Empties the chunk (keeping capacity) and parses records `range` of `fetched` into it.
    func parse(_ fetched: FetchedBatch, _ range: Range<Int>, limits: RecordLimits) {
        rows.removeAll(keepingCapacity: true)
        timestamps.removeAll(keepingCapacity: true)
        failures.removeAll()
        fetched.buffer.withUnsafeBytes { buffer in
            Rows.append(count: range.count, reader: &reader, to: &rows, limits: limits, message: { k in
                let value = fetched.records[range.lowerBound + k].value
                return UnsafeRawBufferPointer(rebasing: buffer[Int(value.lowerBound)..<Int(value.upperBound)])
            }, outcome: { k, error in
                let i = range.lowerBound + k
                if let error {
                    failures.append((i, error))
                } else {
                    timestamps.append(fetched.records[i].timestampMillis)
                }
            })
        }
    }
}

/// Column buffers a record parses into: both record kinds, so one parse path serves both.
protocol ParsedRows: Sendable {
    init()
    /// Appends `count` records' JSON (`message(i)`), calling `outcome` for each in order with
    /// its error if it does not parse.
    static func append(count: Int, reader: inout JSONBodyReader, to rows: inout Self, limits: RecordLimits,
                       message: (Int) -> UnsafeRawBufferPointer, outcome: (Int, RecordError?) -> Void)
    mutating func removeAll(keepingCapacity: Bool)
    mutating func append(contentsOf other: Self)
}

extension LogBatch: ParsedRows {
    static func append(count: Int, reader: inout JSONBodyReader, to rows: inout LogBatch, limits: RecordLimits,
                       message: (Int) -> UnsafeRawBufferPointer, outcome: (Int, RecordError?) -> Void) {
        reader.appendLogs(count: count, limits: limits, to: &rows, message: message, outcome: outcome)
    }
}

extension ActivityBatch: ParsedRows {
    static func append(count: Int, reader: inout JSONBodyReader, to rows: inout ActivityBatch, limits: RecordLimits,
                       message: (Int) -> UnsafeRawBufferPointer, outcome: (Int, RecordError?) -> Void) {
        reader.appendActivities(count: count, limits: limits, to: &rows, message: message, outcome: outcome)
    }
}
