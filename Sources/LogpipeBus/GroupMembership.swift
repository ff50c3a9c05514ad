/// Group membership for scale-out: which partitions of a consumer group's
/// topics one worker owns, and when that changes.
///
/// Membership only says *who owns what*; records still flow through
/// `Bus.fetch(_:from:...)`. On every assignment the stream engine reads each
/// newly owned partition's next offset from the lake's commit log (the source
/// of truth for exactly-once) and fetches from there, so no offset needs to be
/// handed to the membership source and Kafka's committed offsets never decide
/// where reading starts. `GroupMember.commit` then publishes progress to the
/// bus after the lake commit that covers it, for lag visibility.
///
/// Ownership is advisory: a worker that has not yet seen a revocation may still
/// finish a batch for a partition that has moved. The lake's per-partition
/// commit log fences that (the older owner's next commit fails), which is what
/// keeps the lake exactly-once.

/// The complete set of partitions one group member owns after a (re)assignment.
public struct PartitionAssignment: Sendable, Equatable, CustomStringConvertible {
    /// Counts the assignments this member has seen, from 1.
    public var generation: Int
    /// Owned partitions, sorted by topic, then partition.
    public var partitions: [TopicPartition]

    /// An assignment; `partitions` is sorted here.
    public init(generation: Int, partitions: some Sequence<TopicPartition>) {
        self.generation = generation
        self.partitions = partitions.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    public var description: String { "#\(generation) [\(partitions.map(\.description).joined(separator: ", "))]" }
}

/// One worker's membership in a consumer group.
public protocol GroupMember: Sendable {
    /// One element per (re)assignment, each the complete set this member owns
    /// from then on (possibly empty when the group has more members than
    /// partitions). The first element arrives once the member has joined. The
    /// sequence finishes after `leave()` and throws if membership fails.
    /// It has a single consumer.
    var assignments: AsyncThrowingStream<PartitionAssignment, any Error> { get }
    /// Publishes the group's next offsets to read, for lag visibility; call it
    /// only after the lake commit that covers them.
    func commit(_ offsets: [TopicPartition: Int64]) async throws
    /// Leaves the group so the remaining members take over its partitions.
    func leave() async throws
}

/// Joins consumer groups. The stream engine holds one and calls `join` once per worker.
public protocol PartitionAssignmentSource: Sendable {
    /// Joins `group` as a new member consuming `topics`.
    func join(group: String, topics: [String]) async throws -> any GroupMember
}

/// Membership on a bus with one worker, such as the embedded `LocalBus`: the
/// only member owns every partition of its topics, and commits go straight to
/// the bus's group offsets.
public struct SingleMemberAssignmentSource: PartitionAssignmentSource {
    private let bus: any Bus

    /// A source whose members read `bus`.
    public init(bus: any Bus) {
        self.bus = bus
    }

    /// Joins at once with every partition of `topics`; throws `BusError.unknownTopic` for a missing topic.
    public func join(group: String, topics: [String]) async throws -> any GroupMember {
        var partitions: [TopicPartition] = []
        for topic in topics {
            let count = try await bus.partitionCount(topic: topic)
            for p in 0..<count { partitions.append(TopicPartition(topic: topic, partition: p)) }
        }
        return SingleMember(bus: bus, group: group, assignment: PartitionAssignment(generation: 1, partitions: partitions))
    }
}

/// The one member of a single-member group.
private struct SingleMember: GroupMember {
    let bus: any Bus
    let group: String
    let assignments: AsyncThrowingStream<PartitionAssignment, any Error>
    private let continuation: AsyncThrowingStream<PartitionAssignment, any Error>.Continuation

    init(bus: any Bus, group: String, assignment: PartitionAssignment) {
        self.bus = bus
        self.group = group
        let (stream, continuation) = AsyncThrowingStream<PartitionAssignment, any Error>.makeStream()
        continuation.yield(assignment)
        self.assignments = stream
        self.continuation = continuation
    }

    func commit(_ offsets: [TopicPartition: Int64]) async throws {
        try await bus.commit(group: group, offsets: offsets)
    }

    func leave() async throws {
        continuation.finish()
    }
}
