import Foundation
import LogpipeBus
import LogpipeTesting
import MetricsTestKit
import Testing

@Suite struct LocalBusTests {
    let tp0 = TopicPartition(topic: "t", partition: 0)

    /// Produces `count` records to partition 0 of "t", one produce call (one batch) each,
    /// and returns the segment file size after each call: the batch boundaries.
    func produceOneByOne(_ bus: LocalBus, count: Int, dir: String, valueSize: Int = 50) async throws -> [Int64] {
        var boundaries: [Int64] = []
        for i in 0..<count {
            let value = "value-\(i)-" + String(repeating: "z", count: valueSize)
            _ = try await bus.produce(topic: "t", batch: BusContract.records([value], partition: 0))
            let files = try segmentFiles(dir + "/t-0")
            let size = try FileManager.default.attributesOfItem(atPath: dir + "/t-0/" + files.last!)[.size] as! Int
            boundaries.append(Int64(size))
        }
        return boundaries
    }

    func expectValues(_ bus: LocalBus, count: Int, valueSize: Int = 50) async throws {
        let all = try await BusContract.readAll(bus, topic: "t", partitions: 1)
        #expect(all[0]?.count == count)
        for i in 0..<count {
            let value = String(decoding: all[0]?[Int64(i)]?.value ?? [], as: UTF8.self)
            #expect(value == "value-\(i)-" + String(repeating: "z", count: valueSize))
        }
    }

