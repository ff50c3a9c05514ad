/// Encoding settings shared by every column of a writer.
struct ColumnWriterConfig {
    var dataPageSize: Int
    var maxRowsPerPage: Int
    var dictionaryPageSizeLimit: Int
    var writeStatistics: Bool
}

/// Where a leaf's definition levels come from in the current batch: one validity per
/// non-required field on its path, top-down (`nil` = all present at that level).
struct LeafInput {
    var values: ParquetValues
    var validities: [[Bool]?]
    var allPresent: Bool
}

/// Buffers one leaf column's pages for the current row group: definition levels, values
/// through its `ValueEncoder`, compressed data pages, and the chunk's counters.
final class LeafWriter {
    let leaf: LeafDescriptor
    private let config: ColumnWriterConfig
    private let compressor: PageCompressor
    private let encoder: any ValueEncoder
    private let fastEncoder: AnyValueEncoder
    private let maxDef: UInt8
    private let levelBitWidth: Int

    // The page being filled.
    private var pageLevels: [UInt8] = []
    private var pageRows = 0
    private var pageNonNull = 0

    // The column chunk being filled: data pages as header and compressed-body buffers, in
    // file order (kept apart so that no growing buffer is copied as the chunk grows).
    private var pages: [[UInt8]] = []
    private var pagesBytes = 0
    private var dictionaryDataPages: Int32 = 0
    private var plainDataPages: Int32 = 0
    private var chunkRows: Int64 = 0
    private var chunkNulls: Int64 = 0
    private var pagesUncompressedBytes: Int64 = 0

    // Scratch buffers reused across pages and slices.
    private var body: [UInt8] = []
    private var present: [Bool] = []
    private var input: LeafInput?

    init(leaf: LeafDescriptor, config: ColumnWriterConfig, compressor: PageCompressor, dictionaryEnabled: Bool) throws(ParquetError) {
        self.leaf = leaf
        self.config = config
        self.compressor = compressor
        guard leaf.maxRepetitionLevel == 0 else { throw .invalidArgument("column \(leaf.dottedPath): repeated fields are not supported by the writer") }
        guard leaf.maxDefinitionLevel < 255 else { throw .invalidArgument("column \(leaf.dottedPath) is nested too deeply") }
        maxDef = UInt8(leaf.maxDefinitionLevel)
        levelBitWidth = bitWidth(forMax: leaf.maxDefinitionLevel)
        switch leaf.physical {
        case .boolean: fastEncoder = .boolean(BooleanValueEncoder())
        case .int32: fastEncoder = .int32(FixedValueEncoder<Int32>(dictionaryEnabled: dictionaryEnabled))
        case .int64: fastEncoder = .int64(FixedValueEncoder<Int64>(dictionaryEnabled: dictionaryEnabled))
        case .float: fastEncoder = .float(FixedValueEncoder<Float>(dictionaryEnabled: dictionaryEnabled))
        case .double: fastEncoder = .double(FixedValueEncoder<Double>(dictionaryEnabled: dictionaryEnabled))
        case .byteArray: fastEncoder = .byteArray(ByteArrayValueEncoder(dictionaryEnabled: dictionaryEnabled))
        case .int96, .fixedLenByteArray:
            throw .invalidArgument("column \(leaf.dottedPath): the writer does not write \(leaf.physical)")
        }
        encoder = fastEncoder.encoder
    }

    func setInput(_ input: LeafInput) throws(ParquetError) {
        try encoder.setInput(input.values)
        self.input = input
    }

    func clearInput() {
        encoder.clearInput()
        input = nil
    }

    /// The bytes this chunk will take if the row group closed now (pages are compressed
    /// already; the open page and the dictionary are counted unencoded).
    var estimatedChunkBytes: Int {
        pagesBytes + encoder.pageByteEstimate + pageLevels.count / 4 + (encoder.dictionaryUsed ? encoder.dictionaryByteSize : 0)
    }

