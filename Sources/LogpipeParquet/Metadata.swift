// The parquet.thrift structs Logpipe reads and writes, with their compact-protocol
// encoders and decoders. Field ids follow parquet-format's parquet.thrift; fields we do
// not model are skipped on read. Enum-typed fields stay raw `Int32` so that values from
// newer writers survive a read and are reported rather than rejected.

enum PhysicalTypeID {
    static let boolean: Int32 = 0, int32: Int32 = 1, int64: Int32 = 2, int96: Int32 = 3
    static let float: Int32 = 4, double: Int32 = 5, byteArray: Int32 = 6, fixedLenByteArray: Int32 = 7
}

enum EncodingID {
    static let plain: Int32 = 0, plainDictionary: Int32 = 2, rle: Int32 = 3, bitPacked: Int32 = 4
    static let deltaBinaryPacked: Int32 = 5, deltaLengthByteArray: Int32 = 6, deltaByteArray: Int32 = 7
    static let rleDictionary: Int32 = 8, byteStreamSplit: Int32 = 9

    static func name(_ e: Int32) -> String {
        switch e {
        case 0: "PLAIN"
        case 2: "PLAIN_DICTIONARY"
        case 3: "RLE"
        case 4: "BIT_PACKED"
        case 5: "DELTA_BINARY_PACKED"
        case 6: "DELTA_LENGTH_BYTE_ARRAY"
        case 7: "DELTA_BYTE_ARRAY"
        case 8: "RLE_DICTIONARY"
        case 9: "BYTE_STREAM_SPLIT"
        case 10: "ALP"
        default: "ENCODING(\(e))"
        }
    }
}

enum PageTypeID {
    static let dataPage: Int32 = 0, indexPage: Int32 = 1, dictionaryPage: Int32 = 2, dataPageV2: Int32 = 3
}

enum ConvertedTypeID {
    static let utf8: Int32 = 0, map: Int32 = 1, mapKeyValue: Int32 = 2, list: Int32 = 3, enumType: Int32 = 4
    static let decimal: Int32 = 5, date: Int32 = 6, timeMillis: Int32 = 7, timeMicros: Int32 = 8
    static let timestampMillis: Int32 = 9, timestampMicros: Int32 = 10
    static let uint8: Int32 = 11, uint16: Int32 = 12, uint32: Int32 = 13, uint64: Int32 = 14
    static let int8: Int32 = 15, int16: Int32 = 16, int32: Int32 = 17, int64: Int32 = 18
    static let json: Int32 = 19, bson: Int32 = 20, interval: Int32 = 21
}

struct StatisticsT: Equatable, Sendable {
    var max: [UInt8]?
    var min: [UInt8]?
    var nullCount: Int64?
    var distinctCount: Int64?
    var maxValue: [UInt8]?
    var minValue: [UInt8]?

    func write(_ w: inout ThriftWriter) {
        if let max { w.field(1, binary: max) }
        if let min { w.field(2, binary: min) }
        if let nullCount { w.field(3, i64: nullCount) }
        if let distinctCount { w.field(4, i64: distinctCount) }
        if let maxValue { w.field(5, binary: maxValue) }
        if let minValue { w.field(6, binary: minValue) }
    }

    static func read(_ r: inout ThriftReader) throws(ParquetError) -> StatisticsT {
        var s = StatisticsT()
        try r.structBegin()
        while let (id, t) = try r.readFieldHeader() {
            switch (id, t) {
            case (1, .binary): s.max = try r.readBinary()
            case (2, .binary): s.min = try r.readBinary()
            case (3, .i64): s.nullCount = try r.readI64()
            case (4, .i64): s.distinctCount = try r.readI64()
            case (5, .binary): s.maxValue = try r.readBinary()
            case (6, .binary): s.minValue = try r.readBinary()
            default: try r.skip(t)
            }
        }
        r.structEnd()
        return s
    }
}

extension ParquetTimeUnit {
    fileprivate func write(_ w: inout ThriftWriter) {
        switch self {
        case .millis: w.fieldEmptyStruct(1)
        case .micros: w.fieldEmptyStruct(2)
        case .nanos: w.fieldEmptyStruct(3)
        }
    }

    fileprivate static func read(_ r: inout ThriftReader) throws(ParquetError) -> ParquetTimeUnit? {
        var unit: ParquetTimeUnit?
        try r.structBegin()
        while let (id, t) = try r.readFieldHeader() {
            switch (id, t) {
            case (1, .struct): unit = .millis
            case (2, .struct): unit = .micros
            case (3, .struct): unit = .nanos
            default: break
            }
            try r.skip(t)
        }
        r.structEnd()
        return unit
    }
}

