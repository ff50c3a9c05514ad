#if Kafka
import CRdKafka
import Foundation
import Logging
import LogpipeBus
import Synchronization

/// The `kafka` Bus: Apache Kafka (or any Kafka-protocol broker) through librdkafka.
///
/// - `produce` enqueues every record with librdkafka's idempotent `acks=all`
///   producer and resumes when each record's delivery report is in; records
///   with a key go where Kafka's Java client would put them (`murmur2_random`).
/// - `fetch` reads a partition from an explicit offset with no consumer group
///   (see `KafkaFetcher`), prefetching into bounded per-partition queues.
/// - Group offsets are Kafka's own (`OffsetCommit`/`OffsetFetch` through a
///   group-less member of each group); `groups()` is the ListGroups admin call.
/// - Topics are created through the admin API with their partitions and retention.
///
/// Blocking librdkafka calls run on `BlockingExecutor` threads and one poll
/// thread per bus serves delivery reports and errors, so no caller's task
/// blocks a cooperative thread.
public final class KafkaBus: Bus {
    /// The configuration the bus was opened with.
    public let configuration: KafkaBusConfiguration
    private let logger: Logger
    private let producer: RDKafkaClient
    private let producerTopics: TopicHandles
    private let fetcher: KafkaFetcher
    private let poller: PollThread
    private let groupClients = Mutex<[String: RDKafkaClient]>([:])
    private let partitionCounts = Mutex<[String: Int32]>([:])
    private let closed = Atomic<Bool>(false)
    private let janitor: Task<Void, Never>