    /// Encodes rows `range` of the current input, closing pages on the size and row limits
    /// and falling back to PLAIN when the dictionary outgrows its limit.
    func append(rows range: Range<Int>) throws(ParquetError) {
        guard let input else { return }
        var r = range.lowerBound
        while r < range.upperBound {
            let n = min(range.upperBound - r, 1024, config.maxRowsPerPage - pageRows)
            if input.allPresent {
                if maxDef > 0 { pageLevels.append(contentsOf: repeatElement(maxDef, count: n)) }
                fastEncoder.append(start: r, count: n, present: nil)
                pageNonNull += n
            } else {
                let nonNull = computeLevels(input, start: r, count: n)
                pageNonNull += nonNull
                present.withUnsafeBufferPointer { fastEncoder.append(start: r, count: n, present: $0.baseAddress!) }
            }
            pageRows += n
            r += n
            if pageRows >= config.maxRowsPerPage || encoder.pageByteEstimate >= config.dataPageSize {
                try flushPage()
            }
            if encoder.dictionaryMode && encoder.dictionaryByteSize > config.dictionaryPageSizeLimit {
                try flushPage()
                encoder.fallBackToPlain()
            }
        }
    }

    /// Appends the definition levels of `count` rows to the page and fills `present`;
    /// returns how many rows have a value.
    private func computeLevels(_ input: LeafInput, start: Int, count: Int) -> Int {
        let base = pageLevels.count
        pageLevels.append(contentsOf: repeatElement(maxDef, count: count))
        if present.count != count { present = Array(repeating: true, count: count) }
        pageLevels.withUnsafeMutableBufferPointer { levelsBuf in
            let levels = levelsBuf.baseAddress! + base
            // A row's level is the index of its shallowest null field: write deepest first
            // so shallower nulls overwrite.
            for k in stride(from: input.validities.count - 1, through: 0, by: -1) {
                guard let validity = input.validities[k] else { continue }
                let level = UInt8(k)
                validity.withUnsafeBufferPointer { v in
                    let vp = v.baseAddress! + start
                    for i in 0..<count where !vp[i] { levels[i] = level }
                }
            }
        }
        var nonNull = 0
        pageLevels.withUnsafeBufferPointer { levelsBuf in
            present.withUnsafeMutableBufferPointer { p in
                let levels = levelsBuf.baseAddress! + base
                for i in 0..<count {
                    let isPresent = levels[i] == maxDef
                    p[i] = isPresent
                    nonNull &+= isPresent ? 1 : 0
                }
            }
        }
        return nonNull
    }

    /// Encodes and compresses the open page, if it has rows.
    func flushPage() throws(ParquetError) {
        guard pageRows > 0 else { return }
        body.removeAll(keepingCapacity: true)
        if maxDef > 0 {
            body.append(contentsOf: [0, 0, 0, 0])
            pageLevels.withUnsafeBufferPointer { RLEEncoder.encode($0, bitWidth: levelBitWidth, into: &body) }
            let len = UInt32(body.count - 4)
            for k in 0..<4 { body[k] = UInt8(truncatingIfNeeded: len >> UInt32(8 * k)) }
        }
        let encoding = encoder.flushPage(into: &body)
        if encoding == EncodingID.plain { plainDataPages += 1 } else { dictionaryDataPages += 1 }
        var header = PageHeaderT()
        header.type = PageTypeID.dataPage
        header.dataPage = DataPageHeaderT(
            numValues: Int32(pageRows), encoding: encoding,
            definitionLevelEncoding: EncodingID.rle, repetitionLevelEncoding: EncodingID.rle)
        try appendPage(header: header, to: &pages, bytes: &pagesBytes)
        chunkRows += Int64(pageRows)
        chunkNulls += Int64(pageRows - pageNonNull)
        pageLevels.removeAll(keepingCapacity: true)
        pageRows = 0
        pageNonNull = 0
    }

