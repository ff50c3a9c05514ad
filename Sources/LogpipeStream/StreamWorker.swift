import Foundation
import Logging
import LogpipeBus
import LogpipeLake
import ServiceLifecycle
import Synchronization

/// Totals of a worker since it started.
public struct StreamStatistics: Sendable, Equatable {
    /// Valid records handed to the sinks.
    public var records: Int64 = 0
    /// Records that failed to parse (counted, logged, skipped).
    public var deadLetters: Int64 = 0
    /// Commits written.
    public var commits: Int64 = 0
    /// Data files committed.
    public var files: Int64 = 0
    /// Bytes of data files committed.
    public var bytes: Int64 = 0
    /// Records the bus deleted (retention) before the stream read them.
    public var lostToRetention: Int64 = 0

    /// Empty totals.
    public init() {}

    /// The totals as log fields (`records=… dead_letters=…`), for a stop line a user reads
    /// and a log search can filter on.
    public var logMetadata: Logger.Metadata {
        ["records": "\(records)", "dead_letters": "\(deadLetters)", "commits": "\(commits)",
         "files": "\(files)", "bytes": "\(bytes)", "lost_to_retention": "\(lostToRetention)"]
    }
}

/// Thread-safe totals shared by a worker's partition tasks.
final class StreamStatisticsBox: Sendable {
    private let totals = Mutex(StreamStatistics())

    var value: StreamStatistics { totals.withLock { $0 } }

    func add(records: Int = 0, deadLetters: Int = 0) {
        totals.withLock {
            $0.records += Int64(records)
            $0.deadLetters += Int64(deadLetters)
        }
    }

    func add(commits: Int, files: Int, bytes: Int64) {
        totals.withLock {
            $0.commits += Int64(commits)
            $0.files += Int64(files)
            $0.bytes += bytes
        }
    }

    func add(lostToRetention: Int64) {
        totals.withLock { $0.lostToRetention += lostToRetention }
    }
}

/// The stop flag and completion of one partition's task.
final class PartitionControl: Sendable {
    private struct State {
        var stop = false
        var drain = false
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    var stopRequested: Bool { state.withLock { $0.stop } }

    /// Whether the stop is the worker's shutdown, which first reads on to the bus's end (see `drain`).
    var drainRequested: Bool { state.withLock { $0.drain } }

    /// Stops the partition; `drain` (a shutdown, not a reassignment) first reads what the bus holds now.
    func requestStop(drain: Bool = false) {
        state.withLock {
            $0.stop = true
            $0.drain = $0.drain || drain
        }
    }

    func markFinished() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.finished = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    func waitFinished() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                if s.finished { return true }
                s.waiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }
}

/// A stream worker: reads the partitions it owns from the bus in micro-batches, parses
/// each batch once and hands it to every sink (the raw lake sink, plus any given), and
/// commits each partition exactly once into the lake.
///
/// By default a worker owns every partition of its source topics. `assign(_:)` gives it
/// an explicit set instead (a consumer group's assignment), and may be called again at any
/// time: partitions taken away commit what they hold and stop; new ones recover from
/// their commit log and start. Several workers, each with its own partitions, can share
/// one lake: commit logs are per partition.
///
/// Run it as a swift-service-lifecycle `Service` (`run()`); a graceful shutdown (or
/// cancellation) commits what is open and returns.
public final class StreamWorker: Service, Sendable {
    /// The bus read from.
    public let bus: any Bus
    /// The lake written to.
    public let store: any FileStore
    /// The configuration.
    public let configuration: StreamConfiguration
    /// Every sink, the raw sink first when enabled.
    public let sinks: [any StreamSink]
    let logger: Logger
    let statisticsBox = StreamStatisticsBox()

    private struct Control {
        /// `nil`: every partition of the source topics.
        var assignment: Set<TopicPartition>?
        var stop = false
        var running: Set<TopicPartition> = []
    }

    private let control = Mutex(Control())
    private let wake: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>

