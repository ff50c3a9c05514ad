import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Statistics of a column chunk as stored (min/max PLAIN-encoded, in the column's physical type).
public struct ParquetStatistics: Sendable, Hashable {
    /// Nulls in the chunk, when the writer recorded it.
    public var nullCount: Int64?
    /// Distinct values, when the writer recorded it.
    public var distinctCount: Int64?
    /// The minimum (from `min_value`, or the legacy `min` for signed-ordered types).
    public var min: [UInt8]?
    /// The maximum (from `max_value`, or the legacy `max` for signed-ordered types).
    public var max: [UInt8]?
}

/// One column chunk's metadata.
public struct ParquetColumnChunkInfo: Sendable, Hashable {
    /// The leaf's path from the top-level field.
    public var path: [String]
    /// The physical type.
    public var physicalType: ParquetPhysicalType
    /// The codec name (`SNAPPY`, `ZSTD`, `UNCOMPRESSED`, ...).
    public var codec: String
    /// Encoding names, as listed in the metadata.
    public var encodings: [String]
    /// Values (rows, for non-repeated columns) in the chunk.
    public var numValues: Int64
    /// Bytes on disk, page headers included.
    public var compressedSize: Int64
    /// Bytes after decompression, page headers included.
    public var uncompressedSize: Int64
    /// Where the first data page starts.
    public var dataPageOffset: Int64
    /// Where the dictionary page starts, if there is one.
    public var dictionaryPageOffset: Int64?
    /// The chunk's statistics, if written.
    public var statistics: ParquetStatistics?
}

/// One row group's metadata.
public struct ParquetRowGroupInfo: Sendable, Hashable {
    /// Rows in the group.
    public var numRows: Int64
    /// Uncompressed size of all its column data.
    public var totalByteSize: Int64
    /// One entry per leaf column, in schema order.
    public var columns: [ParquetColumnChunkInfo]
}

/// The footer of a file, in a form for reports and tools.
public struct ParquetFileInfo: Sendable, Hashable {
    /// The file's size in bytes.
    public var fileSize: Int
    /// The footer's (Thrift metadata's) length in bytes.
    public var footerLength: Int
    /// The format version the writer recorded.
    public var version: Int32
    /// Rows in the file.
    public var numRows: Int64
    /// The writer, e.g. "parquet-cpp-arrow version 26.0.1".
    public var createdBy: String?
    /// Footer key-value metadata.
    public var keyValueMetadata: [ParquetKeyValue]
    /// The row groups in file order.
    public var rowGroups: [ParquetRowGroupInfo]
}

/// Limits the reader applies to untrusted files.
public struct ParquetReaderOptions: Sendable {
    /// The most rows a row group may claim; larger claims are refused rather than allocated.
    public var maxRowsPerRowGroup = 1 << 27
    /// Decode the column chunks of a row group on several threads (as pyarrow does by default).
    public var parallelColumns = true

    /// The defaults.
    public init() {}
}

/// Random access to the bytes of a file, from any thread.
private protocol ByteSource: AnyObject, Sendable {
    var size: Int { get }
    /// Whether the first bytes (the header magic) can be read.
    var hasHead: Bool { get }
    func read(offset: Int, count: Int) throws(ParquetError) -> [UInt8]
}

extension ByteSource {
    var hasHead: Bool { true }
}

/// A remote file known by the byte ranges fetched so far: the tail holding the footer from
/// the start, then the column chunks a caller supplies before reading a row group (so a
/// file on object storage is read with ranged requests, never downloaded whole).
private final class RangedByteSource: ByteSource {
    let size: Int
    private let tailStart: Int
    private let tail: [UInt8]
    private let chunks = Mutex<[(offset: Int, bytes: [UInt8])]>([])

    init(size: Int, tail: [UInt8]) {
        self.size = size
        self.tail = tail
        tailStart = size - tail.count
    }

    var hasHead: Bool { tailStart == 0 }

    /// Whether `offset..<offset+count` can be read without fetching.
    func holds(offset: Int, count: Int) -> Bool {
        if offset >= tailStart { return true }
        return chunks.withLock { $0.contains { $0.offset <= offset && offset + count <= $0.offset + $0.bytes.count } }
    }

    func supply(offset: Int, bytes: [UInt8]) {
        chunks.withLock { $0.append((offset, bytes)) }
    }

    func discardChunks() {
        chunks.withLock { $0.removeAll() }
    }

    func read(offset: Int, count: Int) throws(ParquetError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw .corruptMetadata("byte range \(offset)+\(count) lies outside the \(size)-byte file")
        }
        if offset >= tailStart { return Array(tail[(offset - tailStart)..<(offset - tailStart + count)]) }
        let found: [UInt8]? = chunks.withLock { chunks in
            for c in chunks where c.offset <= offset && offset + count <= c.offset + c.bytes.count {
                return Array(c.bytes[(offset - c.offset)..<(offset - c.offset + count)])
            }
            return nil
        }
        guard let found else { throw .invalidArgument("byte range \(offset)+\(count) was not fetched (supply the row group's chunk ranges first)") }
        return found
    }
}

