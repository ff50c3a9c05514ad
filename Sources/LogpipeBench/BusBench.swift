import Foundation
import LogpipeBus
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The local bus's durable append throughput against the disk's own ceiling,
/// measured in the same run on the same file system.
///
/// - Bus: `producers` concurrent tasks produce pre-built `ProduceBatch`es of
///   `batchRecords` keyed records (~`valueBytes` each, keyed by one of 20
///   service names as the collector keys logs) to a topic of `partitions`
///   partitions; every `produce` returns only after its records are fsynced.
/// - Baseline: one file, `write()` of the same number of bytes the bus wrote,
///   in chunks the size of one encoded produce batch, with one `fdatasync`
///   after every `producers` chunks: what an ideal group commit of that many
///   concurrent producers would cost with no log format, no offsets and one file.
/// - For several partitions also the same baseline spread over as many files
///   (each chunk split evenly, every file fdatasynced per group, one after another):
///   the ceiling of a log kept in one file per partition.
/// - Fetch: every record read back through `fetch` with 1 MiB `maxBytes`
///   (from the page cache, CRC checked).
///
/// The machine is shared, so each configuration runs `rounds` times with bus
/// and baselines interleaved, and the best time of each is compared.
public enum BusBench {
    /// Runs the benchmark in a fresh directory under `directory` (removed after)
    /// and returns a text report.
    public static func run(
        directory: String, records: Int = 1_000_000, valueBytes: Int = 300, batchRecords: Int = 100,
        producers: Int = 8, partitions: [Int32] = [3, 1], rounds: Int = 3
    ) async throws -> String {
        let root = directory + "/busbench-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }

        let batches = makeBatches(records: records, valueBytes: valueBytes, batchRecords: batchRecords)
        let payload = batches.reduce(0) { $0 + $1.buffer.count }
        var lines: [String] = []
        lines.append("bus bench: \(records) records of ~\(valueBytes) B (\(mb(payload)) MB of keys and values), "
            + "ProduceBatch of \(batchRecords), \(producers) concurrent producers, fsync before every acknowledgement, "
            + "best of \(rounds) interleaved rounds")

        for count in partitions {
            var busBest = Double.infinity
            var baseBest = Double.infinity
            var filesBest = Double.infinity
            var fetchSeconds = 0.0
            var written = 0
            var rounds_: [String] = []
            for round in 0..<rounds {
                let busDir = root + "/bus-\(count)-\(round)"
                let bus = try LocalBus(directory: busDir, options: LocalBusOptions(retentionCheckIntervalSeconds: nil))
                try await bus.createTopic(TopicSpec(name: "bench", partitions: count, retention: RetentionPolicy(maxAgeSeconds: nil)))
                let busSeconds = try await produceAll(bus, batches, producers: producers)
                let info = try await bus.topics().first { $0.name == "bench" }!
                written = Int(info.partitions.reduce(0) { $0 + $1.sizeBytes })
                let stored = info.partitions.reduce(0) { $0 + $1.highWatermark }
                guard stored == Int64(records) else { throw BusError.io("bench stored \(stored) of \(records) records") }
                let stats = bus.flushStatistics
                if round == rounds - 1 { fetchSeconds = try await fetchAll(bus, info, records: records) }
                // Not in the bus's time: acknowledged data is durable in the journal; this is the
                // last checkpoint making the segments durable too, reported beside it.
                let closeSeconds = seconds(try await ContinuousClock().measure { try await bus.close() })
                try? FileManager.default.removeItem(atPath: busDir)

                let chunk = written / batches.count
                let baseSeconds = try baseline(path: root + "/baseline", files: 1, bytes: written, chunk: chunk, chunksPerSync: producers)
                var line = "  round \(round + 1): bus \(fixed(busSeconds)) s (\(stats.cycles) fsync groups of "
                    + "\(fixed(Double(stats.produceCalls) / Double(max(stats.cycles, 1)))) produce calls, \(stats.fsyncs) fsyncs, "
                    + "\(stats.checkpoints) journal checkpoints, \(stats.journalBypasses) cycles past the journal; close \(fixed(closeSeconds)) s), "
                    + "baseline \(fixed(baseSeconds)) s"
                if count > 1 {
                    let filesSeconds = try baseline(path: root + "/baseline", files: Int(count), bytes: written, chunk: chunk, chunksPerSync: producers)
                    filesBest = min(filesBest, filesSeconds)
                    line += ", \(count)-file baseline \(fixed(filesSeconds)) s"
                }
                rounds_.append(line)
                busBest = min(busBest, busSeconds)
                baseBest = min(baseBest, baseSeconds)
            }
            let chunk = written / batches.count
            lines.append("")
            lines.append("\(count) partition\(count == 1 ? "" : "s"): \(mb(written)) MB written to segments")
            lines.append("  bus append + fsync       \(rate(Double(records) / busBest)) records/s  \(fixed(Double(written) / busBest / 1e6)) MB/s")
            lines.append("  baseline write+fsync     \(rate(Double(records) / baseBest)) records/s  \(fixed(Double(written) / baseBest / 1e6)) MB/s  (one file, \(chunk) B writes, fdatasync every \(producers))")
            lines.append("  ratio bus/baseline       \(fixed(baseBest / busBest * 100))%  (target ≥ 70%)")
            if count > 1 {
                lines.append("  \(count)-file baseline         \(rate(Double(records) / filesBest)) records/s  \(fixed(Double(written) / filesBest / 1e6)) MB/s  (same writes split over \(count) files, each fdatasynced per group)")
                lines.append("  ratio bus/\(count)-file baseline \(fixed(filesBest / busBest * 100))%")
            }
            lines.append("  fetch (page cache)       \(rate(Double(records) / fetchSeconds)) records/s  \(fixed(Double(payload) / fetchSeconds / 1e6)) MB/s of keys and values")
            lines.append(contentsOf: rounds_)
        }
        return lines.joined(separator: "\n")
    }

