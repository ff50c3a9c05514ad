#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a `ParquetWriter` sends its bytes, in order.
public protocol ParquetSink: AnyObject {
    /// Appends bytes.
    func write(_ bytes: UnsafeRawBufferPointer) throws(ParquetError)
    /// Called once after the footer: make the bytes durable (when `sync`) and release resources.
    func close(sync: Bool) throws(ParquetError)
}

/// A sink writing to a new file (created or truncated, mode 0644).
public final class ParquetFileSink: ParquetSink {
    private var fd: Int32
    /// The file's path.
    public let path: String

    /// Creates or truncates the file at `path`.
    public init(path: String) throws(ParquetError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    deinit {
        if fd >= 0 { _ = posixClose(fd) }
    }

    /// Small writes (page headers) are gathered here so that each does not cost a system call.
    private var buffer: [UInt8] = []
    private static let bufferSize = 1 << 20

    /// Writes `bytes`: small ones through the buffer, large ones straight to the file.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) {
        guard fd >= 0 else { throw .io("write to closed file \(path)") }
        if buffer.count + bytes.count <= Self.bufferSize {
            if buffer.capacity < Self.bufferSize { buffer.reserveCapacity(Self.bufferSize) }
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count < Self.bufferSize / 2 {
            buffer.append(contentsOf: bytes)
        } else {
            try writeAll(bytes)
        }
    }

    private func flush() throws(ParquetError) {
        guard !buffer.isEmpty else { return }
        try withBytes(buffer) { (b) throws(ParquetError) in try writeAll(b) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes all of `bytes`, retrying short writes and interrupts.
    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) {
        var done = 0
        while done < bytes.count {
            let n = posixWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("write to \(path) failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Flushes, fsyncs (when `sync`) and closes the file.
    public func close(sync: Bool) throws(ParquetError) {
        guard fd >= 0 else { return }
        try flush()
        defer {
            _ = posixClose(fd)
            fd = -1
        }
        if sync && fsync(fd) != 0 { throw .io("fsync of \(path) failed: \(String(cString: strerror(errno)))") }
    }
}

// Free functions so the sink's methods named `write`/`close` do not shadow libc's.
@inline(__always) private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
@inline(__always) private func posixClose(_ fd: Int32) -> Int32 { close(fd) }

/// A sink collecting the file in memory (for tests, or to upload the bytes elsewhere).
public final class ParquetMemorySink: ParquetSink {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty sink.
    public init() {}

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) { self.bytes.append(contentsOf: bytes) }

    /// Nothing to release.
    public func close(sync: Bool) throws(ParquetError) {}
}

/// A key-value pair of the file footer's `key_value_metadata`.
public struct ParquetKeyValue: Sendable, Hashable {
    /// The key.
    public var key: String
    /// The value, which the format allows to be absent.
    public var value: String?

    /// A pair.
    public init(_ key: String, _ value: String?) {
        self.key = key
        self.value = value
    }
}

/// How a `ParquetWriter` lays out and encodes a file. The defaults match pyarrow's, except that
/// row groups close on an encoded-size target (like Spark's `parquet.block.size`).
public struct ParquetWriterOptions: Sendable {
    /// Page compression (default snappy, as the lake writes).
    public var compression: ParquetCompression = .snappy
    /// Dictionary-encode columns other than booleans, falling back to PLAIN per chunk when
    /// the dictionary outgrows `dictionaryPageSizeLimit`.
    public var dictionaryEnabled = true
    /// Columns (dotted paths) written PLAIN even when `dictionaryEnabled`.
    public var plainColumns: Set<String> = []
    /// The dictionary size, in PLAIN bytes, past which a chunk falls back to PLAIN.
    public var dictionaryPageSizeLimit = 1 << 20
    /// The encoded size at which a data page closes.
    public var dataPageSize = 1 << 20
    /// The row count at which a data page closes.
    public var maxRowsPerPage = 20_000
    /// The estimated encoded size at which a row group closes.
    public var rowGroupSize = 128 << 20
    /// Write min/max/null-count statistics per column chunk.
    public var writeStatistics = true
    /// Extra footer metadata.
    public var keyValueMetadata: [ParquetKeyValue] = []
    /// The footer's `created_by`, in the "application version X (build Y)" form readers parse.
    public var createdBy = "logpipe version 0.1.0 (build logpipe-parquet)"
    /// fsync the file in `finish()` (file sinks).
    public var sync = true

    /// The defaults.
    public init() {}
}

/// What `ParquetWriter.finish()` wrote.
public struct ParquetWriteSummary: Sendable, Hashable {
    /// Rows in the file.
    public var rows: Int
    /// Row groups in the file.
    public var rowGroups: Int
    /// The file's size in bytes.
    public var bytes: Int
}

/// Writes a Parquet file from columnar batches, streaming a row group to the sink each time
/// the buffered pages reach `options.rowGroupSize`. Call `finish()` to write the footer and
/// fsync; until then the file is not a valid Parquet file, so write to a temporary name and
/// rename it into place after `finish()` returns.
///
/// Not thread-safe: one writer belongs to one task at a time.
public final class ParquetWriter {
    /// The schema every batch must follow.
    public let schema: ParquetSchema
    /// The options the writer was created with.
    public let options: ParquetWriterOptions
    private let sink: any ParquetSink
    private let leaves: [LeafWriter]
    private let compressor: PageCompressor
    private var offset: Int64 = 0
    private var rowGroups: [RowGroupT] = []
    private var rowsInGroup = 0
    private var totalRows = 0
    private var finished = false

    /// A writer creating (or truncating) the file at `path`.
    public convenience init(path: String, schema: ParquetSchema, options: ParquetWriterOptions = ParquetWriterOptions()) throws(ParquetError) {
        try self.init(sink: ParquetFileSink(path: path), schema: schema, options: options)
    }

    /// A writer sending bytes to `sink`.
    public init(sink: any ParquetSink, schema: ParquetSchema, options: ParquetWriterOptions = ParquetWriterOptions()) throws(ParquetError) {
        guard options.dataPageSize > 0, options.maxRowsPerPage > 0, options.rowGroupSize > 0, options.dictionaryPageSizeLimit >= 0 else {
            throw .invalidArgument("page, row-group and dictionary sizes must be positive")
        }
        try Self.validate(schema.fields, path: "")
        self.schema = schema
        self.options = options
        self.sink = sink
        compressor = PageCompressor(options.compression)
        let config = ColumnWriterConfig(
            dataPageSize: options.dataPageSize, maxRowsPerPage: options.maxRowsPerPage,
            dictionaryPageSizeLimit: options.dictionaryPageSizeLimit, writeStatistics: options.writeStatistics)
        var leaves: [LeafWriter] = []
        for leaf in schema.leaves {
            let dictionary = options.dictionaryEnabled && !options.plainColumns.contains(leaf.dottedPath)
            leaves.append(try LeafWriter(leaf: leaf, config: config, compressor: compressor, dictionaryEnabled: dictionary))
        }
        self.leaves = leaves
        try emit(Array("PAR1".utf8))
    }

    private static func validate(_ fields: [ParquetField], path: String) throws(ParquetError) {
        guard !fields.isEmpty else { throw .invalidArgument("group \(path.isEmpty ? "(root)" : path) has no fields") }
        var names = Set<String>()
        for f in fields {
            let p = path.isEmpty ? f.name : path + "." + f.name
            guard names.insert(f.name).inserted else { throw .invalidArgument("duplicate field \(p)") }
            guard f.repetition != .repeated else { throw .invalidArgument("field \(p): repeated fields are not supported by the writer") }
            if case .group(let children) = f.kind { try validate(children, path: p) }
        }
    }

    private func emit(_ bytes: [UInt8]) throws(ParquetError) {
        try withBytes(bytes) { (b) throws(ParquetError) in try sink.write(b) }
        offset += Int64(bytes.count)
    }

    /// Rows written so far (including those still buffered in the open row group).
    public var rowCount: Int { totalRows }

    /// Encodes `batch`, closing row groups as they reach the size target. The batch's buffers
    /// are read in place; the writer keeps no reference to them after returning.
    public func write(_ batch: ParquetColumnBatch) throws(ParquetError) {
        guard !finished else { throw .invalidArgument("write after finish") }
        guard batch.rowCount >= 0 else { throw .invalidArgument("negative row count") }
        guard batch.rowCount > 0 else { return }
        let inputs = try resolveInputs(batch)
        defer { for leaf in leaves { leaf.clearInput() } }
        for (leaf, input) in zip(leaves, inputs) { try leaf.setInput(input) }
        // Slices keep the row-group size check frequent enough for a tight size target.
        let slice = 8192
        var start = 0
        while start < batch.rowCount {
            let end = min(batch.rowCount, start + slice)
            for leaf in leaves { try leaf.append(rows: start..<end) }
            rowsInGroup += end - start
            totalRows += end - start
            start = end
            var estimate = 0
            for leaf in leaves { estimate += leaf.estimatedChunkBytes }
            if estimate >= options.rowGroupSize { try flushRowGroup() }
        }
    }

    /// Closes the open row group now, if it has rows (e.g. to bound a file's first group).
    public func flushRowGroup() throws(ParquetError) {
        guard rowsInGroup > 0 else { return }
        let groupStart = offset
        var group = RowGroupT()
        group.numRows = Int64(rowsInGroup)
        for leaf in leaves {
            let chunk = try leaf.finishChunk(at: offset, codec: options.compression.codecID) { (bytes) throws(ParquetError) in
                try emit(bytes)
            }
            group.totalByteSize += chunk.metaData!.totalUncompressedSize
            group.columns.append(chunk)
        }
        group.fileOffset = groupStart
        group.totalCompressedSize = offset - groupStart
        group.ordinal = Int16(truncatingIfNeeded: rowGroups.count)
        rowGroups.append(group)
        rowsInGroup = 0
    }

    /// Writes the last row group and the footer, then fsyncs and closes the sink.
    @discardableResult
    public func finish() throws(ParquetError) -> ParquetWriteSummary {
        guard !finished else { throw .invalidArgument("finish called twice") }
        try flushRowGroup()
        finished = true
        var meta = FileMetaDataT()
        meta.version = 2
        meta.schema = schema.schemaElements()
        meta.numRows = Int64(totalRows)
        meta.rowGroups = rowGroups
        if !options.keyValueMetadata.isEmpty {
            meta.keyValueMetadata = options.keyValueMetadata.map { KeyValueT(key: $0.key, value: $0.value) }
        }
        meta.createdBy = options.createdBy
        meta.columnOrders = Array(repeating: 1, count: leaves.count)
        var w = ThriftWriter(capacity: 4096)
        meta.write(&w)
        var tail = w.bytes
        let len = UInt32(tail.count)
        for k in 0..<4 { tail.append(UInt8(truncatingIfNeeded: len >> UInt32(8 * k))) }
        tail.append(contentsOf: Array("PAR1".utf8))
        try emit(tail)
        try sink.close(sync: options.sync)
        return ParquetWriteSummary(rows: totalRows, rowGroups: rowGroups.count, bytes: Int(offset))
    }

    /// Checks the batch against the schema (types, lengths, offsets, required fields) and
    /// resolves each leaf's values and validity chain.
    private func resolveInputs(_ batch: ParquetColumnBatch) throws(ParquetError) -> [LeafInput] {
        guard batch.columns.count == schema.fields.count else {
            throw .invalidArgument("batch has \(batch.columns.count) columns, schema has \(schema.fields.count) fields")
        }
        var out: [LeafInput] = []
        out.reserveCapacity(leaves.count)
        func walk(_ field: ParquetField, _ column: ParquetColumn, path: String, validities: [[Bool]?]) throws(ParquetError) {
            let rows = batch.rowCount
            if let v = column.validity {
                guard v.count == rows else { throw .invalidArgument("column \(path): validity has \(v.count) rows, batch has \(rows)") }
                if field.repetition == .required && v.contains(false) {
                    throw .invalidArgument("column \(path) is required but has nulls")
                }
            }
            var chain = validities
            if field.repetition == .optional { chain.append(column.validity) }
            switch (field.kind, column.values) {
            case (.group(let fields), .group(let children)):
                guard fields.count == children.count else {
                    throw .invalidArgument("group \(path) has \(children.count) columns, schema has \(fields.count) fields")
                }
                for (f, c) in zip(fields, children) { try walk(f, c, path: path + "." + f.name, validities: chain) }
            case (.primitive(let physical, _), let values):
                guard values.count == rows else { throw .invalidArgument("column \(path) has \(values.count) rows, batch has \(rows)") }
                switch (physical, values) {
                case (.boolean, .boolean), (.int32, .int32), (.int64, .int64), (.float, .float), (.double, .double): break
                case (.byteArray, .byteArray(let bytes, let offsets)):
                    try Self.checkOffsets(offsets, byteCount: bytes.count, path: path)
                default:
                    throw .invalidArgument("column \(path): values do not match physical type \(physical)")
                }
                out.append(LeafInput(values: values, validities: chain, allPresent: chain.allSatisfy { $0 == nil }))
            default:
                throw .invalidArgument("column \(path): a group and a leaf do not match")
            }
        }
        for (f, c) in zip(schema.fields, batch.columns) { try walk(f, c, path: f.name, validities: []) }
        return out
    }

    private static func checkOffsets(_ offsets: [Int32], byteCount: Int, path: String) throws(ParquetError) {
        let ok = offsets.withUnsafeBufferPointer { o -> Bool in
            guard let first = o.first, first == 0, Int(o[o.count - 1]) <= byteCount else { return false }
            var previous: Int32 = 0
            var monotonic = true
            for x in o {
                monotonic = monotonic && x >= previous
                previous = x
            }
            return monotonic
        }
        guard ok else { throw .invalidArgument("column \(path): offsets must start at 0, never decrease, and stay within the bytes") }
    }
}