extension ParquetLogicalType {
    func write(_ w: inout ThriftWriter) {
        switch self {
        case .string: w.fieldEmptyStruct(1)
        case .map: w.fieldEmptyStruct(2)
        case .list: w.fieldEmptyStruct(3)
        case .enumeration: w.fieldEmptyStruct(4)
        case .decimal(let precision, let scale):
            w.fieldStructBegin(5)
            w.field(1, i32: scale)
            w.field(2, i32: precision)
            w.structEnd()
        case .date: w.fieldEmptyStruct(6)
        case .time(let utc, let unit), .timestamp(let utc, let unit):
            if case .time = self { w.fieldStructBegin(7) } else { w.fieldStructBegin(8) }
            w.field(1, bool: utc)
            w.fieldStructBegin(2)
            unit.write(&w)
            w.structEnd()
            w.structEnd()
        case .integer(let bitWidth, let signed):
            w.fieldStructBegin(10)
            w.field(1, i8: bitWidth)
            w.field(2, bool: signed)
            w.structEnd()
        case .unknown: w.fieldEmptyStruct(11)
        case .json: w.fieldEmptyStruct(12)
        case .bson: w.fieldEmptyStruct(13)
        case .uuid: w.fieldEmptyStruct(14)
        case .float16: w.fieldEmptyStruct(15)
        case .other: break
        }
    }

    static func read(_ r: inout ThriftReader) throws(ParquetError) -> ParquetLogicalType? {
        var result: ParquetLogicalType?
        try r.structBegin()
        while let (id, t) = try r.readFieldHeader() {
            guard t == .struct else {
                try r.skip(t)
                continue
            }
            switch id {
            case 1: result = .string
            case 2: result = .map
            case 3: result = .list
            case 4: result = .enumeration
            case 5:
                var scale: Int32 = 0, precision: Int32 = 0
                try r.structBegin()
                while let (fid, ft) = try r.readFieldHeader() {
                    switch (fid, ft) {
                    case (1, .i32): scale = try r.readI32()
                    case (2, .i32): precision = try r.readI32()
                    default: try r.skip(ft)
                    }
                }
                r.structEnd()
                result = .decimal(precision: precision, scale: scale)
                continue
            case 6: result = .date
            case 7, 8:
                var utc = false
                var unit: ParquetTimeUnit?
                try r.structBegin()
                while let (fid, ft) = try r.readFieldHeader() {
                    switch (fid, ft) {
                    case (1, .boolTrue), (1, .boolFalse): utc = try r.readBool(ft)
                    case (2, .struct): unit = try ParquetTimeUnit.read(&r)
                    default: try r.skip(ft)
                    }
                }
                r.structEnd()
                if let unit { result = id == 7 ? .time(isAdjustedToUTC: utc, unit: unit) : .timestamp(isAdjustedToUTC: utc, unit: unit) }
                continue
            case 10:
                var bits: Int8 = 0
                var signed = true
                try r.structBegin()
                while let (fid, ft) = try r.readFieldHeader() {
                    switch (fid, ft) {
                    case (1, .byte): bits = Int8(bitPattern: try r.readByte())
                    case (2, .boolTrue), (2, .boolFalse): signed = try r.readBool(ft)
                    default: try r.skip(ft)
                    }
                }
                r.structEnd()
                result = .integer(bitWidth: bits, isSigned: signed)
                continue
            case 11: result = .unknown
            case 12: result = .json
            case 13: result = .bson
            case 14: result = .uuid
            case 15: result = .float16
            default: result = .other(Int(id))
            }
            try r.skip(.struct)
        }
        r.structEnd()
        return result
    }
}

struct SchemaElementT: Sendable {
    var type: Int32?
    var typeLength: Int32?
    var repetition: Int32?
    var name: String = ""
    var numChildren: Int32?
    var convertedType: Int32?
    var scale: Int32?
    var precision: Int32?
    var fieldID: Int32?
    var logicalType: ParquetLogicalType?

