#if Kafka
import CRdKafka
import Foundation
import Logging
import LogpipeBus
import Synchronization

/// Kafka consumer-group membership for scale-out stream workers.
///
/// Each member is a librdkafka consumer subscribed to the group's topics with
/// the cooperative-sticky assignor, so a rebalance moves only the partitions
/// that must move. The member only *owns* partitions: it pauses every
/// partition it is given and never reads records, because the stream engine
/// reads through `Bus.fetch` from the offsets in the lake's commit log.
/// Its `commit` goes through the member itself, since Kafka refuses commits
/// without the current generation while a group has members.
public struct KafkaAssignmentSource: PartitionAssignmentSource {
    /// The cluster and librdkafka properties (as for `KafkaBus`).
    public let configuration: KafkaBusConfiguration
    /// How long the coordinator waits for a silent member before moving its
    /// partitions; a join takes about half of it.
    public let sessionTimeoutMillis: Int
    private let logger: Logger

    /// A source for members of groups on the cluster `configuration` names.
    public init(configuration: KafkaBusConfiguration, sessionTimeoutMillis: Int = 10_000, logger: Logger = Logger(label: "logpipe.kafka.group")) {
        self.configuration = configuration
        self.sessionTimeoutMillis = sessionTimeoutMillis
        self.logger = logger
    }

    /// Subscribes a new member; its first assignment arrives once the group has rebalanced.
    /// Throws `BusError.unknownTopic` when a topic does not exist.
    public func join(group: String, topics: [String]) async throws -> any GroupMember {
        let state = MembershipState()
        let context = ClientContext(logger: logger, name: "member of \(group)") { rk, err, partitions in
            state.rebalance(rk, err, partitions)
        }
        let client = try RDKafkaClient(
            type: RD_KAFKA_CONSUMER,
            properties: [
                configuration.commonProperties,
                [
                    "partition.assignment.strategy": "cooperative-sticky",
                    "session.timeout.ms": String(sessionTimeoutMillis),
                    "heartbeat.interval.ms": String(max(sessionTimeoutMillis / 6, 100)),
                    "enable.auto.commit": "false",
                    "enable.auto.offset.store": "false",
                    "auto.offset.reset": "latest",
                    "queued.min.messages": "1",
                ],
                configuration.properties,
                ["group.id": group],
            ],
            context: context
        ) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, _ in
                guard let rk, let partitions, let context = ClientContext.of(rk) else { return }
                context.rebalance?(rk, err, partitions)
            }
        }
        let timeout = configuration.requestTimeoutMillis
        do {
            try await BlockingExecutor.run {
                let known = try client.partitionCounts(timeoutMillis: timeout)
                if let missing = topics.first(where: { known[$0] == nil }) { throw BusError.unknownTopic(missing) }
                rd_kafka_poll_set_consumer(client.handle)
                let list = PartitionList(topics.map { (TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA), nil) })
                let err = rd_kafka_subscribe(client.handle, list.pointer)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw kafkaError(err, "subscribe to \(topics)") }
            }
        } catch {
            client.destroy()
            throw error
        }
        return KafkaGroupMember(client: client, group: group, state: state, requestTimeoutMillis: timeout)
    }
}

/// What the rebalance callback keeps: the owned set and the stream it feeds.
final class MembershipState: Sendable {
    let assignments: AsyncThrowingStream<PartitionAssignment, any Error>
    let continuation: AsyncThrowingStream<PartitionAssignment, any Error>.Continuation
    private let owned = Mutex<(partitions: Set<TopicPartition>, generation: Int)>(([], 0))

    init() {
        (assignments, continuation) = AsyncThrowingStream<PartitionAssignment, any Error>.makeStream()
    }

    /// librdkafka's rebalance callback, on the member's poll thread: applies
    /// the change (incrementally under the cooperative protocol), pauses new
    /// partitions so the member never fetches, and publishes the owned set.
    func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        let changed = Set(PartitionList.elements(of: partitions).map(\.tp))
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                destroyError(rd_kafka_incremental_assign(rk, partitions))
            } else {
                rd_kafka_assign(rk, partitions)
            }
            rd_kafka_pause_partitions(rk, partitions)
            publish { cooperative ? $0.union(changed) : changed }
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            if cooperative {
                destroyError(rd_kafka_incremental_unassign(rk, partitions))
            } else {
                rd_kafka_assign(rk, nil)
            }
            publish { cooperative ? $0.subtracting(changed) : [] }
        default:
            rd_kafka_assign(rk, nil)
            publish { _ in [] }
        }
    }

    private func destroyError(_ error: OpaquePointer?) {
        if let error { rd_kafka_error_destroy(error) }
    }

    private func publish(_ change: (Set<TopicPartition>) -> Set<TopicPartition>) {
        let assignment = owned.withLock { owned in
            owned.partitions = change(owned.partitions)
            owned.generation += 1
            return PartitionAssignment(generation: owned.generation, partitions: owned.partitions)
        }
        continuation.yield(assignment)
    }
}

/// One member: a dedicated thread polls its consumer (serving heartbeats and
/// rebalances) until `leave()` closes it.
final class KafkaGroupMember: GroupMember {
    let assignments: AsyncThrowingStream<PartitionAssignment, any Error>
    private let client: RDKafkaClient
    private let group: String
    private let requestTimeoutMillis: Int32
    private let leaving = Atomic<Bool>(false)
    private let left = DispatchSemaphore(value: 0)

    init(client: RDKafkaClient, group: String, state: MembershipState, requestTimeoutMillis: Int32) {
        self.client = client
        self.group = group
        self.requestTimeoutMillis = requestTimeoutMillis
        assignments = state.assignments
        let thread = Thread { [self] in
            while !leaving.load(ordering: .acquiring) {
                // Paused partitions deliver nothing but what was in flight when paused; drop that.
                if let message = rd_kafka_consumer_poll(client.handle, 100) { rd_kafka_message_destroy(message) }
            }
            // Closing revokes the partitions through the rebalance callback on this thread.
            rd_kafka_consumer_close(client.handle)
            state.continuation.finish()
            left.signal()
        }
        thread.name = "logpipe.kafka.member"
        thread.start()
    }

    /// Commits through this member (with its generation), one OffsetCommit request.
    func commit(_ offsets: [TopicPartition: Int64]) async throws {
        if offsets.isEmpty { return }
        let client = self.client
        let group = self.group
        let timeout = requestTimeoutMillis
        let entries = offsets.map { ($0.key, Optional($0.value)) }
        try await BlockingExecutor.run {
            try KafkaBus.commit(entries, on: client, group: group, timeoutMillis: timeout)
        }
    }

    /// Leaves the group (the coordinator reassigns at once) and destroys the consumer.
    func leave() async throws {
        guard !leaving.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let left = self.left
        let client = self.client
        try await BlockingExecutor.run {
            left.wait()
            client.destroy()
        }
    }
}
#endif