    /// Compresses `body` and appends header and data to `out`, counting their bytes in `bytes`
    /// and the uncompressed bytes in the chunk's total.
    private func appendPage(header h: PageHeaderT, to out: inout [[UInt8]], bytes: inout Int) throws(ParquetError) {
        let compressed = try withBytes(body) { (b) throws(ParquetError) in try compressor.compress(b) }
        guard body.count <= Int32.max, compressed.count <= Int32.max else {
            throw .invalidArgument("column \(leaf.dottedPath): a page above 2 GiB")
        }
        var header = h
        header.uncompressedPageSize = Int32(body.count)
        header.compressedPageSize = Int32(compressed.count)
        var w = ThriftWriter(capacity: 64)
        header.write(&w)
        out.append(w.bytes)
        out.append(compressed)
        bytes += w.bytes.count + compressed.count
        pagesUncompressedBytes += Int64(w.bytes.count + body.count)
    }

    /// Writes the chunk (dictionary page, then data pages) at `offset` through `emit`,
    /// returns its metadata, and resets for the next row group.
    func finishChunk(at offset: Int64, codec: Int32, emit: ([UInt8]) throws(ParquetError) -> Void) throws(ParquetError) -> ColumnChunkT {
        try flushPage()
        var meta = ColumnMetaDataT()
        meta.type = physicalTypeID
        meta.pathInSchema = leaf.path
        meta.codec = codec
        meta.numValues = chunkRows
        var dictionaryPage: [[UInt8]] = []
        var dictionaryBytes = 0
        if encoder.dictionaryUsed {
            body.removeAll(keepingCapacity: true)
            let count = encoder.writeDictionary(into: &body)
            var header = PageHeaderT()
            header.type = PageTypeID.dictionaryPage
            header.dictionaryPage = DictionaryPageHeaderT(numValues: Int32(count), encoding: EncodingID.plain)
            try appendPage(header: header, to: &dictionaryPage, bytes: &dictionaryBytes)
            meta.dictionaryPageOffset = offset
            meta.encodings = [EncodingID.plain, EncodingID.rle, EncodingID.rleDictionary]
            meta.encodingStats.append(PageEncodingStatsT(pageType: PageTypeID.dictionaryPage, encoding: EncodingID.plain, count: 1))
        } else {
            meta.encodings = [EncodingID.plain, EncodingID.rle]
        }
        if dictionaryDataPages > 0 {
            meta.encodingStats.append(PageEncodingStatsT(pageType: PageTypeID.dataPage, encoding: EncodingID.rleDictionary, count: dictionaryDataPages))
        }
        if plainDataPages > 0 {
            meta.encodingStats.append(PageEncodingStatsT(pageType: PageTypeID.dataPage, encoding: EncodingID.plain, count: plainDataPages))
        }
        meta.dataPageOffset = offset + Int64(dictionaryBytes)
        meta.totalCompressedSize = Int64(dictionaryBytes + pagesBytes)
        meta.totalUncompressedSize = pagesUncompressedBytes
        if config.writeStatistics {
            var stats = StatisticsT()
            stats.nullCount = chunkNulls
            if let (lo, hi) = encoder.chunkMinMax(), lo.count <= 4096, hi.count <= 4096 {
                stats.minValue = lo
                stats.maxValue = hi
                // Signed-ordered types also get the legacy fields old readers look at.
                if leaf.physical != .byteArray {
                    stats.min = lo
                    stats.max = hi
                }
            }
            meta.statistics = stats
        }
        for piece in dictionaryPage { try emit(piece) }
        for piece in pages { try emit(piece) }
        resetChunk()
        return ColumnChunkT(filePath: nil, fileOffset: offset, metaData: meta)
    }

    private func resetChunk() {
        encoder.resetChunk()
        pages.removeAll(keepingCapacity: true)
        pagesBytes = 0
        dictionaryDataPages = 0
        plainDataPages = 0
        chunkRows = 0
        chunkNulls = 0
        pagesUncompressedBytes = 0
    }

    private var physicalTypeID: Int32 {
        switch leaf.physical {
        case .boolean: PhysicalTypeID.boolean
        case .int32: PhysicalTypeID.int32
        case .int64: PhysicalTypeID.int64
        case .int96: PhysicalTypeID.int96
        case .float: PhysicalTypeID.float
        case .double: PhysicalTypeID.double
        case .byteArray: PhysicalTypeID.byteArray
        case .fixedLenByteArray: PhysicalTypeID.fixedLenByteArray
        }
    }
}
