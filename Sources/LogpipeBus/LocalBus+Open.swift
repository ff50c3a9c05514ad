import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Opening: topic and group metadata, and the recovery of each partition.
extension LocalBus {
    func loadTopics() throws -> [String: TopicState] {
        var topics: [String: TopicState] = [:]
        // A reader may open before the writer has created anything; the follower adopts topics as they appear.
        if options.access == .read && !FileIO.exists(topicsDirectory) { return topics }
        for name in try FileIO.list(topicsDirectory).sorted() where name.hasSuffix(".json") {
            let (spec, topic) = try loadTopic(file: name)
            topics[spec.name] = topic
        }
        return topics
    }

    /// Opens the topic described by `_topics/<file>` and its partitions.
    func loadTopic(file name: String) throws -> (TopicSpec, TopicState) {
        let path = topicsDirectory + "/" + name
        let spec: TopicSpec
        do {
            spec = try Self.decodeTopic(try FileIO.readFile(path))
        } catch {
            throw BusError.corrupt("topic metadata \(path): \(error)")
        }
        var partitions: [PartitionLog] = []
        for p in 0..<spec.partitions {
            partitions.append(try openPartition(TopicPartition(topic: spec.name, partition: p)))
        }
        let topic = TopicState(spec: spec, partitions: partitions, metricsFactory: metricsFactory)
        for p in partitions { p.updateGauges() }
        return (spec, topic)
    }

    /// Removes group-offset files that commits left half-written when they crashed before
    /// their rename (the previous file still holds the group's offsets). Only old ones:
    /// a young one may be a commit in flight in another process.
    func removeStaleGroupTemporaries() throws {
        let now = time(nil)
        for name in try FileIO.list(groupsDirectory) where name.hasSuffix(".tmp") {
            let path = groupsDirectory + "/" + name
            var st = stat()
            if stat(path, &st) == 0 && now - st.st_mtim.tv_sec > 60 { try FileIO.remove(path) }
        }
    }

    /// Opens one partition's directory, creating it with an empty first segment
    /// when new, and recovers its segments (see `LocalBus`).
    func openPartition(_ tp: TopicPartition) throws -> PartitionLog {
        let dir = directory + "/" + tp.description
        if options.access == .read { return try openPartitionForReading(tp, dir: dir) }
        try FileIO.makeDirectories(dir)
        var bases: [Int64] = []
        for name in try FileIO.list(dir) {
            if name.hasSuffix(".tmp") {
                try FileIO.remove(dir + "/" + name)
            } else if let base = Segment.baseOffset(fileName: name) {
                bases.append(base)
            }
        }
        bases.sort()
        var segments: [Segment] = []
        for (i, base) in bases.enumerated() {
            let isTail = i == bases.count - 1
            let segment = try openSegment(tp, dir: dir, base: base, isTail: isTail)
            if let previous = segments.last, previous.nextOffset != base {
                let problem = previous.nextOffset < base
                    ? "offsets \(previous.nextOffset)..<\(base) are missing after \(previous.path)"
                    : "\(previous.path) runs to offset \(previous.nextOffset), past the next segment's base \(base)"
                previous.corruption = previous.corruption.map { $0 + "; " + problem } ?? problem
                logger.error("segments do not line up; fetches reaching the gap fail as corrupt", metadata: [
                    "partition": "\(tp)", "problem": "\(problem)",
                ])
            }
            segments.append(segment)
        }
        if segments.isEmpty {
            let path = dir + "/" + Segment.fileName(base: 0)
            let fd = try FileIO.openReadWrite(path, create: true)
            try FileIO.syncDirectory(dir)
            segments.append(Segment(baseOffset: 0, path: path, indexPath: Self.indexPath(forLog: path), fd: fd, scan: Segment.Scan(baseOffset: 0)))
        }
        let markerFD = try FileIO.openReadWrite(DurableMarker.path(partitionDirectory: dir), create: true)
        let log = PartitionLog(tp: tp, directory: dir, segments: segments, markerFD: markerFD, metricsFactory: metricsFactory)
        // Recovery decided what is durable; readers in other processes learn it from here.
        publishDurable(log)
        return log
    }

    /// Opens a partition another process writes: its segments up to the writer's
    /// durable marker, read-only, changing nothing on disk.
    private func openPartitionForReading(_ tp: TopicPartition, dir: String) throws -> PartitionLog {
        let markerPath = DurableMarker.path(partitionDirectory: dir)
        let markerFD: Int32
        do {
            markerFD = try FileIO.openReadOnly(markerPath)
        } catch {
            throw BusError.io("\(tp) has no durable marker (\(markerPath)): the bus was last written by an older logpipe; open it once with its writer (logpipe collect or run)")
        }
        guard let marker = DurableMarker.read(fd: markerFD) else {
            FileIO.closeFile(markerFD)
            throw BusError.corrupt("unreadable durable marker \(markerPath)")
        }
        do {
            let bases = try FileIO.list(dir).compactMap(Segment.baseOffset(fileName:)).filter { $0 <= marker.segmentBase }.sorted()
            var segments: [Segment] = []
            for base in bases {
                let path = dir + "/" + Segment.fileName(base: base)
                let fd: Int32
                do {
                    fd = try FileIO.openReadOnly(path)
                } catch {
                    // Retention deleted it between the listing and here.
                    if !FileIO.exists(path) && segments.isEmpty { continue }
                    throw error
                }
                let indexPath = Self.indexPath(forLog: path)
                let isTail = base == marker.segmentBase
                let size = isTail ? marker.durableSize : try FileIO.size(fd, path)
                let scan: Segment.Scan
                if !isTail, let cached = Segment.readIndexFile(path: indexPath, baseOffset: base, logSize: size) {
                    scan = cached
                } else {
                    scan = try Segment.scan(fd: fd, path: path, from: Segment.Scan(baseOffset: base), upTo: size,
                                            indexInterval: options.indexIntervalBytes, maxBatchBytes: options.maxBatchBytes)
                }
                let segment = Segment(baseOffset: base, path: path, indexPath: indexPath, fd: fd, scan: scan)
                if let problem = scan.problem {
                    segment.corruption = problem
                    logger.error("durable bytes written by the writer do not verify", metadata: ["segment": "\(path)", "problem": "\(problem)"])
                }
                segments.append(segment)
            }
            guard segments.last?.baseOffset == marker.segmentBase else {
                throw BusError.corrupt("\(tp): the durable marker names segment \(marker.segmentBase), which is missing")
            }
            return PartitionLog(tp: tp, directory: dir, segments: segments, markerFD: markerFD, metricsFactory: metricsFactory)
        } catch {
            FileIO.closeFile(markerFD)
            throw error
        }
    }

