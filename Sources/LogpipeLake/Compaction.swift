import Foundation
import Logging
import LogpipeParquet
import LogpipeRecords

/// One compaction of an hour: small files replaced by fewer large ones.
public struct CompactionRecord: Codable, Sendable, Equatable {
    /// The record's number in its dataset's compaction log.
    public var sequence: Int64
    /// The dataset.
    public var dataset: LakeDataset
    /// The hour partition's directory.
    public var directory: String
    /// Files replaced (final paths), deleted after the commit point.
    public var inputs: [String]
    /// Files replacing them, renamed into place after the commit point.
    public var outputs: [CommittedFile]
    /// Who compacted.
    public var owner: String
    /// When, milliseconds since the epoch.
    public var committedAtMillis: Int64
}

/// Whether compaction runs on a lake (`lake.compaction`: `auto`, `on` or `off`).
///
/// Logpipe's own readers apply `CompactionView` and see a compaction's inputs or its outputs,
/// never both, on every store. A foreign reader listing the hive layout (DuckDB, Spark,
/// pyarrow) relies on the store: a local directory swaps an hour's files in one
/// `renameat2`, but S3 and WebHDFS copy the outputs in and then delete the inputs, and a
/// listing in between counts those rows twice. So by default compaction runs only where
/// the swap is atomic; `on` accepts that window for lakes read only through Logpipe.
public enum CompactionPolicy: String, Sendable, CaseIterable {
    /// On where the store replaces files atomically (`FileStore.replacesAtomically`), else off.
    case auto
    /// Always on.
    case on
    /// Never.
    case off

    /// Whether to compact the lake in `store`.
    public func enabled(for store: any FileStore) -> Bool {
        switch self {
        case .auto: store.replacesAtomically
        case .on: true
        case .off: false
        }
    }
}

/// Merges the small files of closed hours, the swap committed through a compaction log
/// so that a crash at any step neither loses nor duplicates rows once recovery has run:
/// outputs are written and synced under staging names, then a record naming inputs and
/// outputs is created atomically (the commit point; creation fails if another compactor
/// got there first), then outputs are renamed into place and inputs deleted. Recovery
/// finishes the newest record and deletes unreferenced staging outputs.
///
/// The swap itself uses `FileStore.replaceAtomically` where the store has it (a local
/// directory: `renameat2(RENAME_EXCHANGE)`), so a reader listing the hour sees the old files
/// or the new ones, never both. Where it does not (S3, WebHDFS), outputs are renamed and
/// inputs deleted one by one: for those moments a plain lister can see both, while
/// Logpipe's readers, which apply `CompactionView` to their listings, see one or the other.
public struct LakeCompactor: Sendable {
    /// When and what to compact.
    public struct Options: Sendable, Equatable {
        /// Files smaller than this are candidates.
        public var smallFileBytes: Int64
        /// The size outputs are filled up to.
        public var targetBytes: Int64
        /// An hour is compacted when it holds at least this many small files.
        public var minFiles: Int
        /// An hour is closed once its end is this far behind the wall clock (allowed
        /// lateness plus the roll age): no more regular writes are expected into it.
        public var closedAfterSeconds: Double
        /// How often a worker looks for hours to compact.
        public var checkIntervalSeconds: Double
        /// Compaction records kept per dataset.
        public var retainedRecords: Int

        /// Options: hours closed for 10 minutes with 4 or more files under 32 MiB become 128 MiB files.
        public init(smallFileBytes: Int64 = 32 << 20, targetBytes: Int64 = 128 << 20, minFiles: Int = 4,
                    closedAfterSeconds: Double = 600, checkIntervalSeconds: Double = 120, retainedRecords: Int = 10) {
            self.smallFileBytes = smallFileBytes
            self.targetBytes = targetBytes
            self.minFiles = max(2, minFiles)
            self.closedAfterSeconds = closedAfterSeconds
            self.checkIntervalSeconds = max(1, checkIntervalSeconds)
            self.retainedRecords = max(2, retainedRecords)
        }
    }

    /// The lake.
    public let store: any FileStore
    /// The options.
    public let options: Options
    /// Written into records.
    public let owner: String
    let logger: Logger

    /// A compactor over the lake in `store`.
    public init(store: any FileStore, options: Options = Options(), owner: String = "compactor-\(ProcessInfo.processInfo.processIdentifier)",
                logger: Logger = Logger(label: "logpipe.lake.compaction")) {
        self.store = store
        self.options = options
        self.owner = owner
        self.logger = logger
    }

    /// Recovers each dataset's compaction log, then compacts every closed hour with enough small files.
    @discardableResult
    public func compactClosedHours(datasets: [LakeDataset] = LakeDataset.allCases, now: Date = Date()) async throws -> [CompactionRecord] {
        var done: [CompactionRecord] = []
        let closedBefore = Int64((now.timeIntervalSince1970 - options.closedAfterSeconds) * 1e6)
        for dataset in datasets {
            var last = try await recover(dataset)
            var byHour: [String: [FileStatus]] = [:]
            for file in try await store.list(dataset.path, recursive: true) where LakeLayout.isDataFile(file.name) {
                let directory = String(file.path[..<(file.path.lastIndex(of: "/") ?? file.path.startIndex)])
                byHour[directory, default: []].append(file)
            }
            for directory in byHour.keys.sorted() {
                guard let hour = HourPartition(path: Substring(directory)), hour.endMicros <= closedBefore else { continue }
                let small = byHour[directory]!.filter { $0.size < options.smallFileBytes }
                guard small.count >= options.minFiles else { continue }
                if let record = try await compact(dataset: dataset, hour: hour, files: small, after: last) {
                    done.append(record)
                    last = record.sequence
                }
            }
        }
        return done
    }