/// `@unchecked Sendable`: every stored property is immutable after `init`, and `pread` on a
/// shared descriptor is thread-safe (it does not move the file offset).
private final class FileByteSource: ByteSource, @unchecked Sendable {
    let fd: Int32
    let size: Int
    let path: String

    init(path: String) throws(ParquetError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw .io("cannot stat \(path): \(message)")
        }
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    func read(offset: Int, count: Int) throws(ParquetError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw .corruptMetadata("byte range \(offset)+\(count) lies outside the \(size)-byte file")
        }
        var failure: ParquetError?
        let out = [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buf.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    failure = .io("read of \(path) failed at \(offset + done): \(n == 0 ? "unexpected end of file" : String(cString: strerror(errno)))")
                    break
                }
                done += n
            }
            initialized = failure == nil ? count : 0
        }
        if let failure { throw failure }
        return out
    }
}

private final class MemoryByteSource: ByteSource {
    let bytes: [UInt8]
    var size: Int { bytes.count }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(offset: Int, count: Int) throws(ParquetError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw .corruptMetadata("byte range \(offset)+\(count) lies outside the \(size)-byte file")
        }
        return Array(bytes[offset..<offset + count])
    }
}

/// Reads Parquet files: the footer on open, then row groups on demand, decoding only the
/// projected columns. Handles what Logpipe writes and pyarrow's and DuckDB's defaults
/// (PLAIN, dictionary, RLE booleans, DELTA_*, BYTE_STREAM_SPLIT; data pages v1 and v2;
/// uncompressed, snappy and zstd). Repeated fields (lists, maps) are reported as unsupported
/// when projected. Every failure on bad input is a thrown `ParquetError`.
///
/// Thread-safe: a reader holds only immutable state, so tasks may read row groups concurrently.
public final class ParquetFileReader: Sendable {
    /// The file's full schema.
    public let schema: ParquetSchema
    /// The footer in report form.
    public let info: ParquetFileInfo
    private let source: any ByteSource
    private let metadata: FileMetaDataT
    private let leaves: [LeafDescriptor]
    private let options: ParquetReaderOptions
    private let footerStart: Int

    /// Opens the file at `path` and reads its footer.
    public convenience init(path: String, options: ParquetReaderOptions = ParquetReaderOptions()) throws(ParquetError) {
        try self.init(source: FileByteSource(path: path), options: options)
    }

    /// Reads a file held in memory.
    public convenience init(bytes: [UInt8], options: ParquetReaderOptions = ParquetReaderOptions()) throws(ParquetError) {
        try self.init(source: MemoryByteSource(bytes), options: options)
    }

    /// How many bytes of a file's end to fetch first when reading it remotely: the footer of
    /// a lake file fits, so one request usually opens it.
    public static let suggestedTailLength = 64 << 10

    /// The footer length the last 8 bytes of a file announce, so a remote reader knows how
    /// much of the tail it needs (`footerLength + 8`).
    public static func footerLength(trailer: [UInt8]) throws(ParquetError) -> Int {
        guard trailer.count >= 8 else { throw .notParquet("\(trailer.count) trailing bytes cannot hold the footer length") }
        let t = Array(trailer.suffix(8))
        guard Array(t[4..<8]) == Array("PAR1".utf8) else { throw .notParquet("missing PAR1 magic") }
        return Int(UInt32(t[0]) | UInt32(t[1]) << 8 | UInt32(t[2]) << 16 | UInt32(t[3]) << 24)
    }

