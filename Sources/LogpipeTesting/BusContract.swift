import Foundation
import LogpipeBus

/// A broken promise of the `Bus` protocol, found by the contract suite.
public struct BusContractViolation: Error, CustomStringConvertible {
    /// What was expected and what happened.
    public var description: String

    /// A violation.
    public init(_ description: String) { self.description = description }
}

/// The `Bus` contract suite: every semantic the protocol promises, checked
/// through the protocol only, so `LocalBus` and the Kafka bus run the same
/// checks. Each check takes `makeBus`, which opens a bus (fresh storage or a
/// shared cluster: every check creates its own uniquely named topics and
/// groups), and closes what it opened. A check throws `BusContractViolation`
/// (or the bus's own error) when the bus breaks its promise.
///
/// Left out on purpose, being implementation-specific: backpressure
/// (`overloaded`), exact `maxBytes` accounting, retention timing and which
/// partition a record without a key goes to.
public enum BusContract {
    /// Opens a bus.
    public typealias MakeBus = @Sendable () async throws -> any Bus
    /// Closes a bus and opens it again on the same storage.
    public typealias Reopen = @Sendable (any Bus) async throws -> any Bus

    /// Every check that needs only `makeBus`, by name.
    public static let checks: [(name: String, run: @Sendable (MakeBus) async throws -> Void)] = [
        ("createAndListTopics", createAndListTopics),
        ("produceFetchRoundTrip", produceFetchRoundTrip),
        ("keyedRecordsFollowKafkaPartitioner", keyedRecordsFollowKafkaPartitioner),
        ("offsetsAreContiguous", offsetsAreContiguous),
        ("fetchFromTheMiddle", fetchFromTheMiddle),
        ("maxBytesBoundsAFetch", maxBytesBoundsAFetch),
        ("longPollWakesOnProduce", longPollWakesOnProduce),
        ("longPollTimesOut", longPollTimesOut),
        ("offsetOutOfRangeAndUnknowns", offsetOutOfRangeAndUnknowns),
        ("groupOffsetsCommitAndRead", groupOffsetsCommitAndRead),
        ("concurrentProducersAreDurableAndContiguous", concurrentProducersAreDurableAndContiguous),
    ]

    /// Runs every check, then `reopenKeepsEverything` when `reopen` is given.
    public static func runAll(makeBus: @escaping MakeBus, reopen: Reopen? = nil) async throws {
        for check in checks {
            do {
                try await check.run(makeBus)
            } catch {
                throw BusContractViolation("\(check.name): \(error)")
            }
        }
        if let reopen { try await reopenKeepsEverything(makeBus: makeBus, reopen: reopen) }
    }

    // MARK: Checks