    /// Finishes the newest compaction of `dataset` and removes unreferenced outputs; returns its sequence.
    @discardableResult
    public func recover(_ dataset: LakeDataset) async throws -> Int64 {
        try await store.recoverReplacements()
        let dir = LakeLayout.compactionDirectory(dataset)
        let listing = try await store.list(dir, recursive: false)
        for leftover in listing where leftover.name.hasPrefix(".") { try await store.delete(leftover.path) }
        let sequences = listing.compactMap { CommitRecord.sequence(fromFileName: $0.name) }.sorted()
        var named = Set<String>()
        if let newest = sequences.last {
            let record = try await read(dir + "/" + CommitRecord.fileName(sequence: newest))
            try await finish(record)
            named = Set(record.outputs.map(\.staging))
            for s in sequences where s <= newest - Int64(options.retainedRecords) {
                try await store.delete(dir + "/" + CommitRecord.fileName(sequence: s))
            }
        }
        for file in try await store.list(LakeLayout.compactionStagingDirectory(dataset), recursive: true)
        where !named.contains(file.path) {
            try await store.delete(file.path)
        }
        return sequences.last ?? 0
    }

    private func read(_ path: String) async throws -> CompactionRecord {
        do {
            return try JSONDecoder().decode(CompactionRecord.self, from: Data(try await store.read(path)))
        } catch let error as FileStoreError {
            throw error
        } catch {
            throw CommitLogError.corrupt(path: path, reason: "\(error)")
        }
    }

    /// Swaps the outputs in for the inputs: in one step where the store can (a lister sees
    /// the old or the new files), else renames (a missing staging file was renamed already)
    /// then deletes. Idempotent, so recovery runs it again on the newest record.
    private func finish(_ record: CompactionRecord) async throws {
        var placed = true
        for output in record.outputs where try await store.stat(output.final) == nil {
            placed = false
            break
        }
        if !placed {
            let adding = record.outputs.map { (source: $0.staging, name: String($0.final.split(separator: "/").last!)) }
            if try await store.replaceAtomically(in: record.directory, adding: adding, removing: record.inputs) {
                return
            }
            for output in record.outputs {
                do {
                    try await store.rename(output.staging, to: output.final)
                } catch FileStoreError.notFound {
                    continue
                }
            }
        }
        for input in record.inputs { try await store.delete(input) }
        for output in record.outputs { try await store.delete(output.staging) }
    }

    private func compact(dataset: LakeDataset, hour: HourPartition, files: [FileStatus], after last: Int64) async throws -> CompactionRecord? {
        switch dataset {
        case .logs: try await compact(LogBatch.self, hour: hour, files: files, after: last)
        case .activity: try await compact(ActivityBatch.self, hour: hour, files: files, after: last)
        }
    }

    private func compact<Rows: LakeRows>(_: Rows.Type, hour: HourPartition, files: [FileStatus], after last: Int64) async throws -> CompactionRecord? {
        let dataset = Rows.dataset
        var inputs: [String] = []
        var outputs: [CommittedFile] = []
        var current: StagedParquetFile<Rows>?
        do {
            for file in files.sorted(by: { $0.path < $1.path }) {
                let reader = try await LakeFileError.naming(file.path) { try ParquetFileReader(bytes: try await store.read(file.path)) }
                guard reader.schema == Rows.parquetSchema else {
                    logger.warning("not compacting a file with another schema", metadata: ["file": "\(file.path)"])
                    continue
                }
                if let open = current, open.estimatedBytes + Int64(file.size) > options.targetBytes {
                    outputs.append(try await open.finish())
                    current = nil
                }
                if current == nil {
                    let id = UUID().uuidString.lowercased()
                    current = try await StagedParquetFile<Rows>(
                        store: store, stagingPath: "\(LakeLayout.compactionStagingDirectory(dataset))/\(id).parquet",
                        id: id, hour: hour)
                }
                for g in 0..<reader.rowGroupCount {
                    let table = try await LakeFileError.naming(file.path) { try reader.readRowGroup(g) }
                    try await current!.append(parquet: ParquetColumnBatch(rowCount: table.rowCount, columns: table.columns))
                }
                inputs.append(file.path)
            }
            if let open = current {
                outputs.append(try await open.finish())
                current = nil
            }
        } catch {
            await current?.abort()
            for output in outputs { try? await store.delete(output.staging) }
            throw error
        }
        guard inputs.count >= 2 else {
            for output in outputs { try await store.delete(output.staging) }
            return nil
        }
        let record = CompactionRecord(
            sequence: last + 1, dataset: dataset, directory: LakeLayout.partitionDirectory(dataset, hour),
            inputs: inputs, outputs: outputs, owner: owner,
            committedAtMillis: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let path = LakeLayout.compactionDirectory(dataset) + "/" + CommitRecord.fileName(sequence: record.sequence)
        guard try await store.createExclusive(path, contents: Array(try encoder.encode(record))) else {
            // Another compactor committed first; ours is unreferenced and goes.
            for output in outputs { try await store.delete(output.staging) }
            return nil
        }
        try await finish(record)
        try await store.delete(LakeLayout.compactionDirectory(dataset) + "/"
                               + CommitRecord.fileName(sequence: record.sequence - Int64(options.retainedRecords)))
        logger.info("compacted hour", metadata: [
            "directory": "\(record.directory)", "inputs": "\(inputs.count)", "outputs": "\(outputs.count)",
            "rows": "\(outputs.reduce(0) { $0 + $1.rows })"])
        return record
    }
}