    @Test func segmentFilesAndBatchFormatOnDisk() async throws {
        try await withLocalBus { bus, dir in
            try await bus.createTopic(TopicSpec(name: "t", partitions: 2))
            _ = try await bus.produce(topic: "t", batch: BusContract.records(["hello"], partition: 1))
            #expect(try segmentFiles(dir.appending("t-1")) == ["00000000000000000000.log"])
            #expect(FileManager.default.fileExists(atPath: dir.appending("_topics/t.json")))
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.appending("t-1/00000000000000000000.log"))))
            #expect(Array(bytes[0..<4]) == Array("LPB1".utf8))
            // Header (40) + key length -1 (1) + value length (1) + "hello" (5) + timestamp delta (1).
            #expect(bytes.count == 48)
            #expect(Array(bytes[40...]) == [1, 10] + Array("hello".utf8) + [0])
        }
    }

    @Test func maxBytesCountsKeysAndValuesExactly() async throws {
        try await withLocalBus { bus, _ in
            try await bus.createTopic(TopicSpec(name: "t", partitions: 1))
            let values = (0..<10).map { String(format: "%03d", $0) + String(repeating: "v", count: 97) }
            _ = try await bus.produce(topic: "t", batch: BusContract.records(values))
            for (maxBytes, expected) in [(1, 1), (100, 1), (199, 1), (200, 2), (250, 2), (300, 3), (10_000, 10)] {
                let batch = try await bus.fetch(tp0, from: 0, maxBytes: maxBytes, maxWaitMillis: 0)
                #expect(batch.records.count == expected, "maxBytes \(maxBytes)")
            }
            let fromMiddle = try await bus.fetch(tp0, from: 7, maxBytes: 150, maxWaitMillis: 0)
            #expect(fromMiddle.records.map(\.offset) == [7])
            #expect(valueString(fromMiddle, 0) == values[7])
        }
    }

    @Test func segmentsRollBySizeAndReadAcrossThem() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
        defer { dir.remove() }
        let options = testOptions(segmentBytes: 1024)
        var bus = try LocalBus(directory: dir.path, options: options)
        try await bus.createTopic(TopicSpec(name: "t", partitions: 1))
        _ = try await produceOneByOne(bus, count: 60, dir: dir.path)
        let files = try segmentFiles(dir.appending("t-0"))
        #expect(files.count >= 5)
        // Every file is named by the offset of its first record.
        let bases = files.map { Int64($0.prefix(20))! }
        #expect(bases.first == 0)
        for base in bases {
            let batch = try await bus.fetch(tp0, from: base, maxBytes: 1, maxWaitMillis: 0)
            #expect(batch.records.first?.offset == base)
            #expect(valueString(batch, 0) == "value-\(base)-" + String(repeating: "z", count: 50))
        }
        try await expectValues(bus, count: 60)
        try await bus.close()

        // Reopen through the index files, then without them.
        bus = try LocalBus(directory: dir.path, options: options)
        try await expectValues(bus, count: 60)
        try await bus.close()
        for f in try FileManager.default.contentsOfDirectory(atPath: dir.appending("t-0")) where f.hasSuffix(".index") {
            try FileManager.default.removeItem(atPath: dir.appending("t-0/" + f))
        }
        bus = try LocalBus(directory: dir.path, options: options)
        try await expectValues(bus, count: 60)
        let more = try await bus.produce(topic: "t", batch: BusContract.records(["after"], partition: 0))
        #expect(more.placements[0].offset == 60)
        try await bus.close()
    }

    @Test func tornTailIsCutAtTheLastWholeBatch() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
        defer { dir.remove() }
        let original = dir.appending("original")
        var bus = try LocalBus(directory: original, options: testOptions())
        try await bus.createTopic(TopicSpec(name: "t", partitions: 1))
        let boundaries = try await produceOneByOne(bus, count: 40, dir: original)
        try await bus.close()
        let segment = "/t-0/00000000000000000000.log"
        let fileSize = boundaries.last!
        var rng = SystemRandomNumberGenerator()
        var cuts = (0..<10).map { _ in Int64.random(in: 0..<fileSize, using: &rng) }
        cuts += [0, boundaries[0], boundaries[0] - 1, boundaries[20], boundaries[20] + 1, fileSize - 1]
        for (n, cut) in cuts.enumerated() {
            let copy = dir.appending("copy-\(n)")
            try FileManager.default.copyItem(atPath: original, toPath: copy)
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: copy + segment))
            try handle.truncate(atOffset: UInt64(cut))
            if n % 2 == 1 {
                // Garbage after the cut, as a torn write of a longer batch could leave.
                try handle.seekToEnd()
                try handle.write(contentsOf: Data((0..<Int.random(in: 1...300)).map { _ in UInt8.random(in: 0...255) }))
            }
            try handle.close()
            let whole = boundaries.filter { $0 <= cut }.count
            bus = try LocalBus(directory: copy, options: testOptions())
            let info = try await bus.topics()[0].partitions[0]
            #expect(info.highWatermark == Int64(whole), "cut at \(cut)")
            #expect(info.sizeBytes == (whole == 0 ? 0 : boundaries[whole - 1]), "cut at \(cut)")
            try await expectValues(bus, count: whole)
            // Appends continue right after the recovered tail.
            let next = try await bus.produce(topic: "t", batch: BusContract.records(["value-\(whole)-" + String(repeating: "z", count: 50)], partition: 0))
            #expect(next.placements[0].offset == Int64(whole))
            try await bus.close()
            bus = try LocalBus(directory: copy, options: testOptions())
            try await expectValues(bus, count: whole + 1)
            try await bus.close()
        }
    }

    @Test func corruptTailBatchIsCutOnOpen() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
        defer { dir.remove() }
        var bus = try LocalBus(directory: dir.path, options: testOptions())
        try await bus.createTopic(TopicSpec(name: "t", partitions: 1))
        let boundaries = try await produceOneByOne(bus, count: 10, dir: dir.path)
        try await bus.close()
        // Flip one byte inside the value of batch 6.
        try flipByte(dir.appending("t-0/00000000000000000000.log"), at: boundaries[5] + 45)
        bus = try LocalBus(directory: dir.path, options: testOptions())
        #expect(try await bus.topics()[0].partitions[0].highWatermark == 6)
        try await expectValues(bus, count: 6)
        try await bus.close()
    }

    @Test func corruptionInAnOlderSegmentIsReportedNotServed() async throws {
        for dropIndexFiles in [false, true] {
            let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
            defer { dir.remove() }
            let options = testOptions(segmentBytes: 1024)
            var bus = try LocalBus(directory: dir.path, options: options)
            try await bus.createTopic(TopicSpec(name: "t", partitions: 1))
            _ = try await produceOneByOne(bus, count: 60, dir: dir.path)
            try await bus.close()
            let files = try segmentFiles(dir.appending("t-0"))
            let secondBase = Int64(files[1].prefix(20))!
            let thirdBase = Int64(files[2].prefix(20))!
            // Corrupt the value of the third record of the second segment: batches
            // of one 57-byte value take 40 + 1 + 1 + 57 + 1 = 100 bytes.
            try flipByte(dir.appending("t-0/" + files[1]), at: 2 * 100 + 50)
            if dropIndexFiles {
                for f in try FileManager.default.contentsOfDirectory(atPath: dir.appending("t-0")) where f.hasSuffix(".index") {
                    try FileManager.default.removeItem(atPath: dir.appending("t-0/" + f))
                }
            }
            bus = try LocalBus(directory: dir.path, options: options)
            #expect(try await bus.topics()[0].partitions[0].highWatermark == 60, "older segments are never truncated")
            // Reading up to the bad batch returns the good records before it, then stops.
            let before = try await bus.fetch(tp0, from: secondBase, maxBytes: 1 << 20, maxWaitMillis: 0)
            #expect(before.records.map(\.offset) == [secondBase, secondBase + 1])
            await #expect(throws: BusError.self) {
                _ = try await bus.fetch(tp0, from: secondBase + 2, maxBytes: 1 << 20, maxWaitMillis: 0)
            }
            do {
                _ = try await bus.fetch(tp0, from: secondBase + 3, maxBytes: 1 << 20, maxWaitMillis: 0)
                Issue.record("a fetch past the corrupt batch in its segment must fail")
            } catch let error as BusError {
                guard case .corrupt = error else { throw error }
            }
            // The next segment is served.
            let after = try await bus.fetch(tp0, from: thirdBase, maxBytes: 1 << 20, maxWaitMillis: 0)
            #expect(after.records.first?.offset == thirdBase)
            try await bus.close()
        }
    }

    @Test func corruptionUnderAnOpenBusIsNeverServed() async throws {
        try await withLocalBus { bus, dir in
            try await bus.createTopic(TopicSpec(name: "t", partitions: 1))
            let boundaries = try await produceOneByOne(bus, count: 5, dir: dir.path)
            try flipByte(dir.appending("t-0/00000000000000000000.log"), at: boundaries[2] + 50)
            let good = try await bus.fetch(tp0, from: 0, maxBytes: 1 << 20, maxWaitMillis: 0)
            #expect(good.records.map(\.offset) == [0, 1, 2])
            do {
                _ = try await bus.fetch(tp0, from: 3, maxBytes: 1 << 20, maxWaitMillis: 0)
                Issue.record("served a corrupt batch")
            } catch let error as BusError {
                guard case .corrupt(let message) = error else { throw error }
                #expect(message.contains("CRC"))
            }
        }
    }

    @Test func retentionByAgeDeletesOldSegmentsButNeverTheActiveOne() async throws {
        try await withLocalBus(options: testOptions(segmentBytes: 1024)) { bus, dir in
            try await bus.createTopic(TopicSpec(name: "t", partitions: 1, retention: RetentionPolicy(maxAgeSeconds: 3600)))
            _ = try await produceOneByOne(bus, count: 60, dir: dir.path)
            let segments = try segmentFiles(dir.appending("t-0"))
            #expect(segments.count >= 5)
            #expect(try await bus.enforceRetention(now: Date()) == 0)
            #expect(try await bus.enforceRetention(now: Date().addingTimeInterval(2 * 3600)) == segments.count - 1)
            #expect(try segmentFiles(dir.appending("t-0")) == [segments.last!])
            let info = try await bus.topics()[0].partitions[0]
            let activeBase = Int64(segments.last!.prefix(20))!
            #expect(info.lowWatermark == activeBase && info.highWatermark == 60)
            await #expect(throws: BusError.offsetOutOfRange(tp0, requested: 0, low: activeBase, high: 60)) {
                _ = try await bus.fetch(tp0, from: 0, maxBytes: 1000, maxWaitMillis: 0)
            }
            let batch = try await bus.fetch(tp0, from: activeBase, maxBytes: 1 << 20, maxWaitMillis: 0)
            #expect(batch.records.count == Int(60 - activeBase))
        }
    }

    @Test func retentionBySizeKeepsThePartitionUnderItsLimit() async throws {
        try await withLocalBus(options: testOptions(segmentBytes: 1024)) { bus, dir in
            let limit: Int64 = 3000
            try await bus.createTopic(TopicSpec(name: "t", partitions: 1, retention: RetentionPolicy(maxAgeSeconds: nil, maxBytesPerPartition: limit)))
            _ = try await produceOneByOne(bus, count: 80, dir: dir.path)
            try await bus.enforceRetention(now: Date())
            let info = try await bus.topics()[0].partitions[0]
            let files = try segmentFiles(dir.appending("t-0"))
            let onDisk = try files.reduce(Int64(0)) { sum, f in
                sum + Int64(try FileManager.default.attributesOfItem(atPath: dir.appending("t-0/" + f))[.size] as! Int)
            }
            #expect(info.sizeBytes == onDisk)
            #expect(info.sizeBytes <= limit)
            #expect(info.sizeBytes > limit - 1200, "deletes only while over the limit")
            #expect(info.lowWatermark == Int64(files.first!.prefix(20))!)
            #expect(info.highWatermark == 80)
            let all = try await BusContract.readAll(bus, topic: "t", partitions: 1)
            #expect(all[0]?.count == Int(80 - info.lowWatermark))
        }
    }

    @Test func setRetentionAppliesAtOnceAndSurvivesReopen() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
        defer { dir.remove() }
        let options = testOptions(segmentBytes: 1024)
        var bus = try LocalBus(directory: dir.path, options: options)
        try await bus.createTopic(TopicSpec(name: "t", partitions: 1))
        _ = try await produceOneByOne(bus, count: 80, dir: dir.path)
        let files = try segmentFiles(dir.appending("t-0"))
        #expect(files.count >= 6)
        let sizes = try files.map { Int64(try FileManager.default.attributesOfItem(atPath: dir.appending("t-0/" + $0))[.size] as! Int) }
        // The oldest segments go while the partition is over the limit, the active one never.
        let limit: Int64 = 3000
        var total = sizes.reduce(0, +), deleted = 0
        while deleted < files.count - 1 && total > limit {
            total -= sizes[deleted]
            deleted += 1
        }
        #expect(deleted >= 2 && deleted < files.count - 1, "the limit cuts in the middle: \(sizes)")
        let policy = RetentionPolicy(maxAgeSeconds: 24 * 3600, maxBytesPerPartition: limit)
        #expect(try await bus.setRetention(policy, topic: "t") == deleted)
        #expect(try segmentFiles(dir.appending("t-0")) == Array(files.dropFirst(deleted)))
        let low = Int64(files[deleted].prefix(20))!
        var info = try await bus.topics()[0].partitions[0]
        #expect(info.lowWatermark == low && info.highWatermark == 80 && info.sizeBytes == total)
        var all = try await BusContract.readAll(bus, topic: "t", partitions: 1)
        #expect(all[0]?.count == Int(80 - low))
        for offset in low..<80 {
            #expect(String(decoding: all[0]?[offset]?.value ?? [], as: UTF8.self) == "value-\(offset)-" + String(repeating: "z", count: 50))
        }
        #expect(try bus.topicSpec("t").retention == policy)
        // The same retention again changes nothing.
        #expect(try await bus.setRetention(policy, topic: "t") == 0)
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.appending("_topics/t.json")))) as! [String: Any]
        #expect(file["retentionMaxAgeSeconds"] as? Int == 24 * 3600 && file["retentionMaxBytesPerPartition"] as? Int == 3000)
        await #expect(throws: BusError.unknownTopic("nope")) { try await bus.setRetention(policy, topic: "nope") }
        try await bus.close()

        bus = try LocalBus(directory: dir.path, options: options)
        #expect(try bus.topicSpec("t").retention == policy)
        info = try await bus.topics()[0].partitions[0]
        #expect(info.lowWatermark == low && info.highWatermark == 80)
        all = try await BusContract.readAll(bus, topic: "t", partitions: 1)
        #expect(all[0]?.count == Int(80 - low))
        // Back to no limits: nothing more is deleted, and that survives a reopen too.
        #expect(try await bus.setRetention(RetentionPolicy(maxAgeSeconds: nil), topic: "t") == 0)
        try await bus.close()
        bus = try LocalBus(directory: dir.path, options: options)
        #expect(try bus.topicSpec("t").retention == RetentionPolicy(maxAgeSeconds: nil, maxBytesPerPartition: nil))
        #expect(try segmentFiles(dir.appending("t-0")) == Array(files.dropFirst(deleted)))
        try await bus.close()
    }

    @Test func backpressureThrowsOverloadedInsteadOfQueueing() async throws {
        let options = testOptions(maxPendingBytes: 64 << 10)
        try await withLocalBus(options: options) { bus, _ in
            try await bus.createTopic(TopicSpec(name: "t", partitions: 3))
            let big = String(repeating: "b", count: 70 << 10)
            await #expect(throws: BusError.recordTooLarge(70 * 1024 + 40 + 1 + 3 + 1)) {
                _ = try await bus.produce(topic: "t", batch: BusContract.records([big], partition: 0))
            }
            let value = String(repeating: "v", count: 20 << 10)
            let outcomes = await withTaskGroup(of: Result<ProduceResult, BusError>.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        do { return .success(try await bus.produce(topic: "t", batch: BusContract.records([value], partition: 1))) }
                        catch { return .failure(error as! BusError) }
                    }
                }
                var all: [Result<ProduceResult, BusError>] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            var accepted = 0
            var overloaded = 0
            for outcome in outcomes {
                switch outcome {
                case .success: accepted += 1
                case .failure(.overloaded(let retry)):
                    #expect(retry == 1)
                    overloaded += 1
                case .failure(let other): Issue.record("unexpected \(other)")
                }
            }
            #expect(overloaded > 0)
            #expect(accepted + overloaded == 40)
            // Rejected produces left no gap: the accepted records are exactly offsets 0..<accepted.
            let all = try await BusContract.readAll(bus, topic: "t", partitions: 3)
            #expect(all[1]?.count == accepted)
            #expect(try await bus.topics()[0].partitions[1].highWatermark == Int64(accepted))
            // With the flusher caught up, produce is accepted again.
            _ = try await bus.produce(topic: "t", batch: BusContract.records([value], partition: 1))
        }
    }

    @Test func keylessRecordsGoRoundRobin() async throws {
        try await withLocalBus { bus, _ in
            try await bus.createTopic(TopicSpec(name: "t", partitions: 3))
            let result = try await bus.produce(topic: "t", batch: BusContract.records((0..<9).map { "r\($0)" }))
            let counts = Dictionary(grouping: result.placements, by: \.partition).mapValues(\.count)
            #expect(counts == [0: 3, 1: 3, 2: 3])
        }
    }

    @Test func closeFlushesAndRefusesFurtherWork() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
        defer { dir.remove() }
        let bus = try LocalBus(directory: dir.path, options: testOptions())
        try await bus.createTopic(TopicSpec(name: "t", partitions: 1))
        async let waiting = bus.fetch(tp0, from: 0, maxBytes: 100, maxWaitMillis: 30_000)
        try await Task.sleep(for: .milliseconds(50))
        let started = ContinuousClock.now
        try await bus.close()
        // A long poll in progress returns when the bus closes.
        let polled = try? await waiting
        #expect(polled?.records.isEmpty ?? true)
        #expect(ContinuousClock.now - started < .seconds(5))
        await #expect(throws: BusError.closed) {
            _ = try await bus.produce(topic: "t", batch: BusContract.records(["late"]))
        }
    }

    @Test func groupOffsetsAreStoredAtomicallyInTheirOwnFiles() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
        defer { dir.remove() }
        var bus = try LocalBus(directory: dir.path, options: testOptions())
        try await bus.createTopic(TopicSpec(name: "t", partitions: 3))
        try await bus.commit(group: "spark-streaming-group", offsets: [TopicPartition(topic: "t", partition: 2): 42])
        try await bus.commit(group: "odd/name..", offsets: [TopicPartition(topic: "t", partition: 0): 1])
        // Beside each group's file, the lock that serialises commits from several processes.
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appending("_groups")).sorted()
        #expect(files == ["odd%2Fname%2E%2E.json", "odd%2Fname%2E%2E.lock", "spark-streaming-group.json", "spark-streaming-group.lock"])
        try await bus.close()
        // A temporary file a crash left behind is ignored.
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: dir.appending("_groups/spark-streaming-group.json.tmp")))
        bus = try LocalBus(directory: dir.path, options: testOptions())
        #expect(try await bus.groups() == ["odd/name..", "spark-streaming-group"])
        #expect(try await bus.committedOffsets(group: "spark-streaming-group", topic: "t") == [2: 42])
        #expect(try await bus.committedOffsets(group: "odd/name..", topic: "t") == [0: 1])
        try await bus.close()
    }

    private func flipByte(_ path: String, at position: Int64) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(position))
        let byte = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: UInt64(position))
        try handle.write(contentsOf: Data([byte ^ 0x5A]))
        try handle.close()
    }
}