    /// Produces every batch from `producers` tasks; returns the wall time in seconds.
    private static func produceAll(_ bus: LocalBus, _ batches: [ProduceBatch], producers: Int) async throws -> Double {
        let cursor = Cursor()
        let time = try await ContinuousClock().measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<producers {
                    group.addTask {
                        while true {
                            let i = cursor.next.wrappingAdd(1, ordering: .relaxed).oldValue
                            if i >= batches.count { return }
                            _ = try await bus.produce(topic: "bench", batch: batches[i])
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        return seconds(time)
    }

    /// Reads every record back; returns the wall time in seconds.
    private static func fetchAll(_ bus: LocalBus, _ info: TopicInfo, records: Int) async throws -> Double {
        var fetched = 0
        let time = try await ContinuousClock().measure {
            for p in info.partitions {
                var offset = p.lowWatermark
                while offset < p.highWatermark {
                    let batch = try await bus.fetch(TopicPartition(topic: info.name, partition: p.partition), from: offset,
                                                    maxBytes: 1 << 20, maxWaitMillis: 0)
                    fetched += batch.records.count
                    offset = batch.nextOffset(after: offset)
                }
            }
        }
        guard fetched == records else { throw BusError.io("bench fetched \(fetched) of \(records) records") }
        return seconds(time)
    }

    /// Batches of keyed records whose values look like the collector's log JSON.
    private static func makeBatches(records: Int, valueBytes: Int, batchRecords: Int) -> [ProduceBatch] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func nextRandom() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let services = (0..<20).map { Array("service-\($0)".utf8) }
        let filler = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        var batches: [ProduceBatch] = []
        batches.reserveCapacity(records / batchRecords + 1)
        var made = 0
        var value = [UInt8]()
        while made < records {
            var batch = ProduceBatch()
            batch.buffer.reserveCapacity(batchRecords * (valueBytes + 16))
            for _ in 0..<min(batchRecords, records - made) {
                let service = services[Int(nextRandom() % 20)]
                value.removeAll(keepingCapacity: true)
                value.append(contentsOf: #"{"timestamp":1736645166.291,"level":"INFO","service":""#.utf8)
                value.append(contentsOf: service)
                value.append(contentsOf: #"","message":""#.utf8)
                let target = valueBytes - 2 + Int(nextRandom() % 41) - 20
                while value.count < target { value.append(filler[Int(nextRandom() % UInt64(filler.count))]) }
                value.append(contentsOf: #""}"#.utf8)
                batch.append(key: service, value: value)
                made += 1
            }
            batches.append(batch)
        }
        return batches
    }

    /// Sequential `write()` of `bytes` in `chunk`-byte writes (each split evenly over
    /// `files` files), `fdatasync` of every file after every `chunksPerSync` chunks
    /// and at the end; returns the wall time in seconds.
    private static func baseline(path: String, files: Int, bytes: Int, chunk: Int, chunksPerSync: Int) throws -> Double {
        var fds: [Int32] = []
        defer {
            for (i, fd) in fds.enumerated() {
                close(fd)
                unlink(path + "-\(i)")
            }
        }
        for i in 0..<files {
            let fd = open(path + "-\(i)", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw BusError.io("open \(path): \(String(cString: strerror(errno)))") }
            fds.append(fd)
        }
        let data = [UInt8]((0..<chunk).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let time = try ContinuousClock().measure {
            var written = 0
            var sinceSync = 0
            try data.withUnsafeBytes { raw in
                while written < bytes {
                    let n = min(chunk, bytes - written)
                    for (i, fd) in fds.enumerated() {
                        let from = n * i / files
                        let to = n * (i + 1) / files
                        var done = from
                        while done < to {
                            let w = write(fd, raw.baseAddress! + done, to - done)
                            if w < 0 { throw BusError.io("write \(path): \(String(cString: strerror(errno)))") }
                            done += w
                        }
                    }
                    written += n
                    sinceSync += 1
                    if sinceSync == chunksPerSync || written == bytes {
                        for fd in fds {
                            #if os(Linux)
                            let rc = fdatasync(fd)
                            #else
                            let rc = fsync(fd)
                            #endif
                            if rc != 0 { throw BusError.io("fsync \(path): \(String(cString: strerror(errno)))") }
                        }
                        sinceSync = 0
                    }
                }
            }
        }
        return seconds(time)
    }

    /// The next batch to produce, shared by the producer tasks.
    private final class Cursor: Sendable {
        let next = Atomic<Int>(0)
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private static func mb(_ bytes: Int) -> String { fixed(Double(bytes) / 1e6) }
    private static func fixed(_ x: Double) -> String { String(format: "%.1f", x) }
    private static func rate(_ x: Double) -> String { String(format: "%9.0f", x) }
}
