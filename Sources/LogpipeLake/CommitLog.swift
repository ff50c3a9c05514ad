import Foundation
import Logging

/// One file a commit makes visible: written under `staging`, renamed to `final` after the commit point.
public struct CommittedFile: Codable, Sendable, Equatable {
    /// The dataset the file belongs to.
    public var dataset: LakeDataset
    /// Where the file was written and synced before the commit.
    public var staging: String
    /// Its name in the lake, under an hour partition.
    public var final: String
    /// Rows in the file.
    public var rows: Int64
    /// Bytes in the file.
    public var bytes: Int64

    /// A committed file.
    public init(dataset: LakeDataset, staging: String, final: String, rows: Int64, bytes: Int64) {
        self.dataset = dataset
        self.staging = staging
        self.final = final
        self.rows = rows
        self.bytes = bytes
    }
}

/// One record of a source partition's commit log. Every record is a full checkpoint of
/// the partition: its next offset and every sink's state, so recovery reads only the
/// newest record and older ones can be deleted (the log stays bounded).
public struct CommitRecord: Codable, Sendable, Equatable {
    /// What wrote the record.
    public enum Kind: String, Codable, Sendable {
        /// Files and offsets of a micro-batch commit (or of a graceful shutdown).
        case data
        /// A worker taking over the partition: the previous record's offsets and state,
        /// written so that an older owner's next commit fails (fencing).
        case claim
    }

    /// The format version.
    public var version: Int
    /// The record's number in its log, from 1 with no gaps.
    public var sequence: Int64
    /// The kind.
    public var kind: Kind
    /// The source topic.
    public var topic: String
    /// The source partition.
    public var partition: Int32
    /// The worker that wrote the record.
    public var owner: String
    /// The first source offset this record's files cover (the previous record's `nextOffset`).
    public var startOffset: Int64
    /// The next source offset to read: every record below it is in the lake, none above.
    public var nextOffset: Int64
    /// Files renamed into place by this commit.
    public var files: [CommittedFile]
    /// Each sink's checkpointed state, by sink name (base64 in the JSON).
    public var states: [String: Data]
    /// Rows committed into the partition's datasets since its log began (cumulative).
    public var totalRows: Int64
    /// When the record was written, milliseconds since the epoch.
    public var committedAtMillis: Int64

    /// A commit record.
    public init(sequence: Int64, kind: Kind, topic: String, partition: Int32, owner: String,
                startOffset: Int64, nextOffset: Int64, files: [CommittedFile], states: [String: Data],
                totalRows: Int64, committedAtMillis: Int64) {
        self.version = 1
        self.sequence = sequence
        self.kind = kind
        self.topic = topic
        self.partition = partition
        self.owner = owner
        self.startOffset = startOffset
        self.nextOffset = nextOffset
        self.files = files
        self.states = states
        self.totalRows = totalRows
        self.committedAtMillis = committedAtMillis
    }

    /// The record's file name: the sequence, zero-padded so names sort in order.
    public static func fileName(sequence: Int64) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".json"
    }

    /// The sequence number a record file name holds, or `nil` for other names.
    public static func sequence(fromFileName name: Substring) -> Int64? {
        guard name.hasSuffix(".json"), !name.hasPrefix(".") else { return nil }
        return Int64(name.dropLast(5))
    }
}

/// Why a commit-log operation failed.
public enum CommitLogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another worker wrote this sequence first: the partition belongs to it now.
    case fenced(topic: String, partition: Int32, sequence: Int64)
    /// A record cannot be decoded.
    case corrupt(path: String, reason: String)

    public var description: String {
        switch self {
        case .fenced(let t, let p, let s): "\(t)-\(p): commit \(s) was written by another worker (partition lost)"
        case .corrupt(let path, let reason): "corrupt commit record \(path): \(reason)"
        }
    }
}

/// The exactly-once commit protocol of one source partition.
///
/// A commit: (1) the caller writes and syncs its files under `stagingPath(...)` names,
/// invisible to readers of the datasets; (2) `commit` atomically creates the next record
/// (`createExclusive`), naming those files, their final names, the partition's next offset
/// and the sinks' states: that creation is the commit point; (3) the files are renamed
/// into place. A crash before (2) leaves staging files no record names; after (2) a
/// record whose renames `open` finishes.
///
/// `open` recovers: it finishes the renames of the newest record, writes a `claim` record
/// (so a worker that still believes it owns the partition fails its next commit instead
/// of overwriting ours), deletes every staging file left (none is named by a record
/// anymore) and prunes old records. The caller resumes from `nextOffset`, whatever the
/// bus's committed offsets say.
public struct PartitionCommitLog: Sendable {
    /// The store.
    public let store: any FileStore
    /// The source topic.
    public let topic: String
    /// The source partition.
    public let partition: Int32
    /// This worker's identity, written into records.
    public let owner: String
    /// How many records are kept; older ones are deleted (each record is a full checkpoint).
    public let retainedRecords: Int
    /// The newest record, `nil` before the first commit of a new partition.
    public private(set) var last: CommitRecord?
    let logger: Logger

    /// The directory of this log.
    public var directory: String { LakeLayout.commitDirectory(topic: topic, partition: partition) }
    /// The staging directory of this partition.
    public var stagingDirectory: String { LakeLayout.stagingDirectory(topic: topic, partition: partition) }

    /// The next source offset to read: the last commit's, or `nil` when nothing was ever committed.
    public var nextOffset: Int64? { last?.nextOffset }

    /// The checkpointed state of a sink, from the last commit.
    public func state(of sink: String) -> Data? { last?.states[sink] }