    /// Opens a remote file of `size` bytes from its last `tail.count` bytes, which must hold
    /// the footer. Before reading a row group, fetch the ranges `chunkRanges` names and hand
    /// them over with `supply`.
    public convenience init(size: Int, tail: [UInt8], options: ParquetReaderOptions = ParquetReaderOptions()) throws(ParquetError) {
        guard tail.count <= size else { throw .invalidArgument("a \(tail.count)-byte tail of a \(size)-byte file") }
        try self.init(source: RangedByteSource(size: size, tail: tail), options: options)
    }

    /// Whether this reader was opened from a tail (`init(size:tail:)`) and needs its column
    /// chunks supplied.
    public var needsSuppliedChunks: Bool { source is RangedByteSource }

    /// The byte ranges (offset, length) `readRowGroup(index, columns:)` reads that a reader
    /// opened from a tail does not hold yet (those inside the tail are held), in file order.
    public func chunkRanges(rowGroup index: Int, columns: [String]? = nil) throws(ParquetError) -> [(offset: Int, length: Int)] {
        guard index >= 0, index < rowGroupCount else { throw .invalidArgument("row group \(index) of \(rowGroupCount)") }
        let projected = try columns.map { (c) throws(ParquetError) in try schema.projected(to: c) } ?? schema
        var out: [(offset: Int, length: Int)] = []
        for leaf in projected.leaves {
            guard let c = leaves.firstIndex(where: { $0.path == leaf.path }) else { continue }
            let chunk = metadata.rowGroups[index].columns[c].metaData!
            let (start, length) = try Self.chunkRange(chunk, footerStart: footerStart, where: "row group \(index) column \(leaf.dottedPath)")
            if length > 0, (source as? RangedByteSource)?.holds(offset: start, count: length) != true { out.append((start, length)) }
        }
        return out.sorted { $0.offset < $1.offset }
    }

    /// Hands a fetched byte range to a reader opened from a tail.
    public func supply(offset: Int, bytes: [UInt8]) {
        (source as? RangedByteSource)?.supply(offset: offset, bytes: bytes)
    }

    /// Drops every supplied range (after a row group is decoded, to bound memory).
    public func discardSuppliedChunks() {
        (source as? RangedByteSource)?.discardChunks()
    }

    private init(source: any ByteSource, options: ParquetReaderOptions) throws(ParquetError) {
        self.source = source
        self.options = options
        let size = source.size
        guard size >= 12 else { throw .notParquet("\(size) bytes is too short for a Parquet file") }
        // A file opened from its tail alone has its header checked by nobody: the trailer's magic must do.
        let head = source.hasHead ? try source.read(offset: 0, count: 4) : Array("PAR1".utf8)
        let tail = try source.read(offset: size - 8, count: 8)
        let magic: [UInt8] = Array("PAR1".utf8)
        if Array(tail[4..<8]) == Array("PARE".utf8) { throw .unsupported("encrypted footer") }
        guard head == magic, Array(tail[4..<8]) == magic else { throw .notParquet("missing PAR1 magic") }
        let footerLength = Int(UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24)
        guard footerLength > 0, footerLength <= size - 12 else {
            throw .notParquet("footer length \(footerLength) does not fit the \(size)-byte file")
        }
        footerStart = size - 8 - footerLength
        let footer = try source.read(offset: footerStart, count: footerLength)
        let meta = try withBytes(footer) { (b) throws(ParquetError) -> FileMetaDataT in
            var r = ThriftReader(b)
            return try FileMetaDataT.read(&r)
        }
        metadata = meta
        schema = try ParquetSchema.from(elements: meta.schema)
        leaves = schema.leaves
        guard meta.numRows >= 0 else { throw .corruptMetadata("file claims \(meta.numRows) rows") }
        var rowSum: Int64 = 0
        var groups: [ParquetRowGroupInfo] = []
        for (g, group) in meta.rowGroups.enumerated() {
            guard group.columns.count == leaves.count else {
                throw .corruptMetadata("row group \(g) has \(group.columns.count) column chunks, the schema has \(leaves.count) leaf columns")
            }
            let (sum, overflow) = rowSum.addingReportingOverflow(group.numRows)
            guard !overflow else { throw .corruptMetadata("row counts overflow") }
            rowSum = sum
            var columns: [ParquetColumnChunkInfo] = []
            for (c, chunk) in group.columns.enumerated() {
                guard let m = chunk.metaData else {
                    throw .unsupported("row group \(g) column \(c) keeps its metadata outside the footer")
                }
                if let path = chunk.filePath, !path.isEmpty { throw .unsupported("column chunks in external files (\(path))") }
                let leaf = leaves[c]
                guard m.pathInSchema == leaf.path else {
                    throw .corruptMetadata("row group \(g) column \(c) is \(m.pathInSchema.joined(separator: ".")), schema says \(leaf.dottedPath)")
                }
                _ = try Self.chunkRange(m, footerStart: footerStart, where: "row group \(g) column \(leaf.dottedPath)")
                var stats: ParquetStatistics?
                if let s = m.statistics {
                    let signedOrder: Bool
                    switch leaf.physical {
                    case .byteArray, .fixedLenByteArray, .int96: signedOrder = false
                    default: signedOrder = true
                    }
                    stats = ParquetStatistics(
                        nullCount: s.nullCount, distinctCount: s.distinctCount,
                        min: s.minValue ?? (signedOrder ? s.min : nil), max: s.maxValue ?? (signedOrder ? s.max : nil))
                }
                columns.append(ParquetColumnChunkInfo(
                    path: m.pathInSchema, physicalType: leaf.physical, codec: ParquetCompression.name(ofCodec: m.codec),
                    encodings: m.encodings.map(EncodingID.name), numValues: m.numValues,
                    compressedSize: m.totalCompressedSize, uncompressedSize: m.totalUncompressedSize,
                    dataPageOffset: m.dataPageOffset, dictionaryPageOffset: m.dictionaryPageOffset, statistics: stats))
            }
            groups.append(ParquetRowGroupInfo(numRows: group.numRows, totalByteSize: group.totalByteSize, columns: columns))
        }
        info = ParquetFileInfo(
            fileSize: size, footerLength: footerLength, version: meta.version, numRows: meta.numRows,
            createdBy: meta.createdBy, keyValueMetadata: (meta.keyValueMetadata ?? []).map { ParquetKeyValue($0.key, $0.value) },
            rowGroups: groups)
    }