    func write(_ w: inout ThriftWriter) {
        w.structBegin()
        if let type { w.field(1, i32: type) }
        if let typeLength { w.field(2, i32: typeLength) }
        if let repetition { w.field(3, i32: repetition) }
        w.field(4, string: name)
        if let numChildren { w.field(5, i32: numChildren) }
        if let convertedType { w.field(6, i32: convertedType) }
        if let scale { w.field(7, i32: scale) }
        if let precision { w.field(8, i32: precision) }
        if let fieldID { w.field(9, i32: fieldID) }
        if let logicalType {
            w.fieldStructBegin(10)
            logicalType.write(&w)
            w.structEnd()
        }
        w.structEnd()
    }

    static func read(_ r: inout ThriftReader) throws(ParquetError) -> SchemaElementT {
        var s = SchemaElementT()
        var hasName = false
        try r.structBegin()
        while let (id, t) = try r.readFieldHeader() {
            switch (id, t) {
            case (1, .i32): s.type = try r.readI32()
            case (2, .i32): s.typeLength = try r.readI32()
            case (3, .i32): s.repetition = try r.readI32()
            case (4, .binary): s.name = try r.readString(); hasName = true
            case (5, .i32): s.numChildren = try r.readI32()
            case (6, .i32): s.convertedType = try r.readI32()
            case (7, .i32): s.scale = try r.readI32()
            case (8, .i32): s.precision = try r.readI32()
            case (9, .i32): s.fieldID = try r.readI32()
            case (10, .struct): s.logicalType = try ParquetLogicalType.read(&r)
            default: try r.skip(t)
            }
        }
        r.structEnd()
        guard hasName else { throw .corruptMetadata("schema element without a name") }
        return s
    }
}

struct KeyValueT: Sendable {
    var key: String
    var value: String?

    func write(_ w: inout ThriftWriter) {
        w.structBegin()
        w.field(1, string: key)
        if let value { w.field(2, string: value) }
        w.structEnd()
    }

    static func read(_ r: inout ThriftReader) throws(ParquetError) -> KeyValueT {
        var key: String?
        var value: String?
        try r.structBegin()
        while let (id, t) = try r.readFieldHeader() {
            switch (id, t) {
            case (1, .binary): key = try r.readString()
            case (2, .binary): value = try r.readString()
            default: try r.skip(t)
            }
        }
        r.structEnd()
        guard let key else { throw .corruptMetadata("key-value pair without a key") }
        return KeyValueT(key: key, value: value)
    }
}

struct PageEncodingStatsT: Sendable {
    var pageType: Int32
    var encoding: Int32
    var count: Int32
}

struct ColumnMetaDataT: Sendable {
    var type: Int32 = 0
    var encodings: [Int32] = []
    var pathInSchema: [String] = []
    var codec: Int32 = 0
    var numValues: Int64 = 0
    var totalUncompressedSize: Int64 = 0
    var totalCompressedSize: Int64 = 0
    var dataPageOffset: Int64 = 0
    var indexPageOffset: Int64?
    var dictionaryPageOffset: Int64?
    var statistics: StatisticsT?
    var encodingStats: [PageEncodingStatsT] = []

    func write(_ w: inout ThriftWriter) {
        w.field(1, i32: type)
        w.fieldListBegin(2, elementType: .i32, count: encodings.count)
        for e in encodings { w.listElement(i32: e) }
        w.fieldListBegin(3, elementType: .binary, count: pathInSchema.count)
        for p in pathInSchema { w.listElement(string: p) }
        w.field(4, i32: codec)
        w.field(5, i64: numValues)
        w.field(6, i64: totalUncompressedSize)
        w.field(7, i64: totalCompressedSize)
        w.field(9, i64: dataPageOffset)
        if let indexPageOffset { w.field(10, i64: indexPageOffset) }
        if let dictionaryPageOffset { w.field(11, i64: dictionaryPageOffset) }
        if let statistics {
            w.fieldStructBegin(12)
            statistics.write(&w)
            w.structEnd()
        }
        if !encodingStats.isEmpty {
            w.fieldListBegin(13, elementType: .struct, count: encodingStats.count)
            for s in encodingStats {
                w.structBegin()
                w.field(1, i32: s.pageType)
                w.field(2, i32: s.encoding)
                w.field(3, i32: s.count)
                w.structEnd()
            }
        }
    }