    /// Where assignments come from when the worker is one member of a group (Kafka);
    /// `nil`: assignments come from `assign(_:)`, or every partition by default.
    public let membership: (any PartitionAssignmentSource)?
    private let member = Mutex<(any GroupMember)?>(nil)

    /// A worker over `bus` and the lake in `store`. `extraSinks` (for example the analytics)
    /// receive the same batches as the raw sink and commit with it. With `membership`, the
    /// worker joins `configuration.group` in `run()` and owns what the group assigns it,
    /// publishing progress through the member after each lake commit.
    public init(bus: any Bus, store: any FileStore, configuration: StreamConfiguration = StreamConfiguration(),
                extraSinks: [any StreamSink] = [], membership: (any PartitionAssignmentSource)? = nil,
                logger: Logger = Logger(label: "logpipe.stream")) {
        self.bus = bus
        self.membership = membership
        self.store = store
        self.configuration = configuration
        var sinks: [any StreamSink] = configuration.rawSinkEnabled ? [RawLakeSink(options: configuration.raw)] : []
        sinks += extraSinks
        self.sinks = sinks
        self.logger = logger
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Totals since the worker started.
    public var statistics: StreamStatistics { statisticsBox.value }

    /// The partitions with a running task right now.
    public var runningPartitions: Set<TopicPartition> { control.withLock { $0.running } }

    /// Owns exactly `partitions` from now on (a group assignment).
    public func assign(_ partitions: Set<TopicPartition>) {
        control.withLock { $0.assignment = partitions }
        wake.yield()
    }

    /// Owns every partition of the source topics (the default).
    public func assignAll() {
        control.withLock { $0.assignment = nil }
        wake.yield()
    }

    /// Asks `run()` to commit what is open and return.
    public func requestStop() {
        control.withLock { $0.stop = true }
        wake.yield()
    }

    /// Runs until a graceful shutdown, cancellation or `requestStop()`, then commits what
    /// is open and returns.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await runLoop()
            } onCancel: {
                requestStop()
            }
        } onGracefulShutdown: {
            self.requestStop()
        }
    }

    /// Every partition of the source topics, creating missing topics.
    public func sourcePartitions() async throws -> [TopicPartition] {
        var known = try await bus.topics()
        for source in configuration.sources where !known.contains(where: { $0.name == source.topic }) {
            try await bus.createTopic(TopicSpec(name: source.topic, partitions: source.partitionsIfCreated))
            known = try await bus.topics()
        }
        var out: [TopicPartition] = []
        for source in configuration.sources {
            let count = try await bus.partitionCount(topic: source.topic)
            for p in 0..<count { out.append(TopicPartition(topic: source.topic, partition: p)) }
        }
        return out
    }

    /// Publishes a partition's committed offset to the group (lag visibility only).
    func publish(_ offsets: [TopicPartition: Int64]) async throws {
        if let member = member.withLock({ $0 }) {
            try await member.commit(offsets)
        } else {
            try await bus.commit(group: configuration.group, offsets: offsets)
        }
    }

    private func runLoop() async throws {
        let all = Set(try await sourcePartitions())
        var joined: (any GroupMember)?
        if let membership {
            // Own nothing until the group says otherwise.
            control.withLock { $0.assignment = [] }
            let m = try await membership.join(group: configuration.group, topics: configuration.sources.map(\.topic))
            member.withLock { $0 = m }
            joined = m
        }
        wake.yield()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var controls: [TopicPartition: PartitionControl] = [:]
            if let joined {
                group.addTask {
                    do {
                        for try await assignment in joined.assignments {
                            self.logger.info("assignment", metadata: ["assignment": "\(assignment)"])
                            self.assign(Set(assignment.partitions))
                        }
                    } catch {
                        self.logger.error("group membership failed; stopping", metadata: ["error": "\(error)"])
                        self.requestStop()
                        throw error
                    }
                }
            }
            if let compaction = configuration.compaction {
                group.addTask { await self.runCompaction(compaction) }
            }
            for await _ in wakeups {
                let (desired, stop) = control.withLock { ($0.assignment ?? all, $0.stop) }
                if stop { break }
                for tp in desired.sorted(by: { $0.description < $1.description }) where controls[tp] == nil {
                    let c = PartitionControl()
                    controls[tp] = c
                    group.addTask { await self.runPartition(tp, control: c) }
                }
                for (tp, c) in controls where !desired.contains(tp) {
                    c.requestStop()
                    controls[tp] = nil
                    // Should the partition come back, its next task waits for this one to finish.
                    retiring.withLock { $0[tp] = c }
                }
            }
            for c in controls.values { c.requestStop(drain: true) }
            // Leave only once every partition has committed, so the next owner starts from there.
            for c in controls.values { await c.waitFinished() }
            for c in retiring.withLock({ Array($0.values) }) { await c.waitFinished() }
            for sink in sinks { await sink.finish() }
            if let joined { try await joined.leave() }
            try await group.waitForAll()
        }
        logger.info("stream worker stopped", metadata: statistics.logMetadata)
    }

    private let retiring = Mutex<[TopicPartition: PartitionControl]>([:])

    private func runPartition(_ tp: TopicPartition, control c: PartitionControl) async {
        if let previous = retiring.withLock({ $0.removeValue(forKey: tp) }) { await previous.waitFinished() }
        control.withLock { _ = $0.running.insert(tp) }
        defer {
            control.withLock { _ = $0.running.remove(tp) }
            retiring.withLock { if $0[tp] === c { $0[tp] = nil } }
            c.markFinished()
        }
        guard let kind = configuration.kind(of: tp.topic) else {
            logger.error("assigned partition of a topic this worker does not read", metadata: ["partition": "\(tp)"])
            return
        }
        var backoffSeconds = 0.5
        while !c.stopRequested {
            var pipeline: PartitionPipeline?
            do {
                let p = try await PartitionPipeline.open(
                    source: tp, kind: kind, bus: bus, store: store, sinks: sinks, configuration: configuration,
                    logger: logger, statistics: statisticsBox,
                    publish: { [self] in try await publish($0) })
                pipeline = p
                try await drive(p, control: c)
                return
            } catch let error as CommitLogError {
                await pipeline?.abandon()
                if case .fenced = error {
                    logger.warning("partition taken by another worker; dropping it", metadata: [
                        "partition": "\(tp)", "error": "\(error)"])
                    return
                }
                logger.error("partition failed; reopening from its last commit", metadata: [
                    "partition": "\(tp)", "error": "\(error)"])
            } catch {
                await pipeline?.abandon()
                logger.error("partition failed; reopening from its last commit", metadata: [
                    "partition": "\(tp)", "error": "\(error)"])
            }
            let deadline = DispatchClock.nanos() + UInt64(backoffSeconds * 1e9)
            while !c.stopRequested && DispatchClock.nanos() < deadline {
                try? await Task.sleep(nanoseconds: 50_000_000)
            }
            backoffSeconds = min(backoffSeconds * 2, 30)
        }
    }

    /// Micro-batches until asked to stop, then commits what is open.
    private func drive(_ p: PartitionPipeline, control c: PartitionControl) async throws {
        while true {
            if c.stopRequested {
                if c.drainRequested { try await drain(p) }
                if p.hasUncommitted { try await p.commit() }
                return
            }
            let tickStart = DispatchClock.nanos()
            switch configuration.trigger {
            case .continuous:
                _ = try await p.step(maxWaitMillis: configuration.idleWaitMillis)
            case .interval:
                // A round reads everything available now (in fetch-sized micro-batches).
                while !c.stopRequested {
                    let step = try await p.step(maxWaitMillis: 0)
                    if step.records == 0 || p.position >= step.highWatermark { break }
                    if p.commitDue(nowNanos: DispatchClock.nanos()) { try await p.commit() }
                }
            }
            if p.commitDue(nowNanos: DispatchClock.nanos()) { try await p.commit() }
            if case .interval(let seconds) = configuration.trigger {
                let next = tickStart + UInt64(max(0, seconds) * 1e9)
                while !c.stopRequested, DispatchClock.nanos() < next {
                    try? await Task.sleep(nanoseconds: min(50_000_000, next &- DispatchClock.nanos()))
                }
            }
        }
    }

    /// On a graceful shutdown, reads on to the end the bus has now (for at most
    /// `drainSeconds`), so what the collector acknowledged before it stopped reaches the
    /// lake in this run rather than the next one. A partition that moves to another worker
    /// stops at once instead: its new owner reads on.
    private func drain(_ p: PartitionPipeline) async throws {
        let deadline = DispatchClock.nanos() + UInt64(configuration.drainSeconds * 1e9)
        while DispatchClock.nanos() < deadline {
            let step = try await p.step(maxWaitMillis: 0)
            if step.records == 0 || p.position >= step.highWatermark { return }
            if p.commitDue(nowNanos: DispatchClock.nanos()) { try await p.commit() }
        }
        logger.warning("shutdown stopped reading before the end of the bus; the rest is read on the next start", metadata: [
            "partition": "\(p.source)"])
    }

    /// Reads every owned partition up to the end it has now, commits, and returns the
    /// totals: a bounded run for tests, benchmarks and backfills (`logpipe stream --once`).
    @discardableResult
    public func runUntilCaughtUp() async throws -> StreamStatistics {
        let all = try await sourcePartitions()
        let owned = control.withLock { $0.assignment } ?? Set(all)
        var targets: [TopicPartition: Int64] = [:]
        for topic in try await bus.topics() {
            for info in topic.partitions {
                let tp = TopicPartition(topic: topic.name, partition: info.partition)
                if owned.contains(tp) { targets[tp] = info.highWatermark }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (tp, target) in targets {
                guard let kind = configuration.kind(of: tp.topic) else { continue }
                group.addTask {
                    let p = try await PartitionPipeline.open(
                        source: tp, kind: kind, bus: self.bus, store: self.store, sinks: self.sinks,
                        configuration: self.configuration, logger: self.logger, statistics: self.statisticsBox,
                        publish: { try await self.publish($0) })
                    do {
                        while p.position < target {
                            let step = try await p.step(maxWaitMillis: 0)
                            if p.commitDue(nowNanos: DispatchClock.nanos()) { try await p.commit() }
                            if step.records == 0 && p.position < target { try await Task.sleep(nanoseconds: 1_000_000) }
                        }
                        if p.hasUncommitted { try await p.commit() }
                    } catch {
                        await p.abandon()
                        throw error
                    }
                }
            }
            try await group.waitForAll()
        }
        for sink in sinks { await sink.finish() }
        if let compaction = configuration.compaction {
            try await LakeCompactor(store: store, options: compaction, logger: logger).compactClosedHours()
        }
        return statistics
    }

    /// Compacts closed hours now and then, if this worker owns partition 0 of a source
    /// topic (so exactly one worker of a group compacts each dataset).
    private func runCompaction(_ options: LakeCompactor.Options) async {
        let compactor = LakeCompactor(store: store, options: options, logger: logger)
        var next = DispatchClock.nanos() + UInt64(options.checkIntervalSeconds * 1e9)
        while !control.withLock({ $0.stop }) && !Task.isCancelled {
            if DispatchClock.nanos() < next {
                try? await Task.sleep(nanoseconds: 100_000_000)
                continue
            }
            next = DispatchClock.nanos() + UInt64(options.checkIntervalSeconds * 1e9)
            let running = runningPartitions
            let datasets = configuration.sources.filter {
                running.contains(TopicPartition(topic: $0.topic, partition: 0))
            }.map { $0.kind == .logs ? LakeDataset.logs : LakeDataset.activity }
            guard !datasets.isEmpty else { continue }
            do {
                try await compactor.compactClosedHours(datasets: datasets)
            } catch {
                logger.error("compaction failed; will retry", metadata: ["error": "\(error)"])
            }
        }
    }
}