    /// Connects lazily (librdkafka connects on first use); throws for a refused
    /// property or a librdkafka older than 2.2.
    public init(configuration: KafkaBusConfiguration, logger: Logger = Logger(label: "logpipe.kafka")) throws {
        self.configuration = configuration
        self.logger = logger
        let common = configuration.commonProperties
        producer = try RDKafkaClient(
            type: RD_KAFKA_PRODUCER,
            properties: [common, KafkaBusConfiguration.defaultProducerProperties, configuration.properties],
            context: ClientContext(logger: logger, name: "producer")
        ) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        }
        let fetchProperties = [common, KafkaBusConfiguration.defaultFetchProperties, configuration.properties]
        let fetchClient: RDKafkaClient
        let probeClient: RDKafkaClient
        do {
            fetchClient = try RDKafkaClient(type: RD_KAFKA_CONSUMER, properties: fetchProperties, context: ClientContext(logger: logger, name: "fetch"))
            do {
                // The probe waits for one small response at a time.
                probeClient = try RDKafkaClient(
                    type: RD_KAFKA_CONSUMER,
                    properties: fetchProperties + [["fetch.wait.max.ms": "10", "queued.min.messages": "1", "fetch.message.max.bytes": "65536"]],
                    context: ClientContext(logger: logger, name: "probe"))
            } catch {
                fetchClient.destroy()
                throw error
            }
        } catch {
            producer.destroy()
            throw error
        }
        producerTopics = TopicHandles(client: producer)
        fetcher = KafkaFetcher(
            client: fetchClient, probe: probeClient,
            requestTimeoutMillis: configuration.requestTimeoutMillis, dataTimeoutMillis: configuration.dataTimeoutMillis)
        poller = PollThread(name: "logpipe.kafka.poll", main: producer, others: [fetchClient, probeClient])
        let fetcher = self.fetcher
        janitor = Task {
            while (try? await Task.sleep(for: .seconds(5))) != nil {
                _ = try? await BlockingExecutor.run { fetcher.stopIdleReaders(idle: .seconds(30)) }
            }
        }
    }

    /// Opens a bus from a `kafka://host:port[,…]` URL and `kafka.*` settings.
    public convenience init(url: String, settings: [String: String] = [:], logger: Logger = Logger(label: "logpipe.kafka")) throws {
        try self.init(configuration: KafkaBusConfiguration(url: url, settings: settings), logger: logger)
    }

    private func checkOpen() throws {
        if closed.load(ordering: .acquiring) { throw BusError.closed }
    }

    // MARK: Topics

    /// Creates the topic through the admin API (its retention as `retention.ms`
    /// and `retention.bytes`) and returns once metadata lists it; an existing
    /// topic is left as it is.
    public func createTopic(_ spec: TopicSpec) async throws {
        try checkOpen()
        let producer = self.producer
        let timeout = configuration.requestTimeoutMillis
        let replication = configuration.replicationFactor
        let counts = try await BlockingExecutor.run {
            try Self.createTopic(spec, on: producer, replicationFactor: replication, timeoutMillis: timeout)
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout))
            while true {
                let counts = try producer.partitionCounts(timeoutMillis: timeout)
                if counts[spec.name] != nil || ContinuousClock.now >= deadline { return counts }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        partitionCounts.withLock { $0 = counts }
        guard counts[spec.name] != nil else { throw BusError.io("topic '\(spec.name)' created but not in metadata after \(timeout) ms") }
    }

    private static func createTopic(_ spec: TopicSpec, on client: RDKafkaClient, replicationFactor: Int32, timeoutMillis: Int32) throws {
        var errstr = [CChar](repeating: 0, count: 512)
        guard let newTopic = rd_kafka_NewTopic_new(spec.name, spec.partitions, replicationFactor, &errstr, errstr.count) else {
            throw BusError.io("cannot create topic '\(spec.name)': \(cString(errstr))")
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        let retentionMillis = spec.retention.maxAgeSeconds.map { String($0 * 1000) } ?? "-1"
        rd_kafka_NewTopic_set_config(newTopic, "retention.ms", retentionMillis)
        rd_kafka_NewTopic_set_config(newTopic, "retention.bytes", spec.retention.maxBytesPerPartition.map(String.init) ?? "-1")
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        rd_kafka_AdminOptions_set_request_timeout(options, timeoutMillis, &errstr, errstr.count)
        let event = try adminCall(client, timeoutMillis: timeoutMillis, what: "create topic '\(spec.name)'") { queue in
            var topics: [OpaquePointer?] = [newTopic]
            rd_kafka_CreateTopics(client.handle, &topics, 1, options, queue)
        }
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event),
              let topics = rd_kafka_CreateTopics_result_topics(result, &count), count == 1
        else { throw BusError.io("create topic '\(spec.name)': no result") }
        let err = rd_kafka_topic_result_error(topics[0])
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else {
            let message = rd_kafka_topic_result_error_string(topics[0]).map { String(cString: $0) } ?? ""
            throw BusError.io("create topic '\(spec.name)': \(String(cString: rd_kafka_err2name(err))) \(message)")
        }
    }

    /// Runs an admin request on a temporary queue and returns its result event
    /// (caller destroys it), throwing the request-level error. Blocks.
    private static func adminCall(
        _ client: RDKafkaClient, timeoutMillis: Int32, what: String, _ request: (OpaquePointer) -> Void
    ) throws -> OpaquePointer {
        guard let queue = rd_kafka_queue_new(client.handle) else { throw BusError.io("\(what): no queue") }
        defer { rd_kafka_queue_destroy(queue) }
        request(queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMillis + 1000) else {
            throw BusError.io("\(what): no answer within \(timeoutMillis) ms")
        }
        let err = rd_kafka_event_error(event)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let message = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            rd_kafka_event_destroy(event)
            throw BusError.io("\(what): \(message)")
        }
        return event
    }

    /// Every topic but Kafka's internal ones, by name, with exact watermarks
    /// (`sizeBytes` is 0: Kafka does not report sizes to clients cheaply).
    public func topics() async throws -> [TopicInfo] {
        try checkOpen()
        let producer = self.producer
        let fetcher = self.fetcher
        let timeout = configuration.requestTimeoutMillis
        let (counts, infos) = try await BlockingExecutor.run { () throws -> ([String: Int32], [TopicInfo]) in
            let counts = try producer.partitionCounts(timeoutMillis: timeout)
            var infos: [TopicInfo] = []
            for (name, count) in counts.sorted(by: { $0.key < $1.key }) where !name.hasPrefix("__") {
                var partitions: [PartitionInfo] = []
                for p in 0..<count {
                    let (low, high) = try fetcher.watermarks(TopicPartition(topic: name, partition: p))
                    partitions.append(PartitionInfo(partition: p, lowWatermark: low, highWatermark: high, sizeBytes: 0))
                }
                infos.append(TopicInfo(name: name, partitions: partitions))
            }
            return (counts, infos)
        }
        partitionCounts.withLock { $0 = counts }
        return infos
    }

    /// The topic's partition count, from cached metadata or a fresh request.
    public func partitionCount(topic: String) async throws -> Int32 {
        try await partitionCount(topic: topic, atLeast: 0)
    }

    /// The partition count, refreshing metadata when the cache does not know
    /// the topic or knows fewer than `atLeast + 1` partitions (topics can grow).
    private func partitionCount(topic: String, atLeast partition: Int32) async throws -> Int32 {
        try checkOpen()
        if let count = partitionCounts.withLock({ $0[topic] }), count > partition { return count }
        let producer = self.producer
        let timeout = configuration.requestTimeoutMillis
        let counts = try await BlockingExecutor.run { try producer.partitionCounts(timeoutMillis: timeout) }
        partitionCounts.withLock { $0 = counts }
        guard let count = counts[topic] else { throw BusError.unknownTopic(topic) }
        return count
    }

    // MARK: Records

    /// Produces every record and returns when each one's delivery report is in:
    /// acknowledged by all in-sync replicas. Throws the first failed record's
    /// error after all reports arrived (records before it may be stored).
    public func produce(topic: String, batch: ProduceBatch) async throws -> ProduceResult {
        let highestExplicit = batch.entries.lazy.compactMap(\.partition).max() ?? 0
        let count = try await partitionCount(topic: topic, atLeast: highestExplicit)
        for entry in batch.entries {
            if let p = entry.partition, p < 0 || p >= count {
                throw BusError.unknownPartition(TopicPartition(topic: topic, partition: p))
            }
        }
        if batch.entries.isEmpty { return ProduceResult(placements: []) }
        let rkt = producerTopics.handle(topic)
        let tracker = DeliveryTracker(capacity: batch.entries.count)
        var next = 0
        var failure: (any Error)? = nil
        while next < batch.entries.count {
            let (n, err) = enqueue(batch, from: next, topic: rkt, tracker: tracker)
            tracker.enqueued(n)
            next += n
            guard let err else { break }
            if err == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                // The bounded send queue is full: wait for deliveries to make room.
                do {
                    try await Task.sleep(for: .milliseconds(2))
                    continue
                } catch {
                    failure = error
                    break
                }
            }
            failure = produceError(err, topic: topic, record: batch.entries[next])
            break
        }
        await tracker.sealAndWait()
        if let failure { throw failure }
        var placements: [(partition: Int32, offset: Int64)] = []
        placements.reserveCapacity(batch.entries.count)
        for i in 0..<batch.entries.count {
            let slot = tracker.slots[i]
            if slot.error != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw produceError(slot.error, topic: topic, record: batch.entries[i])
            }
            placements.append((slot.partition, slot.offset))
        }
        return ProduceResult(placements: placements)
    }

    private func produceError(_ err: rd_kafka_resp_err_t, topic: String, record: ProduceBatch.Entry) -> BusError {
        switch err {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
            .recordTooLarge(record.value.count + (record.key?.count ?? 0))
        case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
            .unknownPartition(TopicPartition(topic: topic, partition: record.partition ?? -1))
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
            .unknownTopic(topic)
        default:
            kafkaError(err, "produce to '\(topic)'")
        }
    }

    /// Reads from `offset` on (see `PartitionReader.fetch`).
    public func fetch(_ tp: TopicPartition, from offset: Int64, maxBytes: Int, maxWaitMillis: Int) async throws -> FetchedBatch {
        let count = try await partitionCount(topic: tp.topic, atLeast: max(tp.partition, 0))
        guard tp.partition >= 0 && tp.partition < count else { throw BusError.unknownPartition(tp) }
        let reader = fetcher.reader(for: tp)
        return try await BlockingExecutor.run {
            try reader.fetch(from: offset, maxBytes: maxBytes, maxWaitMillis: maxWaitMillis)
        }
    }

    // MARK: Groups

    /// The client committing and reading `group`'s offsets: a consumer with
    /// that `group.id` that never subscribes, so its commits carry no
    /// generation (as Kafka's Java client does for manually assigned partitions).
    private func groupClient(_ group: String) throws -> RDKafkaClient {
        try groupClients.withLock { clients in
            if let client = clients[group] { return client }
            let client = try RDKafkaClient(
                type: RD_KAFKA_CONSUMER,
                properties: [configuration.commonProperties, ["enable.auto.commit": "false"], configuration.properties, ["group.id": group]],
                context: ClientContext(logger: logger, name: "group \(group)"))
            clients[group] = client
            poller.add(client)
            return client
        }
    }

    /// Commits the offsets in one OffsetCommit request to the group's coordinator.
    public func commit(group: String, offsets: [TopicPartition: Int64]) async throws {
        try checkOpen()
        if offsets.isEmpty { return }
        let client = try groupClient(group)
        let timeout = configuration.requestTimeoutMillis
        let entries = offsets.map { ($0.key, Optional($0.value)) }
        try await BlockingExecutor.run {
            try Self.commit(entries, on: client, group: group, timeoutMillis: timeout)
        }
    }

    /// Commits through `client` and checks every partition's result. Blocks.
    static func commit(_ entries: [(TopicPartition, Int64?)], on client: RDKafkaClient, group: String, timeoutMillis: Int32) throws {
        let list = PartitionList(entries)
        let err = rd_kafka_commit(client.handle, list.pointer, 0)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw kafkaError(err, "commit offsets of group '\(group)'") }
        if let failed = list.elements.first(where: { $0.err != RD_KAFKA_RESP_ERR_NO_ERROR }) {
            throw kafkaError(failed.err, "commit offset of \(failed.tp) for group '\(group)'")
        }
    }

    /// Reads the group's committed offsets with one OffsetFetch request.
    public func committedOffsets(group: String, topic: String) async throws -> [Int32: Int64] {
        let count = try await partitionCount(topic: topic)
        let client = try groupClient(group)
        let timeout = configuration.requestTimeoutMillis
        return try await BlockingExecutor.run {
            let list = PartitionList((0..<count).map { (TopicPartition(topic: topic, partition: $0), nil) })
            let err = rd_kafka_committed(client.handle, list.pointer, timeout)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw kafkaError(err, "committed offsets of group '\(group)'") }
            var offsets: [Int32: Int64] = [:]
            for e in list.elements {
                guard e.err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw kafkaError(e.err, "committed offset of \(e.tp) for group '\(group)'") }
                if e.offset >= 0 { offsets[e.tp.partition] = e.offset }
            }
            return offsets
        }
    }

    /// Every consumer group the cluster knows (ListGroups), whatever its state, sorted.
    public func groups() async throws -> [String] {
        try checkOpen()
        let producer = self.producer
        let timeout = configuration.requestTimeoutMillis
        return try await BlockingExecutor.run {
            let options = rd_kafka_AdminOptions_new(producer.handle, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            var errstr = [CChar](repeating: 0, count: 512)
            rd_kafka_AdminOptions_set_request_timeout(options, timeout, &errstr, errstr.count)
            let event = try KafkaBus.adminCall(producer, timeoutMillis: timeout, what: "list consumer groups") { queue in
                rd_kafka_ListConsumerGroups(producer.handle, options, queue)
            }
            defer { rd_kafka_event_destroy(event) }
            guard let result = rd_kafka_event_ListConsumerGroups_result(event) else { throw BusError.io("list consumer groups: no result") }
            var validCount = 0
            var errorCount = 0
            let valid = rd_kafka_ListConsumerGroups_result_valid(result, &validCount)
            let errors = rd_kafka_ListConsumerGroups_result_errors(result, &errorCount)
            if validCount == 0, errorCount > 0, let errors, let first = errors[0] {
                throw BusError.io("list consumer groups: \(String(cString: rd_kafka_error_string(first)))")
            }
            var names: [String] = []
            for i in 0..<validCount {
                if let listing = valid?[i] { names.append(String(cString: rd_kafka_ConsumerGroupListing_group_id(listing))) }
            }
            return names.sorted()
        }
    }

    // MARK: Closing

    /// Waits for undelivered records (up to the request timeout), then stops the
    /// poll thread and destroys every client. Call after other calls returned.
    public func close() async throws {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        janitor.cancel()
        _ = await janitor.value
        let producer = self.producer
        let timeout = configuration.requestTimeoutMillis
        let unflushed = try await BlockingExecutor.run { rd_kafka_flush(producer.handle, timeout) }
        await poller.stop()
        let fetcher = self.fetcher
        let producerTopics = self.producerTopics
        let groups = groupClients.withLock { clients in
            defer { clients.removeAll() }
            return Array(clients.values)
        }
        try await BlockingExecutor.run {
            fetcher.close()
            for client in groups { client.destroy() }
            producerTopics.destroyAll()
            producer.destroy()
        }
        if unflushed != RD_KAFKA_RESP_ERR_NO_ERROR { throw kafkaError(unflushed, "flush on close") }
    }
}

/// The thread that serves librdkafka's callbacks: it waits on the producer's
/// queue (delivery reports wake it at once) and serves the other clients'
/// queues (errors) between waits.
final class PollThread: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let others: Mutex<[RDKafkaClient]>
    private let done = DispatchSemaphore(value: 0)

    init(name: String, main: RDKafkaClient, others: [RDKafkaClient]) {
        self.others = Mutex(others)
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                main.poll(timeoutMillis: 100)
                for client in self.others.withLock({ $0 }) { client.poll(timeoutMillis: 0) }
            }
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Serves `client` too from now on.
    func add(_ client: RDKafkaClient) {
        others.withLock { $0.append(client) }
    }

    /// Stops the thread and waits until it no longer touches any client.
    func stop() async {
        stopped.store(true, ordering: .releasing)
        let done = self.done
        _ = try? await BlockingExecutor.run { done.wait() }
    }
}
#endif