    static func read(_ r: inout ThriftReader) throws(ParquetError) -> ColumnMetaDataT {
        var m = ColumnMetaDataT()
        var seen = Set<Int16>()
        try r.structBegin()
        while let (id, t) = try r.readFieldHeader() {
            switch (id, t) {
            case (1, .i32): m.type = try r.readI32()
            case (2, .list):
                let (et, n) = try r.readListHeader()
                guard et == .i32 else { throw .corruptMetadata("column encodings list of type \(et)") }
                for _ in 0..<n { m.encodings.append(try r.readI32()) }
            case (3, .list):
                let (et, n) = try r.readListHeader()
                guard et == .binary else { throw .corruptMetadata("path_in_schema list of type \(et)") }
                for _ in 0..<n { m.pathInSchema.append(try r.readString()) }
            case (4, .i32): m.codec = try r.readI32()
            case (5, .i64): m.numValues = try r.readI64()
            case (6, .i64): m.totalUncompressedSize = try r.readI64()
            case (7, .i64): m.totalCompressedSize = try r.readI64()
            case (9, .i64): m.dataPageOffset = try r.readI64()
            case (10, .i64): m.indexPageOffset = try r.readI64()
            case (11, .i64): m.dictionaryPageOffset = try r.readI64()
            case (12, .struct): m.statistics = try StatisticsT.read(&r)
            case (13, .list):
                let (et, n) = try r.readListHeader()
                guard et == .struct else { throw .corruptMetadata("encoding_stats list of type \(et)") }
                for _ in 0..<n {
                    var s = PageEncodingStatsT(pageType: 0, encoding: 0, count: 0)
                    try r.structBegin()
                    while let (fid, ft) = try r.readFieldHeader() {
                        switch (fid, ft) {
                        case (1, .i32): s.pageType = try r.readI32()
                        case (2, .i32): s.encoding = try r.readI32()
                        case (3, .i32): s.count = try r.readI32()
                        default: try r.skip(ft)
                        }
                    }
                    r.structEnd()
                    m.encodingStats.append(s)
                }
            default:
                try r.skip(t)
                continue
            }
            seen.insert(id)
        }
        r.structEnd()
        for required: Int16 in [1, 2, 3, 4, 5, 6, 7, 9] where !seen.contains(required) {
            throw .corruptMetadata("column metadata lacks required field \(required)")
        }
        return m
    }
}

struct ColumnChunkT: Sendable {
    var filePath: String?
    var fileOffset: Int64 = 0
    var metaData: ColumnMetaDataT?

    func write(_ w: inout ThriftWriter) {
        w.structBegin()
        if let filePath { w.field(1, string: filePath) }
        w.field(2, i64: fileOffset)
        if let metaData {
            w.fieldStructBegin(3)
            metaData.write(&w)
            w.structEnd()
        }
        w.structEnd()
    }

    static func read(_ r: inout ThriftReader) throws(ParquetError) -> ColumnChunkT {
        var c = ColumnChunkT()
        try r.structBegin()
        while let (id, t) = try r.readFieldHeader() {
            switch (id, t) {
            case (1, .binary): c.filePath = try r.readString()
            case (2, .i64): c.fileOffset = try r.readI64()
            case (3, .struct): c.metaData = try ColumnMetaDataT.read(&r)
            case (8, _), (9, _): throw .unsupported("encrypted column chunks")
            default: try r.skip(t)
            }
        }
        r.structEnd()
        return c
    }
}

struct RowGroupT: Sendable {
    var columns: [ColumnChunkT] = []
    var totalByteSize: Int64 = 0
    var numRows: Int64 = 0
    var fileOffset: Int64?
    var totalCompressedSize: Int64?
    var ordinal: Int16?

    func write(_ w: inout ThriftWriter) {
        w.structBegin()
        w.fieldListBegin(1, elementType: .struct, count: columns.count)
        for c in columns { c.write(&w) }
        w.field(2, i64: totalByteSize)
        w.field(3, i64: numRows)
        if let fileOffset { w.field(5, i64: fileOffset) }
        if let totalCompressedSize { w.field(6, i64: totalCompressedSize) }
        if let ordinal { w.field(7, i16: ordinal) }
        w.structEnd()
    }

    static func read(_ r: inout ThriftReader) throws(ParquetError) -> RowGroupT {
        var g = RowGroupT()
        var hasRows = false
        try r.structBegin()
        while let (id, t) = try r.readFieldHeader() {
            switch (id, t) {
            case (1, .list):
                let (et, n) = try r.readListHeader()
                guard et == .struct else { throw .corruptMetadata("row group columns list of type \(et)") }
                g.columns.reserveCapacity(n)
                for _ in 0..<n { g.columns.append(try ColumnChunkT.read(&r)) }
            case (2, .i64): g.totalByteSize = try r.readI64()
            case (3, .i64): g.numRows = try r.readI64(); hasRows = true
            case (5, .i64): g.fileOffset = try r.readI64()
            case (6, .i64): g.totalCompressedSize = try r.readI64()
            case (7, .i16): g.ordinal = try r.readI16()
            default: try r.skip(t)
            }
        }
        r.structEnd()
        guard hasRows else { throw .corruptMetadata("row group without num_rows") }
        guard g.numRows >= 0 else { throw .corruptMetadata("row group with \(g.numRows) rows") }
        return g
    }
}