    /// Opens and recovers the log of a partition, claiming it for `owner`.
    public static func open(store: any FileStore, topic: String, partition: Int32, owner: String,
                            retainedRecords: Int = 10,
                            logger: Logger = Logger(label: "logpipe.lake")) async throws -> PartitionCommitLog {
        var log = PartitionCommitLog(store: store, topic: topic, partition: partition, owner: owner,
                                     retainedRecords: max(2, retainedRecords), last: nil, logger: logger)
        try await log.recover()
        return log
    }

    /// Reads the newest record without recovering or claiming anything (for listings and tools).
    public static func newestRecord(store: any FileStore, topic: String, partition: Int32) async throws -> CommitRecord? {
        let dir = LakeLayout.commitDirectory(topic: topic, partition: partition)
        let sequences = try await store.list(dir, recursive: false).compactMap { CommitRecord.sequence(fromFileName: $0.name) }
        guard let newest = sequences.max() else { return nil }
        return try await readRecord(store: store, path: dir + "/" + CommitRecord.fileName(sequence: newest))
    }

    static func readRecord(store: any FileStore, path: String) async throws -> CommitRecord {
        let bytes = try await store.read(path)
        do {
            return try JSONDecoder().decode(CommitRecord.self, from: Data(bytes))
        } catch {
            throw CommitLogError.corrupt(path: path, reason: "\(error)")
        }
    }

    private mutating func recover() async throws {
        // A competing claimant may write between our read and our claim; re-read and retry.
        for attempt in 1...5 {
            let listing = try await store.list(directory, recursive: false)
            for leftover in listing where leftover.name.hasPrefix(".") {
                try await store.delete(leftover.path)
            }
            let sequences = listing.compactMap { CommitRecord.sequence(fromFileName: $0.name) }.sorted()
            if let newest = sequences.last {
                let record = try await Self.readRecord(store: store, path: directory + "/" + CommitRecord.fileName(sequence: newest))
                try await finishRenames(of: record)
                last = record
            } else {
                last = nil
            }
            let claim = makeRecord(kind: .claim, nextOffset: last?.nextOffset ?? 0, files: [], states: last?.states ?? [:])
            if try await store.createExclusive(path(of: claim.sequence), contents: try encode(claim)) {
                if let previous = last, previous.owner != owner {
                    logger.info("claimed partition", metadata: [
                        "partition": "\(topic)-\(partition)", "from": "\(previous.owner)",
                        "nextOffset": "\(previous.nextOffset)"])
                }
                last = claim
                break
            }
            if attempt == 5 { throw CommitLogError.fenced(topic: topic, partition: partition, sequence: claim.sequence) }
        }
        // Every record's files are in place now, so whatever staging holds is unreferenced.
        for file in try await store.list(stagingDirectory, recursive: true) {
            try await store.delete(file.path)
        }
        if let newest = last?.sequence {
            for status in try await store.list(directory, recursive: false) {
                if let s = CommitRecord.sequence(fromFileName: status.name), s <= newest - Int64(retainedRecords) {
                    try await store.delete(status.path)
                }
            }
        }
    }

    /// A fresh staging path for a file of this partition, with the given extension.
    public func stagingPath(id: String, extension ext: String = "parquet") -> String {
        "\(stagingDirectory)/\(id).\(ext)"
    }

    /// Commits `files` (written and synced under their staging names) with the partition's
    /// new next offset and sink states (states not given keep their last value), then
    /// renames the files into place. Throws `CommitLogError.fenced` when another worker
    /// has taken the partition: nothing of this commit becomes visible then.
    @discardableResult
    public mutating func commit(files: [CommittedFile], nextOffset: Int64, states: [String: Data] = [:]) async throws -> CommitRecord {
        var merged = last?.states ?? [:]
        for (k, v) in states { merged[k] = v }
        let record = makeRecord(kind: .data, nextOffset: nextOffset, files: files, states: merged)
        guard try await store.createExclusive(path(of: record.sequence), contents: try encode(record)) else {
            throw CommitLogError.fenced(topic: topic, partition: partition, sequence: record.sequence)
        }
        last = record
        try await finishRenames(of: record)
        try await store.delete(path(of: record.sequence - Int64(retainedRecords)))
        return record
    }

    private func makeRecord(kind: CommitRecord.Kind, nextOffset: Int64, files: [CommittedFile], states: [String: Data]) -> CommitRecord {
        // Rows of the dataset itself: files a sink commits elsewhere (the analytics' late
        // rows) are copies of rows already counted.
        let rows = files.filter { $0.final.hasPrefix($0.dataset.path + "/") }.reduce(Int64(0)) { $0 + $1.rows }
        return CommitRecord(
            sequence: (last?.sequence ?? 0) + 1, kind: kind, topic: topic, partition: partition, owner: owner,
            startOffset: last?.nextOffset ?? 0, nextOffset: nextOffset, files: files, states: states,
            totalRows: (last?.totalRows ?? 0) + rows,
            committedAtMillis: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
    }

    private func path(of sequence: Int64) -> String { directory + "/" + CommitRecord.fileName(sequence: sequence) }

    private func encode(_ record: CommitRecord) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(record))
    }

    /// Renames a record's files into place. A missing staging file means its rename
    /// already happened (staging files a record names are never deleted otherwise).
    private func finishRenames(of record: CommitRecord) async throws {
        for file in record.files {
            do {
                try await store.rename(file.staging, to: file.final)
            } catch FileStoreError.notFound {
                continue
            }
        }
    }
}