    /// Topics appear with their partitions and empty watermarks; creating an
    /// existing topic leaves it as it is; an unknown topic is `unknownTopic`.
    public static func createAndListTopics(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("topics")
            try await bus.createTopic(TopicSpec(name: name, partitions: 3))
            try await bus.createTopic(TopicSpec(name: name, partitions: 5))
            let count = try await bus.partitionCount(topic: name)
            try check(count == 3, "partitionCount after re-create is \(count), expected 3")
            guard let info = try await bus.topics().first(where: { $0.name == name }) else {
                throw BusContractViolation("topics() does not list '\(name)'")
            }
            try check(info.partitions.map(\.partition) == [0, 1, 2], "partitions listed \(info.partitions.map(\.partition))")
            for p in info.partitions {
                try check(p.lowWatermark == 0 && p.highWatermark == 0, "new partition \(p.partition) has watermarks \(p.lowWatermark)..<\(p.highWatermark)")
            }
            try await expectError(.unknownTopic(name + "-missing"), "partitionCount of a missing topic") {
                _ = try await bus.partitionCount(topic: name + "-missing")
            }
            try await expectError(.unknownTopic(name + "-missing"), "produce to a missing topic") {
                _ = try await bus.produce(topic: name + "-missing", batch: records(["a"]))
            }
        }
    }

    /// Produced records come back byte for byte at the offsets `produce` reported,
    /// keys (present, absent, empty) and values (empty too) included.
    public static func produceFetchRoundTrip(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("roundtrip")
            try await bus.createTopic(TopicSpec(name: name, partitions: 3))
            var batch = ProduceBatch()
            var expected: [(key: [UInt8]?, value: [UInt8])] = []
            for i in 0..<30 {
                let key: [UInt8]? = i % 4 == 0 ? nil : (i % 7 == 0 ? [] : Array("key-\(i % 5)".utf8))
                let value: [UInt8] = i == 3 ? [] : Array("value \(i) ".utf8) + (0..<(i * 13 % 200)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
                batch.append(key: key, value: value)
                expected.append((key, value))
            }
            let before = Int64(Date().timeIntervalSince1970 * 1000)
            let result = try await bus.produce(topic: name, batch: batch)
            let after = Int64(Date().timeIntervalSince1970 * 1000)
            try check(result.placements.count == 30, "\(result.placements.count) placements for 30 records")
            let fetched = try await readAll(bus, topic: name, partitions: 3)
            for (i, placement) in result.placements.enumerated() {
                guard let record = fetched[placement.partition]?[placement.offset] else {
                    throw BusContractViolation("record \(i) not found at \(placement.partition)/\(placement.offset)")
                }
                try check(record.key == expected[i].key, "record \(i) key \(String(describing: record.key)) != \(String(describing: expected[i].key))")
                try check(record.value == expected[i].value, "record \(i) value differs")
                try check(record.timestampMillis >= before - 5000 && record.timestampMillis <= after + 5000,
                          "record \(i) timestamp \(record.timestampMillis) outside \(before)...\(after)")
            }
            let total = fetched.values.reduce(0) { $0 + $1.count }
            try check(total == 30, "\(total) records in the topic, expected 30")
        }
    }

    /// Keyed records go to `KafkaPartitioner.partition(key:partitions:)`, keep
    /// their produce order within a key, and an explicit partition wins.
    public static func keyedRecordsFollowKafkaPartitioner(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("keys")
            try await bus.createTopic(TopicSpec(name: name, partitions: 3))
            let keys = (0..<20).map { "service-\($0)" }
            var lastOffset: [String: Int64] = [:]
            for round in 0..<5 {
                var batch = ProduceBatch()
                for (k, key) in keys.enumerated() where (k + round) % 3 != 0 {
                    batch.append(key: Array(key.utf8), value: Array("\(key) #\(round)".utf8))
                }
                batch.append(key: Array("pinned".utf8), value: Array("explicit".utf8), partition: 2)
                let result = try await bus.produce(topic: name, batch: batch)
                for (i, entry) in batch.entries.enumerated() {
                    let placement = result.placements[i]
                    let key = String(decoding: batch.buffer[Int(entry.key!.lowerBound)..<Int(entry.key!.upperBound)], as: UTF8.self)
                    if entry.partition != nil {
                        try check(placement.partition == 2, "explicit partition 2 ignored, got \(placement.partition)")
                        continue
                    }
                    let want = KafkaPartitioner.partition(key: key, partitions: 3)
                    try check(placement.partition == want, "key \(key) went to \(placement.partition), Kafka's partitioner says \(want)")
                    if let last = lastOffset[key] {
                        try check(placement.offset > last, "key \(key) offset \(placement.offset) not after \(last)")
                    }
                    lastOffset[key] = placement.offset
                }
            }
            let fetched = try await readAll(bus, topic: name, partitions: 3)
            for (p, records) in fetched {
                var seen: [String: Int] = [:]
                for offset in records.keys.sorted() {
                    let record = records[offset]!
                    let key = String(decoding: record.key ?? [], as: UTF8.self)
                    if key == "pinned" { continue }
                    try check(KafkaPartitioner.partition(key: key, partitions: 3) == p, "key \(key) read from partition \(p)")
                    let value = String(decoding: record.value, as: UTF8.self)
                    let round = Int(value.split(separator: "#").last!)!
                    try check(round > seen[key, default: -1], "key \(key) out of order on partition \(p)")
                    seen[key] = round
                }
            }
        }
    }

    /// Offsets in each partition run 0, 1, 2, … with no gap, across produce
    /// calls, and the high watermark is the count.
    public static func offsetsAreContiguous(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("offsets")
            try await bus.createTopic(TopicSpec(name: name, partitions: 3))
            var perPartition: [Int32: [Int64]] = [:]
            for call in 0..<12 {
                let result = try await bus.produce(topic: name, batch: records((0..<(call + 1)).map { "k\(call * 7 + $0)" }, keyed: true))
                for placement in result.placements { perPartition[placement.partition, default: []].append(placement.offset) }
            }
            let infos = try await bus.topics().first { $0.name == name }!.partitions
            for info in infos {
                let offsets = perPartition[info.partition, default: []]
                try check(offsets == Array(0..<Int64(offsets.count)), "partition \(info.partition) offsets \(offsets)")
                try check(info.highWatermark == Int64(offsets.count), "partition \(info.partition) high watermark \(info.highWatermark), \(offsets.count) records")
            }
            try check(perPartition.values.reduce(0) { $0 + $1.count } == 78, "78 records produced")
        }
    }

    /// A fetch from an offset in the middle starts exactly there.
    public static func fetchFromTheMiddle(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("middle")
            try await bus.createTopic(TopicSpec(name: name, partitions: 1))
            for chunk in 0..<10 {
                _ = try await bus.produce(topic: name, batch: records((0..<10).map { "r\(chunk * 10 + $0)" }))
            }
            for start in [Int64(0), 1, 37, 50, 99] {
                let batch = try await bus.fetch(TopicPartition(topic: name, partition: 0), from: start, maxBytes: 1 << 20, maxWaitMillis: 0)
                try check(batch.records.first?.offset == start, "fetch from \(start) began at \(String(describing: batch.records.first?.offset))")
                for (i, record) in batch.records.enumerated() {
                    try check(record.offset == start + Int64(i), "offsets not consecutive after \(start)")
                    let value = String(decoding: batch.buffer[Int(record.value.lowerBound)..<Int(record.value.upperBound)], as: UTF8.self)
                    try check(value == "r\(record.offset)", "offset \(record.offset) holds \(value)")
                }
                try check(batch.highWatermark == 100, "high watermark \(batch.highWatermark)")
            }
        }
    }

    /// A fetch returns at least one record however small `maxBytes` is, and
    /// stays within `maxBytes` of keys and values when it returns more than one.
    public static func maxBytesBoundsAFetch(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("maxbytes")
            try await bus.createTopic(TopicSpec(name: name, partitions: 1))
            let value = String(repeating: "v", count: 100)
            for _ in 0..<50 { _ = try await bus.produce(topic: name, batch: records([value])) }
            let tp = TopicPartition(topic: name, partition: 0)
            let one = try await bus.fetch(tp, from: 0, maxBytes: 1, maxWaitMillis: 0)
            try check(one.records.count >= 1 && one.records.count < 50, "maxBytes 1 returned \(one.records.count) records")
            var offset: Int64 = 0
            var reads = 0
            while offset < 50 {
                let batch = try await bus.fetch(tp, from: offset, maxBytes: 1000, maxWaitMillis: 0)
                let bytes = batch.records.reduce(0) { $0 + $1.value.count + ($1.key?.count ?? 0) }
                try check(!batch.records.isEmpty, "empty fetch at \(offset) below the high watermark")
                try check(batch.records.count == 1 || bytes <= 1000, "\(bytes) bytes for maxBytes 1000")
                try check(batch.records.first!.offset == offset, "fetch skipped from \(offset)")
                offset = batch.nextOffset(after: offset)
                reads += 1
            }
            try check(reads >= 5, "50 records of 100 bytes read in \(reads) fetches of 1000 bytes")
        }
    }

    /// A fetch at the high watermark waits, and returns the record a producer
    /// appends meanwhile without waiting out its whole time.
    public static func longPollWakesOnProduce(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("longpoll")
            try await bus.createTopic(TopicSpec(name: name, partitions: 1))
            _ = try await bus.produce(topic: name, batch: records(["first"]))
            let tp = TopicPartition(topic: name, partition: 0)
            let started = ContinuousClock.now
            async let waiting = bus.fetch(tp, from: 1, maxBytes: 1 << 20, maxWaitMillis: 10_000)
            try await Task.sleep(for: .milliseconds(200))
            _ = try await bus.produce(topic: name, batch: records(["second"]))
            let batch = try await waiting
            let elapsed = ContinuousClock.now - started
            try check(batch.records.map(\.offset) == [1], "long poll returned offsets \(batch.records.map(\.offset))")
            let value = String(decoding: batch.buffer[Int(batch.records[0].value.lowerBound)..<Int(batch.records[0].value.upperBound)], as: UTF8.self)
            try check(value == "second", "long poll returned \(value)")
            try check(elapsed < .seconds(5), "long poll took \(elapsed) although a record arrived after 200 ms")
        }
    }

    /// A fetch at the high watermark with nothing arriving returns empty after about its wait.
    public static func longPollTimesOut(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("timeout")
            try await bus.createTopic(TopicSpec(name: name, partitions: 1))
            let tp = TopicPartition(topic: name, partition: 0)
            let started = ContinuousClock.now
            let batch = try await bus.fetch(tp, from: 0, maxBytes: 1 << 20, maxWaitMillis: 300)
            let elapsed = ContinuousClock.now - started
            try check(batch.records.isEmpty && batch.highWatermark == 0, "empty partition returned \(batch.records.count) records")
            try check(elapsed >= .milliseconds(250) && elapsed < .seconds(5), "a 300 ms wait took \(elapsed)")
            let quick = ContinuousClock.now
            _ = try await bus.fetch(tp, from: 0, maxBytes: 1 << 20, maxWaitMillis: 0)
            try check(ContinuousClock.now - quick < .milliseconds(250), "a fetch with no wait waited")
        }
    }

    /// Offsets past the high watermark or below zero are `offsetOutOfRange`;
    /// unknown topics and partitions are reported as such.
    public static func offsetOutOfRangeAndUnknowns(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("range")
            try await bus.createTopic(TopicSpec(name: name, partitions: 2))
            _ = try await bus.produce(topic: name, batch: records(["a", "b", "c"].map { $0 }, partition: 0))
            let tp = TopicPartition(topic: name, partition: 0)
            try await expectError(.offsetOutOfRange(tp, requested: 4, low: 0, high: 3), "fetch past the high watermark") {
                _ = try await bus.fetch(tp, from: 4, maxBytes: 1000, maxWaitMillis: 0)
            }
            try await expectError(.offsetOutOfRange(tp, requested: -1, low: 0, high: 3), "fetch from -1") {
                _ = try await bus.fetch(tp, from: -1, maxBytes: 1000, maxWaitMillis: 0)
            }
            let missing = TopicPartition(topic: name, partition: 2)
            try await expectError(.unknownPartition(missing), "fetch from partition 2 of 2") {
                _ = try await bus.fetch(missing, from: 0, maxBytes: 1000, maxWaitMillis: 0)
            }
            try await expectError(.unknownPartition(missing), "produce to explicit partition 2 of 2") {
                _ = try await bus.produce(topic: name, batch: records(["x"], partition: 2))
            }
            try await expectError(.unknownTopic(name + "-x"), "fetch from a missing topic") {
                _ = try await bus.fetch(TopicPartition(topic: name + "-x", partition: 0), from: 0, maxBytes: 1000, maxWaitMillis: 0)
            }
            let atEnd = try await bus.fetch(tp, from: 3, maxBytes: 1000, maxWaitMillis: 0)
            try check(atEnd.records.isEmpty && atEnd.highWatermark == 3, "fetch at the high watermark returned \(atEnd.records.count) records")
        }
    }

    /// Committed offsets read back per group and topic; a later commit of some
    /// partitions keeps the others; groups are listed.
    public static func groupOffsetsCommitAndRead(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("groups")
            let other = uniqueName("groups-other")
            try await bus.createTopic(TopicSpec(name: name, partitions: 3))
            try await bus.createTopic(TopicSpec(name: other, partitions: 1))
            _ = try await bus.produce(topic: name, batch: records((0..<30).map { "k\($0)" }, keyed: true))
            _ = try await bus.produce(topic: other, batch: records(["o1", "o2"]))
            let group = uniqueName("group")
            let none = try await bus.committedOffsets(group: group, topic: name)
            try check(none.isEmpty, "a new group has offsets \(none)")
            try await bus.commit(group: group, offsets: [
                TopicPartition(topic: name, partition: 0): 5, TopicPartition(topic: name, partition: 1): 7,
            ])
            var got = try await bus.committedOffsets(group: group, topic: name)
            try check(got == [0: 5, 1: 7], "committed [0: 5, 1: 7], read \(got)")
            try await bus.commit(group: group, offsets: [TopicPartition(topic: name, partition: 0): 9, TopicPartition(topic: other, partition: 0): 2])
            got = try await bus.committedOffsets(group: group, topic: name)
            try check(got == [0: 9, 1: 7], "after committing partition 0 again, read \(got)")
            let otherOffsets = try await bus.committedOffsets(group: group, topic: other)
            try check(otherOffsets == [0: 2], "other topic offsets \(otherOffsets)")
            let second = uniqueName("group2")
            try await bus.commit(group: second, offsets: [TopicPartition(topic: name, partition: 2): 1])
            let secondOffsets = try await bus.committedOffsets(group: second, topic: name)
            try check(secondOffsets == [2: 1], "second group offsets \(secondOffsets)")
            let firstAgain = try await bus.committedOffsets(group: group, topic: name)
            try check(firstAgain == [0: 9, 1: 7], "groups are independent, read \(firstAgain)")
            let groups = try await bus.groups()
            try check(groups.contains(group) && groups.contains(second), "groups() is \(groups)")
        }
    }

    /// Producers running at once all get durable records: every placement is
    /// distinct, each partition's offsets are exactly 0..<high watermark, and
    /// each placement holds its producer's value.
    public static func concurrentProducersAreDurableAndContiguous(makeBus: MakeBus) async throws {
        try await withBus(makeBus) { bus in
            let name = uniqueName("concurrent")
            try await bus.createTopic(TopicSpec(name: name, partitions: 3))
            let producers = 8
            let calls = 25
            let perCall = 20
            let placed = try await withThrowingTaskGroup(of: [(Int32, Int64, String)].self) { group in
                for producer in 0..<producers {
                    group.addTask {
                        var placed: [(Int32, Int64, String)] = []
                        for call in 0..<calls {
                            let values = (0..<perCall).map { "p\(producer)-c\(call)-r\($0)" }
                            var batch = ProduceBatch()
                            for (i, v) in values.enumerated() {
                                batch.append(key: i % 3 == 0 ? nil : Array("key-\(producer)-\(i)".utf8), value: Array(v.utf8))
                            }
                            let result = try await bus.produce(topic: name, batch: batch)
                            for (i, p) in result.placements.enumerated() { placed.append((p.partition, p.offset, values[i])) }
                        }
                        return placed
                    }
                }
                var all: [(Int32, Int64, String)] = []
                for try await part in group { all.append(contentsOf: part) }
                return all
            }
            try check(placed.count == producers * calls * perCall, "\(placed.count) placements")
            let fetched = try await readAll(bus, topic: name, partitions: 3)
            var seen = Set<String>()
            for (p, o, v) in placed {
                try check(seen.insert("\(p)/\(o)").inserted, "two records placed at \(p)/\(o)")
                guard let record = fetched[p]?[o] else { throw BusContractViolation("placement \(p)/\(o) not readable") }
                try check(String(decoding: record.value, as: UTF8.self) == v, "\(p)/\(o) holds another value than \(v)")
            }
            for (p, records) in fetched {
                try check(records.keys.sorted() == Array(0..<Int64(records.count)), "partition \(p) offsets not contiguous")
            }
            try check(fetched.values.reduce(0) { $0 + $1.count } == placed.count, "more records stored than produced")
        }
    }

    /// After a close and reopen, topics, records and committed offsets are all there,
    /// and producing continues at the next offsets.
    public static func reopenKeepsEverything(makeBus: MakeBus, reopen: Reopen) async throws {
        let bus = try await makeBus()
        let name = uniqueName("reopen")
        let group = uniqueName("reopen-group")
        try await bus.createTopic(TopicSpec(name: name, partitions: 3, retention: RetentionPolicy(maxAgeSeconds: 3600, maxBytesPerPartition: 1 << 30)))
        var placements: [(partition: Int32, offset: Int64)] = []
        for call in 0..<5 {
            placements += try await bus.produce(topic: name, batch: records((0..<10).map { "c\(call)-\($0)" }, keyed: true)).placements
        }
        try await bus.commit(group: group, offsets: [TopicPartition(topic: name, partition: 1): 3])
        let before = try await readAll(bus, topic: name, partitions: 3)
        let infoBefore = try await bus.topics().first { $0.name == name }
        let reopened = try await reopen(bus)
        do {
            let infoAfter = try await reopened.topics().first { $0.name == name }
            try check(infoAfter?.partitions.map(\.highWatermark) == infoBefore?.partitions.map(\.highWatermark),
                      "high watermarks \(String(describing: infoAfter)) after reopen, \(String(describing: infoBefore)) before")
            let after = try await readAll(reopened, topic: name, partitions: 3)
            try check(after.mapValues { $0.mapValues(\.value) } == before.mapValues { $0.mapValues(\.value) }, "records differ after reopen")
            let committed = try await reopened.committedOffsets(group: group, topic: name)
            try check(committed == [1: 3], "committed offsets after reopen \(committed)")
            let more = try await reopened.produce(topic: name, batch: records(["after"], partition: 0))
            let expected = infoBefore!.partitions[0].highWatermark
            try check(more.placements[0].offset == expected, "first offset after reopen \(more.placements[0].offset), expected \(expected)")
        } catch {
            try? await reopened.close()
            throw error
        }
        try await reopened.close()
    }

    // MARK: Helpers

    /// A fetched record, copied out for comparisons.
    public struct StoredRecord: Equatable, Sendable {
        /// Its key.
        public var key: [UInt8]?
        /// Its value.
        public var value: [UInt8]
        /// Its timestamp.
        public var timestampMillis: Int64
    }

    /// Every record of a topic, by partition and offset, read through `fetch`
    /// from each partition's low to high watermark.
    public static func readAll(_ bus: any Bus, topic: String, partitions: Int32, maxBytes: Int = 256 << 10) async throws -> [Int32: [Int64: StoredRecord]] {
        var out: [Int32: [Int64: StoredRecord]] = [:]
        let infos = try await bus.topics().first { $0.name == topic }?.partitions ?? []
        for p in 0..<partitions {
            var records: [Int64: StoredRecord] = [:]
            let info = infos.first { $0.partition == p }
            var offset = info?.lowWatermark ?? 0
            let high = info?.highWatermark ?? 0
            while offset < high {
                let batch = try await bus.fetch(TopicPartition(topic: topic, partition: p), from: offset, maxBytes: maxBytes, maxWaitMillis: 0)
                if batch.records.isEmpty { throw BusContractViolation("empty fetch at \(topic)-\(p)/\(offset) below high watermark \(high)") }
                for r in batch.records {
                    if r.offset != offset { throw BusContractViolation("\(topic)-\(p): expected offset \(offset), fetched \(r.offset)") }
                    records[r.offset] = StoredRecord(
                        key: r.key.map { Array(batch.buffer[Int($0.lowerBound)..<Int($0.upperBound)]) },
                        value: Array(batch.buffer[Int(r.value.lowerBound)..<Int(r.value.upperBound)]),
                        timestampMillis: r.timestampMillis)
                    offset += 1
                }
            }
            out[p] = records
        }
        return out
    }

    /// A batch of string values, keyed by the value itself when `keyed`.
    public static func records(_ values: [String], keyed: Bool = false, partition: Int32? = nil) -> ProduceBatch {
        var batch = ProduceBatch()
        for v in values { batch.append(key: keyed ? Array(v.utf8) : nil, value: Array(v.utf8), partition: partition) }
        return batch
    }

    /// A topic or group name no earlier run used.
    public static func uniqueName(_ prefix: String) -> String {
        "contract-\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
    }

    private static func withBus(_ makeBus: MakeBus, _ body: (any Bus) async throws -> Void) async throws {
        let bus = try await makeBus()
        do {
            try await body(bus)
        } catch {
            try? await bus.close()
            throw error
        }
        try await bus.close()
    }

    private static func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw BusContractViolation(message()) }
    }

    private static func expectError(_ expected: BusError, _ what: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as BusError {
            if error != expected { throw BusContractViolation("\(what): expected \(expected), got \(error)") }
            return
        }
        throw BusContractViolation("\(what): expected \(expected), got success")
    }
}