struct FileMetaDataT: Sendable {
    var version: Int32 = 2
    var schema: [SchemaElementT] = []
    var numRows: Int64 = 0
    var rowGroups: [RowGroupT] = []
    var keyValueMetadata: [KeyValueT]?
    var createdBy: String?
    /// One entry per leaf column; 1 = TypeDefinedOrder, any other value = an order we do not know.
    var columnOrders: [Int16]?

    func write(_ w: inout ThriftWriter) {
        w.structBegin()
        w.field(1, i32: version)
        w.fieldListBegin(2, elementType: .struct, count: schema.count)
        for s in schema { s.write(&w) }
        w.field(3, i64: numRows)
        w.fieldListBegin(4, elementType: .struct, count: rowGroups.count)
        for g in rowGroups { g.write(&w) }
        if let keyValueMetadata {
            w.fieldListBegin(5, elementType: .struct, count: keyValueMetadata.count)
            for kv in keyValueMetadata { kv.write(&w) }
        }
        if let createdBy { w.field(6, string: createdBy) }
        if let columnOrders {
            w.fieldListBegin(7, elementType: .struct, count: columnOrders.count)
            for o in columnOrders {
                w.structBegin()
                w.fieldEmptyStruct(o)
                w.structEnd()
            }
        }
        w.structEnd()
    }

    static func read(_ r: inout ThriftReader) throws(ParquetError) -> FileMetaDataT {
        var f = FileMetaDataT()
        var seen = Set<Int16>()
        try r.structBegin()
        while let (id, t) = try r.readFieldHeader() {
            switch (id, t) {
            case (1, .i32): f.version = try r.readI32()
            case (2, .list):
                let (et, n) = try r.readListHeader()
                guard et == .struct else { throw .corruptMetadata("schema list of type \(et)") }
                f.schema.reserveCapacity(n)
                for _ in 0..<n { f.schema.append(try SchemaElementT.read(&r)) }
            case (3, .i64): f.numRows = try r.readI64()
            case (4, .list):
                let (et, n) = try r.readListHeader()
                guard et == .struct else { throw .corruptMetadata("row group list of type \(et)") }
                f.rowGroups.reserveCapacity(n)
                for _ in 0..<n { f.rowGroups.append(try RowGroupT.read(&r)) }
            case (5, .list):
                let (et, n) = try r.readListHeader()
                guard et == .struct else { throw .corruptMetadata("key-value list of type \(et)") }
                var kvs: [KeyValueT] = []
                for _ in 0..<n { kvs.append(try KeyValueT.read(&r)) }
                f.keyValueMetadata = kvs
            case (6, .binary): f.createdBy = try r.readString()
            case (7, .list):
                let (et, n) = try r.readListHeader()
                guard et == .struct else { throw .corruptMetadata("column order list of type \(et)") }
                var orders: [Int16] = []
                for _ in 0..<n {
                    var order: Int16 = 0
                    try r.structBegin()
                    while let (fid, ft) = try r.readFieldHeader() {
                        if ft == .struct { order = fid }
                        try r.skip(ft)
                    }
                    r.structEnd()
                    orders.append(order)
                }
                f.columnOrders = orders
            case (8, _): throw .unsupported("encrypted files")
            default:
                try r.skip(t)
                continue
            }
            seen.insert(id)
        }
        r.structEnd()
        for required: Int16 in [1, 2, 3, 4] where !seen.contains(required) {
            throw .corruptMetadata("file metadata lacks required field \(required)")
        }
        return f
    }
}

struct DataPageHeaderT {
    var numValues: Int32 = 0
    var encoding: Int32 = 0
    var definitionLevelEncoding: Int32 = EncodingID.rle
    var repetitionLevelEncoding: Int32 = EncodingID.rle
}

struct DictionaryPageHeaderT {
    var numValues: Int32 = 0
    var encoding: Int32 = EncodingID.plain
}

