#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LogpipeParquet
import LogpipeRecords

/// How data files are written.
public struct LakeFileOptions: Sendable, Equatable {
    /// Batches smaller than this are buffered until this many rows are waiting, so tiny
    /// micro-batches do not each pay the encoder's per-call cost; larger ones are encoded
    /// straight from the batch's buffers (pages span calls either way).
    public var encodeRows: Int
    /// The target size of a row group (the writer's memory per open file is about this).
    public var rowGroupBytes: Int

    /// Options; the defaults keep an open file's memory near 16 MiB.
    public init(encodeRows: Int = 8192, rowGroupBytes: Int = 16 << 20) {
        self.encodeRows = max(1, encodeRows)
        self.rowGroupBytes = max(1 << 16, rowGroupBytes)
    }
}

/// A Parquet data file being built under a staging name, invisible to readers until a
/// commit renames it into its hour partition. Owned by one task at a time.
public final class StagedParquetFile<Rows: LakeRows> {
    /// The file's id (its final name is `part-<id>.snappy.parquet`).
    public let id: String
    /// The hour partition its rows belong to.
    public let hour: HourPartition
    /// Where it is being written.
    public let stagingPath: String
    /// When it was opened, in monotonic nanoseconds (for rolling by age).
    public let openedAtNanos: UInt64
    private let options: LakeFileOptions
    private let file: any FileWriter
    private let sink = ChunkSink()
    private let writer: ParquetWriter
    private var pending = Rows()
    /// Rows appended so far.
    public private(set) var rows = 0
    private var encodedRows = 0
    /// Bytes handed to the store so far.
    public private(set) var writtenBytes: Int64 = 0

    /// Creates the file at `stagingPath`.
    public init(store: any FileStore, stagingPath: String, id: String, hour: HourPartition,
                options: LakeFileOptions = LakeFileOptions()) async throws {
        self.id = id
        self.hour = hour
        self.stagingPath = stagingPath
        self.options = options
        self.openedAtNanos = DispatchClock.nanos()
        file = try await store.openWriter(stagingPath)
        var parquetOptions = ParquetWriterOptions()
        parquetOptions.compression = .snappy
        parquetOptions.rowGroupSize = options.rowGroupBytes
        // Durability comes from `FileWriter.finish`, which also syncs the directory entry.
        parquetOptions.sync = false
        do {
            writer = try ParquetWriter(sink: sink, schema: Rows.parquetSchema, options: parquetOptions)
        } catch {
            await file.abort()
            throw error
        }
        try await drain()
    }

    /// The final path of the file in `dataset`'s hour partition.
    public var finalPath: String {
        LakeLayout.partitionDirectory(Rows.dataset, hour) + "/" + LakeLayout.dataFileName(id: id)
    }

    /// Bytes the file will have about now: what was written plus the buffered rows at the
    /// bytes per row seen so far.
    public var estimatedBytes: Int64 {
        let perRow = encodedRows > 0 ? Double(writtenBytes) / Double(encodedRows) : 60
        return writtenBytes + Int64(perRow * Double(rows - encodedRows))
    }

    /// Appends rows `range` of `batch`.
    public func append(_ batch: Rows, rows range: Range<Int>) async throws {
        guard !range.isEmpty else { return }
        rows += range.count
        if range.count >= options.encodeRows {
            try await encodePending()
            if range == 0..<batch.count {
                try await encode(batch)
            } else {
                // A batch crossing hours: only the slice for this file is copied.
                var slice = Rows()
                slice.append(contentsOf: batch, rows: range)
                try await encode(slice)
            }
            return
        }
        pending.append(contentsOf: batch, rows: range)
        if pending.count >= options.encodeRows { try await encodePending() }
    }

    /// Appends rows already in Parquet form (compaction copies files this way); they must
    /// follow `Rows.parquetSchema`.
    public func append(parquet batch: ParquetColumnBatch) async throws {
        try await encodePending()
        try writer.write(batch)
        rows += batch.rowCount
        encodedRows += batch.rowCount
        try await drain()
    }

    private func encodePending() async throws {
        guard pending.count > 0 else { return }
        // Encoded in place and emptied keeping capacity: the next rows reuse the same
        // buffers instead of fresh pages (page faults dominate otherwise).
        try writer.write(pending.parquetColumns())
        encodedRows += pending.count
        pending.removeAll(keepingCapacity: true)
        try await drain()
    }

    private func encode(_ batch: Rows) async throws {
        try writer.write(batch.parquetColumns())
        encodedRows += batch.count
        try await drain()
    }

    private func drain() async throws {
        guard !sink.bytes.isEmpty else { return }
        try await file.write(sink.bytes)
        writtenBytes += Int64(sink.bytes.count)
        sink.bytes.removeAll(keepingCapacity: true)
    }

    /// Encodes what is buffered, writes the footer and makes the file durable.
    public func finish() async throws -> CommittedFile {
        try await seal()
        try await file.finish()
        return committed
    }

    /// Finishes `files`: encoded one per core at a time, then all made durable at once. A
    /// 48-hour backfill commits ~150 hour files together, most of their rows still buffered
    /// (an hour holds fewer than `encodeRows` of a partition's rows), so the commit is where
    /// their Parquet encoding happens; one fsync after another was its longest wait.
    public static func finishAll(_ files: [StagedParquetFile]) async throws -> [CommittedFile] {
        let sealing = files.map { Sealing(file: $0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, item) in sealing.enumerated() {
                if i >= concurrentSeals { try await group.next() }
                group.addTask { try await item.file.seal() }
            }
            try await group.waitForAll()
        }
        let writers = files.map(\.file)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, writer) in writers.enumerated() {
                if i >= concurrentSyncs { try await group.next() }
                group.addTask { try await writer.finish() }
            }
            try await group.waitForAll()
        }
        return files.map(\.committed)
    }

    /// File syncs in flight at once in `finishAll`.
    static var concurrentSyncs: Int { 16 }

    /// Files encoded at once in `finishAll`: one per core.
    static var concurrentSeals: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// A file handed to one sealing task.
    private struct Sealing: @unchecked Sendable {
        // @unchecked: each file is sealed by exactly one task, and `finishAll` awaits them all
        // before touching any file again.
        let file: StagedParquetFile
    }

    /// Encodes what is buffered and writes the footer.
    private func seal() async throws {
        try await encodePending()
        try writer.finish()
        try await drain()
    }

    private var committed: CommittedFile {
        CommittedFile(dataset: Rows.dataset, staging: stagingPath, final: finalPath, rows: Int64(rows), bytes: writtenBytes)
    }

    /// Closes and deletes the file.
    public func abort() async {
        await file.abort()
    }
}

/// Collects the Parquet writer's output between two writes to the store.
final class ChunkSink: ParquetSink {
    var bytes: [UInt8] = []

    func write(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) { self.bytes.append(contentsOf: bytes) }
    func close(sync: Bool) throws(ParquetError) {}
}

/// A monotonic clock for ages and intervals.
public enum DispatchClock {
    /// Nanoseconds of a monotonic clock.
    public static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