    private func openSegment(_ tp: TopicPartition, dir: String, base: Int64, isTail: Bool) throws -> Segment {
        let path = dir + "/" + Segment.fileName(base: base)
        let indexPath = Self.indexPath(forLog: path)
        let fd = try FileIO.openReadWrite(path, create: false)
        do {
            let size = try FileIO.size(fd, path)
            if !isTail, let cached = Segment.readIndexFile(path: indexPath, baseOffset: base, logSize: size) {
                return Segment(baseOffset: base, path: path, indexPath: indexPath, fd: fd, scan: cached)
            }
            let scan = try Segment.scan(fd: fd, path: path, from: Segment.Scan(baseOffset: base),
                                        indexInterval: options.indexIntervalBytes, maxBatchBytes: options.maxBatchBytes)
            let segment = Segment(baseOffset: base, path: path, indexPath: indexPath, fd: fd, scan: scan)
            if let problem = scan.problem {
                if isTail {
                    // A torn or corrupt tail: nothing after it was ever acknowledged, since acknowledgements follow fsync in order.
                    let cut = size - scan.validSize
                    logger.warning("recovery truncated the log tail", metadata: [
                        "partition": "\(tp)", "segment": "\(path)", "problem": "\(problem)",
                        "keptBytes": "\(scan.validSize)", "cutBytes": "\(cut)", "nextOffset": "\(scan.nextOffset)",
                    ])
                    truncatedBytesCounter.increment(by: cut)
                    try FileIO.truncate(fd, to: scan.validSize, path)
                } else {
                    segment.corruption = problem
                    logger.error("corrupt batch in an older segment; fetches reaching it fail as corrupt", metadata: [
                        "partition": "\(tp)", "segment": "\(path)", "problem": "\(problem)", "readableOffsets": "\(base)..<\(scan.nextOffset)",
                    ])
                }
            } else if !isTail {
                try? Segment.writeIndexFile(path: indexPath, logSize: size, scan: scan)
            }
            return segment
        } catch {
            FileIO.closeFile(fd)
            throw error
        }
    }

    // MARK: Metadata files

    static func encodeTopic(_ spec: TopicSpec) throws -> [UInt8] {
        var object: [String: Any] = ["name": spec.name, "partitions": Int(spec.partitions)]
        if let age = spec.retention.maxAgeSeconds { object["retentionMaxAgeSeconds"] = age }
        if let bytes = spec.retention.maxBytesPerPartition { object["retentionMaxBytesPerPartition"] = bytes }
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    static func decodeTopic(_ bytes: [UInt8]) throws -> TopicSpec {
        guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let name = object["name"] as? String, let partitions = (object["partitions"] as? NSNumber)?.int32Value
        else { throw BusError.corrupt("missing name or partitions") }
        let retention = RetentionPolicy(
            maxAgeSeconds: (object["retentionMaxAgeSeconds"] as? NSNumber)?.int64Value,
            maxBytesPerPartition: (object["retentionMaxBytesPerPartition"] as? NSNumber)?.int64Value)
        return TopicSpec(name: name, partitions: partitions, retention: retention)
    }

    static func encodeGroup(_ group: String, _ offsets: [String: [Int32: Int64]]) throws -> [UInt8] {
        var topics: [String: Any] = [:]
        for (topic, byPartition) in offsets {
            var partitions: [String: Any] = [:]
            for (p, o) in byPartition { partitions[String(p)] = o }
            topics[topic] = partitions
        }
        return Array(try JSONSerialization.data(withJSONObject: ["group": group, "offsets": topics], options: [.sortedKeys]))
    }

    static func decodeGroup(_ bytes: [UInt8]) throws -> (String, [String: [Int32: Int64]]) {
        guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let group = object["group"] as? String, let topics = object["offsets"] as? [String: Any]
        else { throw BusError.corrupt("missing group or offsets") }
        var offsets: [String: [Int32: Int64]] = [:]
        for (topic, value) in topics {
            guard let partitions = value as? [String: Any] else { throw BusError.corrupt("offsets of \(topic)") }
            var byPartition: [Int32: Int64] = [:]
            for (p, o) in partitions {
                guard let partition = Int32(p), let offset = (o as? NSNumber)?.int64Value else { throw BusError.corrupt("offset of \(topic)-\(p)") }
                byPartition[partition] = offset
            }
            offsets[topic] = byPartition
        }
        return (group, offsets)
    }
}