struct DataPageHeaderV2T {
    var numValues: Int32 = 0
    var numNulls: Int32 = 0
    var numRows: Int32 = 0
    var encoding: Int32 = 0
    var definitionLevelsByteLength: Int32 = 0
    var repetitionLevelsByteLength: Int32 = 0
    var isCompressed: Bool = true
}

struct PageHeaderT {
    var type: Int32 = 0
    var uncompressedPageSize: Int32 = 0
    var compressedPageSize: Int32 = 0
    var dataPage: DataPageHeaderT?
    var dictionaryPage: DictionaryPageHeaderT?
    var dataPageV2: DataPageHeaderV2T?

    func write(_ w: inout ThriftWriter) {
        w.structBegin()
        w.field(1, i32: type)
        w.field(2, i32: uncompressedPageSize)
        w.field(3, i32: compressedPageSize)
        if let d = dataPage {
            w.fieldStructBegin(5)
            w.field(1, i32: d.numValues)
            w.field(2, i32: d.encoding)
            w.field(3, i32: d.definitionLevelEncoding)
            w.field(4, i32: d.repetitionLevelEncoding)
            w.structEnd()
        }
        if let d = dictionaryPage {
            w.fieldStructBegin(7)
            w.field(1, i32: d.numValues)
            w.field(2, i32: d.encoding)
            w.structEnd()
        }
        if let d = dataPageV2 {
            w.fieldStructBegin(8)
            w.field(1, i32: d.numValues)
            w.field(2, i32: d.numNulls)
            w.field(3, i32: d.numRows)
            w.field(4, i32: d.encoding)
            w.field(5, i32: d.definitionLevelsByteLength)
            w.field(6, i32: d.repetitionLevelsByteLength)
            w.field(7, bool: d.isCompressed)
            w.structEnd()
        }
        w.structEnd()
    }

    static func read(_ r: inout ThriftReader) throws(ParquetError) -> PageHeaderT {
        var h = PageHeaderT()
        var seen = Set<Int16>()
        try r.structBegin()
        while let (id, t) = try r.readFieldHeader() {
            switch (id, t) {
            case (1, .i32): h.type = try r.readI32()
            case (2, .i32): h.uncompressedPageSize = try r.readI32()
            case (3, .i32): h.compressedPageSize = try r.readI32()
            case (5, .struct):
                var d = DataPageHeaderT()
                try r.structBegin()
                while let (fid, ft) = try r.readFieldHeader() {
                    switch (fid, ft) {
                    case (1, .i32): d.numValues = try r.readI32()
                    case (2, .i32): d.encoding = try r.readI32()
                    case (3, .i32): d.definitionLevelEncoding = try r.readI32()
                    case (4, .i32): d.repetitionLevelEncoding = try r.readI32()
                    default: try r.skip(ft)
                    }
                }
                r.structEnd()
                h.dataPage = d
            case (7, .struct):
                var d = DictionaryPageHeaderT()
                try r.structBegin()
                while let (fid, ft) = try r.readFieldHeader() {
                    switch (fid, ft) {
                    case (1, .i32): d.numValues = try r.readI32()
                    case (2, .i32): d.encoding = try r.readI32()
                    default: try r.skip(ft)
                    }
                }
                r.structEnd()
                h.dictionaryPage = d
            case (8, .struct):
                var d = DataPageHeaderV2T()
                try r.structBegin()
                while let (fid, ft) = try r.readFieldHeader() {
                    switch (fid, ft) {
                    case (1, .i32): d.numValues = try r.readI32()
                    case (2, .i32): d.numNulls = try r.readI32()
                    case (3, .i32): d.numRows = try r.readI32()
                    case (4, .i32): d.encoding = try r.readI32()
                    case (5, .i32): d.definitionLevelsByteLength = try r.readI32()
                    case (6, .i32): d.repetitionLevelsByteLength = try r.readI32()
                    case (7, .boolTrue), (7, .boolFalse): d.isCompressed = try r.readBool(ft)
                    default: try r.skip(ft)
                    }
                }
                r.structEnd()
                h.dataPageV2 = d
            default:
                try r.skip(t)
                continue
            }
            seen.insert(id)
        }
        r.structEnd()
        for required: Int16 in [1, 2, 3] where !seen.contains(required) {
            throw .corruptMetadata("page header lacks required field \(required)")
        }
        guard h.uncompressedPageSize >= 0, h.compressedPageSize >= 0 else {
            throw .corruptMetadata("page header with negative size")
        }
        return h
    }
}
