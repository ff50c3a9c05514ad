import Foundation
import FuzzDriver
import Logging
import LogpipeBus

/// One input: the bytes of a partition's only segment file. The embedded bus opens the
/// directory as its writer (recovery scans the segment, keeps the valid prefix and cuts
/// the rest), every record it then reports is fetched, and one more append must land
/// right after them and survive a reopen.
let root = scratchDirectory("bus")
let topic = "fuzz"
/// Recovery reports what it cut at warning level: quiet here, or logging would be the run.
let options: LocalBusOptions = {
    var options = LocalBusOptions()
    options.logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }
    return options
}()

/// The partition directory and its segment file, made once by creating the topic.
let segmentPath: String = {
    let made = blocking {
        let bus = try LocalBus(directory: root, options: options)
        try await bus.createTopic(TopicSpec(name: topic, partitions: 1))
        var batch = ProduceBatch()
        batch.append(key: Array("k".utf8), value: Array("seed".utf8))
        _ = try await bus.produce(topic: topic, batch: batch)
        try await bus.close()
    }
    if case .failure(let error) = made { fatalError("setting up the bus: \(error)") }
    let enumerator = FileManager.default.enumerator(atPath: root)!
    while let name = enumerator.nextObject() as? String {
        if name.hasSuffix(".log") { return "\(root)/\(name)" }
    }
    fatalError("no segment file under \(root)")
}()

/// Every record of the partition: (offset, value).
func readAll(_ bus: LocalBus) async throws -> [(Int64, [UInt8])] {
    let partition = try await bus.topics().first { $0.name == topic }!.partitions[0]
    var out: [(Int64, [UInt8])] = []
    var offset = partition.lowWatermark
    while offset < partition.highWatermark {
        let batch = try await bus.fetch(TopicPartition(topic: topic, partition: 0), from: offset, maxBytes: 1 << 20, maxWaitMillis: 0)
        guard !batch.records.isEmpty else { break }
        for record in batch.records {
            out.append((record.offset, Array(batch.buffer[Int(record.value.lowerBound)..<Int(record.value.upperBound)])))
        }
        offset = batch.nextOffset(after: offset)
    }
    precondition(out.count == Int(partition.highWatermark - partition.lowWatermark),
                 "high watermark \(partition.highWatermark) but \(out.count) records readable")
    return out
}

writeSeedIfAsked {
    _ = segmentPath
    let made = blocking {
        let bus = try LocalBus(directory: root, options: options)
        for i in 0..<3 {
            var batch = ProduceBatch()
            for j in 0..<4 { batch.append(key: Array("k\(j)".utf8), value: Array("record \(i)-\(j)".utf8)) }
            _ = try await bus.produce(topic: topic, batch: batch)
        }
        try await bus.close()
    }
    if case .failure(let error) = made { fatalError("\(error)") }
    return Array(FileManager.default.contents(atPath: segmentPath)!)
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzBusSegment(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Data(bytes: data, count: count)
    let directory = (segmentPath as NSString).deletingLastPathComponent
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".log") || name.hasSuffix(".index") {
        try? FileManager.default.removeItem(atPath: "\(directory)/\(name)")
    }
    try! bytes.write(to: URL(fileURLWithPath: segmentPath))
    let outcome = blocking { () async throws -> Void in
        let bus = try LocalBus(directory: root, options: options)
        let before: [(Int64, [UInt8])]
        do {
            before = try await readAll(bus)
            var batch = ProduceBatch()
            batch.append(key: Array("k".utf8), value: Array("after".utf8))
            let placed = try await bus.produce(topic: topic, batch: batch)
            let expected = before.last.map { $0.0 + 1 } ?? 0
            precondition(placed.placements.first?.offset == expected, "append landed at \(String(describing: placed.placements.first)), expected \(expected)")
        } catch {
            try? await bus.close()
            throw error
        }
        try await bus.close()
        // What recovery kept, and the append, survive a reopen unchanged.
        let again = try LocalBus(directory: root, options: options)
        let after = try await readAll(again)
        try await again.close()
        precondition(after.count == before.count + 1, "\(before.count) records and one append, \(after.count) after reopening")
        for (a, b) in zip(before, after) { precondition(a.0 == b.0 && a.1 == b.1, "record \(a.0) changed across a reopen") }
        precondition(after.last!.1 == Array("after".utf8))
    }
    _ = outcome
    return 0
}

runFuzzer(fuzzBusSegment)