    /// The byte range of a column chunk, checked to lie between the header magic and the footer.
    private static func chunkRange(_ m: ColumnMetaDataT, footerStart: Int, where place: String) throws(ParquetError) -> (Int, Int) {
        var start = m.dataPageOffset
        // Some writers record dictionary_page_offset = 0 for "none", and pyarrow records
        // data_page_offset = 0 for a chunk holding only an (empty) dictionary page.
        if let d = m.dictionaryPageOffset, d >= 4, d < start || start < 4 { start = d }
        let length = m.totalCompressedSize
        // An empty chunk (a zero-row group) has nothing to read, wherever it claims to be.
        if length == 0 { return (4, 0) }
        guard start >= 4, length >= 0, start <= Int64(footerStart), length <= Int64(footerStart) - start else {
            throw .corruptMetadata("\(place): chunk at \(start)+\(length) lies outside the data area (4..<\(footerStart))")
        }
        return (Int(start), Int(length))
    }

    /// The number of row groups.
    public var rowGroupCount: Int { metadata.rowGroups.count }

    /// Row groups whose statistics do not rule out `predicate` (all, without one).
    public func rowGroups(matching predicate: ParquetPredicate?) throws(ParquetError) -> [Int] {
        guard let predicate else { return Array(0..<rowGroupCount) }
        try predicate.validate(schema: schema)
        return (0..<rowGroupCount).filter { predicate.mayMatch(info.rowGroups[$0], leaves: leaves) }
    }

    /// Reads every row group that `predicate` may match, restricted to `columns` (dotted
    /// paths; a group path takes all its children; `nil` = all), as one table. The predicate
    /// only skips row groups: rows of a kept group are all returned.
    public func read(columns: [String]? = nil, where predicate: ParquetPredicate? = nil) throws(ParquetError) -> ParquetTable {
        let groups = try rowGroups(matching: predicate)
        if groups.isEmpty { return try emptyTable(columns: columns) }
        var tables: [ParquetTable] = []
        for g in groups { tables.append(try readRowGroup(g, columns: columns)) }
        return try ParquetTable.concatenate(tables)
    }

