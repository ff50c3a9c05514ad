import Foundation
import LogpipeLake
import LogpipeRecords

/// What a stream worker reads and how it runs micro-batches.
public struct StreamConfiguration: Sendable {
    /// When micro-batches run.
    public enum Trigger: Sendable, Equatable {
        /// Back to back, as fast as data comes: a batch starts as soon as records are there
        /// (waiting up to `idleWaitMillis` on an idle partition).
        case continuous
        /// One micro-batch round every `seconds`: each round reads everything available then
        /// sleeps until the next tick (a round that falls behind starts the next at once).
        case interval(seconds: Double)
    }

    /// A source topic.
    public struct Source: Sendable, Equatable {
        /// The topic.
        public var topic: String
        /// Its records.
        public var kind: RecordKind
        /// Partitions to create the topic with when it does not exist yet.
        public var partitionsIfCreated: Int32

        /// A source.
        public init(topic: String, kind: RecordKind, partitionsIfCreated: Int32 = 3) {
            self.topic = topic
            self.kind = kind
            self.partitionsIfCreated = partitionsIfCreated
        }
    }

    /// The topics read: `logs.raw` and `events.activity` by default.
    public var sources: [Source]
    /// The micro-batch trigger.
    public var trigger: Trigger
    /// The most bytes one fetch (one micro-batch of one partition) reads.
    public var maxFetchBytes: Int
    /// How long a fetch waits on a partition with no new records.
    public var idleWaitMillis: Int
    /// How the raw sink rolls and encodes files.
    public var raw: RawLakeSink.Options
    /// Whether the raw sink runs (off leaves only extra sinks, e.g. analytics alone).
    public var rawSinkEnabled: Bool
    /// Compaction of closed hours' small files (`nil`: off).
    public var compaction: LakeCompactor.Options?
    /// The consumer group whose bus offsets mirror lake commits (for lag visibility only:
    /// the lake's commit log is the source of truth).
    public var group: String
    /// This worker's identity in commit records.
    public var workerId: String
    /// Commit records kept per partition.
    public var retainedCommits: Int
    /// Limits applied when parsing records.
    public var limits: RecordLimits
    /// Dead letters logged in full per partition before only counting (the rest are counted).
    public var deadLettersLogged: Int
    /// On a graceful shutdown, how long each partition may keep reading to the bus's end before it commits and stops.
    public var drainSeconds: Double

    /// A configuration with the seed's topics and Logpipe's defaults.
    public init(
        sources: [Source] = [Source(topic: RecordKind.logs.topic, kind: .logs), Source(topic: RecordKind.activities.topic, kind: .activities)],
        trigger: Trigger = .continuous,
        maxFetchBytes: Int = 8 << 20,
        idleWaitMillis: Int = 200,
        raw: RawLakeSink.Options = RawLakeSink.Options(),
        rawSinkEnabled: Bool = true,
        compaction: LakeCompactor.Options? = LakeCompactor.Options(),
        group: String = "logpipe-stream",
        workerId: String = StreamConfiguration.defaultWorkerId(),
        retainedCommits: Int = 10,
        limits: RecordLimits = RecordLimits(),
        deadLettersLogged: Int = 20,
        drainSeconds: Double = 10
    ) {
        self.drainSeconds = max(0, drainSeconds)
        self.sources = sources
        self.trigger = trigger
        self.maxFetchBytes = max(1024, maxFetchBytes)
        self.idleWaitMillis = max(1, idleWaitMillis)
        self.raw = raw
        self.rawSinkEnabled = rawSinkEnabled
        self.compaction = compaction
        self.group = group
        self.workerId = workerId
        self.retainedCommits = retainedCommits
        self.limits = limits
        self.deadLettersLogged = deadLettersLogged
    }

    /// `host-pid-random`: unique per process, readable in commit records.
    public static func defaultWorkerId() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
        return "\(host)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    func kind(of topic: String) -> RecordKind? { sources.first { $0.topic == topic }?.kind }
}