@Suite struct LocalBusMetricsTests {
    @Test func appendsAndFsyncsAreMeasuredPerPartition() async throws {
        let metrics = TestMetrics()
        var options = testOptions(maxPendingBytes: 1 << 20)
        options.metricsFactory = metrics
        try await withLocalBus(options: options) { bus, _ in
            try await bus.createTopic(TopicSpec(name: "m", partitions: 2))
            _ = try await bus.produce(topic: "m", batch: BusContract.records(["aaaa", "bbbbbb"], partition: 1))
            _ = try await bus.produce(topic: "m", batch: BusContract.records(["cc"], partition: 1))
            let dims = [("topic", "m"), ("partition", "1")]
            // Two batches: 40-byte headers plus 7 + 9 and 5 bytes of records.
            #expect(try metrics.expectCounter("logpipe_bus_appended_bytes_total", dims).totalValue == 40 + 16 + 40 + 5)
            #expect(try metrics.expectCounter("logpipe_bus_appended_records_total", dims).totalValue == 3)
            #expect(try metrics.expectGauge("logpipe_bus_high_watermark", dims).lastValue == 3)
            #expect(try metrics.expectGauge("logpipe_bus_partition_size_bytes", dims).lastValue == 101)
            #expect(try metrics.expectGauge("logpipe_bus_high_watermark", [("topic", "m"), ("partition", "0")]).lastValue == 0)
            #expect(try metrics.expectTimer("logpipe_bus_fsync_seconds", dims).values.count == 2)
            #expect(try metrics.expectTimer("logpipe_bus_append_seconds", [("topic", "m")]).values.count == 2)

            let big = String(repeating: "x", count: 600 << 10)
            let refused = await withTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        (try? await bus.produce(topic: "m", batch: BusContract.records([big], partition: 0))) == nil ? 1 : 0
                    }
                }
                return await group.reduce(0, +)
            }
            #expect(refused > 0)
            #expect(try metrics.expectCounter("logpipe_bus_overloaded_total").totalValue == Int64(refused))
        }
    }
}

@Suite struct LocalBusInputTests {
    @Test func entriesOutsideTheBufferAreRefusedAndHugeMaxBytesIsFine() async throws {
        try await withLocalBus { bus, _ in
            try await bus.createTopic(TopicSpec(name: "t", partitions: 1))
            var batch = BusContract.records(["abc"])
            batch.entries[0].value = 1..<9
            await #expect(throws: BusError.self) { _ = try await bus.produce(topic: "t", batch: batch) }
            batch.entries[0] = ProduceBatch.Entry(key: -1..<2, value: 0..<3)
            await #expect(throws: BusError.self) { _ = try await bus.produce(topic: "t", batch: batch) }
            #expect(try await bus.topics()[0].partitions[0].highWatermark == 0)
            _ = try await bus.produce(topic: "t", batch: BusContract.records(["abc"]))
            let all = try await bus.fetch(TopicPartition(topic: "t", partition: 0), from: 0, maxBytes: .max, maxWaitMillis: 0)
            #expect(all.records.count == 1)
            let empty = try await bus.produce(topic: "t", batch: ProduceBatch())
            #expect(empty.placements.isEmpty)
        }
    }
}