    /// A table with the projected schema and no rows.
    private func emptyTable(columns: [String]?) throws(ParquetError) -> ParquetTable {
        let projected = try columns.map { (c) throws(ParquetError) in try schema.projected(to: c) } ?? schema
        func empty(_ f: ParquetField) -> ParquetColumn {
            switch f.kind {
            case .group(let children): return ParquetColumn(.group(children.map(empty)))
            case .primitive(let p, _):
                switch p {
                case .boolean: return ParquetColumn(.boolean([]))
                case .int32: return ParquetColumn(.int32([]))
                case .int64: return ParquetColumn(.int64([]))
                case .float: return ParquetColumn(.float([]))
                case .double: return ParquetColumn(.double([]))
                case .byteArray, .fixedLenByteArray, .int96: return ParquetColumn(.byteArray(bytes: [], offsets: [0]))
                }
            }
        }
        return ParquetTable(schema: projected, rowCount: 0, columns: projected.fields.map(empty))
    }

    /// Reads one row group, restricted to `columns` (dotted paths; `nil` = all).
    public func readRowGroup(_ index: Int, columns: [String]? = nil) throws(ParquetError) -> ParquetTable {
        guard index >= 0, index < rowGroupCount else { throw .invalidArgument("row group \(index) of \(rowGroupCount)") }
        let projected = try columns.map { (c) throws(ParquetError) in try schema.projected(to: c) } ?? schema
        let group = metadata.rowGroups[index]
        guard group.numRows <= Int64(options.maxRowsPerRowGroup) else {
            throw .unsupported("row group \(index) claims \(group.numRows) rows, above the reader's limit of \(options.maxRowsPerRowGroup)")
        }
        let rows = Int(group.numRows)
        var work: [(leaf: LeafDescriptor, codec: Int32, start: Int, length: Int)] = []
        for leaf in projected.leaves {
            guard let c = leaves.firstIndex(where: { $0.path == leaf.path }) else { continue }
            guard leaf.maxRepetitionLevel == 0 else {
                throw .unsupported("column \(leaf.dottedPath) is repeated (a list or map)")
            }
            let chunk = group.columns[c].metaData!
            let (start, length) = try Self.chunkRange(chunk, footerStart: footerStart, where: "row group \(index) column \(leaf.dottedPath)")
            work.append((leaves[c], chunk.codec, start, length))
        }
        let source = self.source
        let jobs = work
        let results = Mutex<[Result<DecodedLeaf, ParquetError>?]>(Array(repeating: nil, count: work.count))
        let decodeOne: @Sendable (Int) -> Void = { i in
            let item = jobs[i]
            let result = Result { () throws(ParquetError) -> DecodedLeaf in
                let bytes = try source.read(offset: item.start, count: item.length)
                return try withBytes(bytes) { (b) throws(ParquetError) in
                    try decodeColumnChunk(b, leaf: item.leaf, codec: item.codec, rows: rows)
                }
            }
            results.withLock { $0[i] = result }
        }
        if options.parallelColumns && work.count > 1 {
            DispatchQueue.concurrentPerform(iterations: work.count, execute: decodeOne)
        } else {
            for i in work.indices { decodeOne(i) }
        }
        var decoded: [[String]: DecodedLeaf] = [:]
        for (i, result) in results.withLock({ $0 }).enumerated() {
            decoded[work[i].leaf.path] = try result!.get()
        }
        func assemble(_ f: ParquetField, path: [String], defLevel: Int) -> ParquetColumn {
            let p = path + [f.name]
            let level = defLevel + (f.repetition == .required ? 0 : 1)
            switch f.kind {
            case .primitive:
                let leaf = decoded[p]!
                return ParquetColumn(leaf.values, validity: leaf.validity)
            case .group(let children):
                let columns = children.map { assemble($0, path: p, defLevel: level) }
                var validity: [Bool]?
                if f.repetition != .required, let levels = firstLeafLevels(children, path: p, decoded: decoded) {
                    let v = levels.map { Int($0) >= level }
                    if v.contains(false) { validity = v }
                }
                return ParquetColumn(.group(columns), validity: validity)
            }
        }
        let out = projected.fields.map { assemble($0, path: [], defLevel: 0) }
        return ParquetTable(schema: projected, rowCount: rows, columns: out)
    }

    private func firstLeafLevels(_ fields: [ParquetField], path: [String], decoded: [[String]: DecodedLeaf]) -> [UInt8]? {
        guard let f = fields.first else { return nil }
        let p = path + [f.name]
        switch f.kind {
        case .primitive: return decoded[p]?.levels
        case .group(let children): return firstLeafLevels(children, path: p, decoded: decoded)
        }
    }
}

/// A decoded leaf: dense values, the leaf's validity, and the definition levels when some
/// row is below the maximum (groups derive their validity from them).
struct DecodedLeaf {
    var values: ParquetValues
    var validity: [Bool]?
    var levels: [UInt8]?
}

/// Decodes all pages of one column chunk (`data` holds exactly the chunk's bytes).
func decodeColumnChunk(_ data: UnsafeRawBufferPointer, leaf: LeafDescriptor, codec: Int32, rows: Int) throws(ParquetError) -> DecodedLeaf {
    let builder: AnyColumnBuilder
    let capacity = min(rows, 1 << 24)
    switch leaf.physical {
    case .boolean: builder = .boolean(BooleanBuilder(capacity: capacity))
    case .int32: builder = .int32(FixedBuilder<Int32>(capacity: capacity, typeName: "INT32", zero: 0))
    case .int64: builder = .int64(FixedBuilder<Int64>(capacity: capacity, typeName: "INT64", zero: 0))
    case .float: builder = .float(FixedBuilder<Float>(capacity: capacity, typeName: "FLOAT", zero: 0))
    case .double: builder = .double(FixedBuilder<Double>(capacity: capacity, typeName: "DOUBLE", zero: 0))
    case .byteArray: builder = .byteArray(ByteArrayBuilder(capacity: capacity, fixedLength: nil))
    case .int96: builder = .byteArray(ByteArrayBuilder(capacity: capacity, fixedLength: 12))
    case .fixedLenByteArray(let n): builder = .byteArray(ByteArrayBuilder(capacity: capacity, fixedLength: n))
    }
    let maxDef = leaf.maxDefinitionLevel
    let levelWidth = bitWidth(forMax: maxDef)
    var levels: [UInt8] = []
    var anyNull = false
    var sawDictionary = false
    var pageLevels: [UInt8] = []
    var present: [Bool] = []
    var position = 0
    let place = "column \(leaf.dottedPath)"
    while builder.count < rows && position < data.count {
        var r = ThriftReader(data, start: position)
        let header: PageHeaderT
        do throws(ParquetError) {
            header = try PageHeaderT.read(&r)
        } catch {
            throw .corruptMetadata("\(place): page header at chunk byte \(position): \(error)")
        }
        position = r.position
        let size = Int(header.compressedPageSize)
        guard size <= data.count - position else {
            throw .corruptPage("\(place): page of \(size) bytes at chunk byte \(position) runs past the chunk's \(data.count) bytes")
        }
        let page = UnsafeRawBufferPointer(rebasing: data[position..<position + size])
        position += size
        let uncompressed = Int(header.uncompressedPageSize)
        switch header.type {
        case PageTypeID.dictionaryPage:
            guard let d = header.dictionaryPage else { throw .corruptMetadata("\(place): dictionary page without its header") }
            guard !sawDictionary else { throw .corruptPage("\(place): a second dictionary page") }
            guard d.encoding == EncodingID.plain || d.encoding == EncodingID.plainDictionary else {
                throw .unsupported("\(place): dictionary page encoding \(EncodingID.name(d.encoding))")
            }
            guard d.numValues >= 0 else { throw .corruptPage("\(place): dictionary of \(d.numValues) values") }
            sawDictionary = true
            let body = try decompressPage(codec: codec, page, uncompressedSize: uncompressed)
            try withBytes(body) { (b) throws(ParquetError) in try builder.setDictionary(b, count: Int(d.numValues)) }
        case PageTypeID.dataPage, PageTypeID.dataPageV2:
            let n: Int
            let encoding: Int32
            var body: [UInt8]
            var valuesStart = 0
            var levelData: UnsafeRawBufferPointer?
            var levelEncoding = EncodingID.rle
            var levelsPrefixed = true
            if let h = header.dataPage, header.type == PageTypeID.dataPage {
                n = Int(h.numValues)
                encoding = h.encoding
                levelEncoding = h.definitionLevelEncoding
                body = try decompressPage(codec: codec, page, uncompressedSize: uncompressed)
            } else if let h = header.dataPageV2, header.type == PageTypeID.dataPageV2 {
                n = Int(h.numValues)
                encoding = h.encoding
                let repLength = Int(h.repetitionLevelsByteLength), defLength = Int(h.definitionLevelsByteLength)
                guard repLength >= 0, defLength >= 0, repLength <= size - defLength, repLength + defLength <= uncompressed else {
                    throw .corruptPage("\(place): v2 level lengths \(repLength)+\(defLength) exceed the page")
                }
                let levelBytes = repLength + defLength
                let valuesPart = UnsafeRawBufferPointer(rebasing: page[levelBytes...])
                let valuesSize = uncompressed - levelBytes
                let values = h.isCompressed
                    ? try decompressPage(codec: codec, valuesPart, uncompressedSize: valuesSize)
                    : try decompressPage(codec: 0, valuesPart, uncompressedSize: valuesSize)
                body = Array(UnsafeRawBufferPointer(rebasing: page[repLength..<levelBytes]))
                valuesStart = body.count
                body.append(contentsOf: values)
                levelsPrefixed = false
                if maxDef == 0 && defLength != 0 {
                    throw .corruptPage("\(place): definition levels on a required column")
                }
            } else {
                throw .corruptMetadata("\(place): data page without its header")
            }
            guard n >= 0, n <= rows - builder.count else {
                throw .corruptPage("\(place): page of \(n) values, but only \(rows - builder.count) rows remain in the row group")
            }
            try withBytes(body) { (b) throws(ParquetError) in
                var cursor = ByteCursor(b)
                var nonNull = n
                if maxDef > 0 {
                    if pageLevels.count < n { pageLevels = Array(repeating: 0, count: n) }
                    if levelsPrefixed {
                        switch levelEncoding {
                        case EncodingID.rle:
                            let len = Int(try cursor.readUInt32())
                            levelData = try cursor.take(len)
                        case EncodingID.bitPacked:
                            levelData = try cursor.take((n * levelWidth + 7) / 8)
                        default:
                            throw .unsupported("\(place): definition level encoding \(EncodingID.name(levelEncoding))")
                        }
                    } else {
                        levelData = UnsafeRawBufferPointer(rebasing: b[0..<valuesStart])
                        cursor.position = valuesStart
                    }
                    try pageLevels.withUnsafeMutableBufferPointer { (p) throws(ParquetError) in
                        if levelEncoding == EncodingID.bitPacked && levelsPrefixed {
                            // Deprecated BIT_PACKED levels: MSB first.
                            let d = levelData!
                            for i in 0..<n {
                                var v = 0
                                for k in 0..<levelWidth {
                                    let bit = i * levelWidth + k
                                    v = v << 1 | Int((d[bit >> 3] >> UInt8(7 - bit & 7)) & 1)
                                }
                                p[i] = UInt8(truncatingIfNeeded: v)
                            }
                        } else {
                            var decoder = try RLEDecoder(levelData!, bitWidth: levelWidth)
                            try decoder.decode(into: p.baseAddress!, count: n)
                        }
                    }
                    nonNull = 0
                    if present.count < n { present = Array(repeating: false, count: n) }
                    var bad = false
                    pageLevels.withUnsafeBufferPointer { l in
                        present.withUnsafeMutableBufferPointer { pr in
                            for i in 0..<n {
                                let lv = Int(l[i])
                                bad = bad || lv > maxDef
                                pr[i] = lv == maxDef
                                nonNull += lv == maxDef ? 1 : 0
                            }
                        }
                    }
                    if bad { throw .corruptPage("\(place): definition level above the maximum \(maxDef)") }
                    if nonNull < n && !anyNull {
                        anyNull = true
                        levels = Array(repeating: UInt8(maxDef), count: builder.count)
                    }
                    if anyNull { levels.append(contentsOf: pageLevels[0..<n]) }
                }
                try builder.append(encoding: encoding, cursor.rest, count: nonNull)
                if nonNull < n {
                    present.withUnsafeBufferPointer { builder.spread(nonNull: nonNull, present: UnsafeBufferPointer(rebasing: $0[0..<n])) }
                }
            }
        default:
            continue
        }
    }
    guard builder.count == rows else {
        throw .corruptPage("\(place): the chunk holds \(builder.count) values, the row group has \(rows) rows")
    }
    var validity: [Bool]?
    if anyNull { validity = levels.map { Int($0) == maxDef } }
    return DecodedLeaf(values: builder.finish(), validity: validity, levels: anyNull ? levels : nil)
}
