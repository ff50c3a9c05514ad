/// The values of one column in the dense layout Logpipe's record batches use: one slot per
/// row, null rows hold zero or an empty string, and nulls are marked in `ParquetColumn.validity`.
/// Arrays are passed by reference (copy-on-write), so handing a record batch's buffers to the
/// writer copies nothing.
public enum ParquetValues: Sendable {
    /// BOOLEAN.
    case boolean([Bool])
    /// INT32 (also INT(8/16/32), DATE).
    case int32([Int32])
    /// INT64 (also TIMESTAMP, INT(64)).
    case int64([Int64])
    /// FLOAT.
    case float([Float])
    /// DOUBLE.
    case double([Double])
    /// BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY and INT96: row `i` is `bytes[offsets[i] ..< offsets[i + 1]]`,
    /// with `offsets.count == rows + 1` and `offsets[0] == 0`.
    case byteArray(bytes: [UInt8], offsets: [Int32])
    /// A group: one column per child field, in schema order, each with `rows` slots.
    case group([ParquetColumn])

    /// The number of rows these values hold (for a group, its first child's; 0 without children).
    public var count: Int {
        switch self {
        case .boolean(let v): v.count
        case .int32(let v): v.count
        case .int64(let v): v.count
        case .float(let v): v.count
        case .double(let v): v.count
        case .byteArray(_, let offsets): max(offsets.count - 1, 0)
        case .group(let children): children.first?.count ?? 0
        }
    }
}

/// One column of a batch: its values and which rows are present.
public struct ParquetColumn: Sendable {
    /// `nil` when every row is present, otherwise one flag per row (`true` = present).
    /// For a group, a `false` row makes every descendant null in that row, whatever they hold.
    public var validity: [Bool]?
    /// The values, one slot per row.
    public var values: ParquetValues

    /// A column over existing buffers.
    public init(_ values: ParquetValues, validity: [Bool]? = nil) {
        self.values = values
        self.validity = validity
    }

    /// The number of rows.
    public var count: Int { validity?.count ?? values.count }

    /// Whether row `i` is present (not null) at this level.
    @inlinable
    public func isValid(_ i: Int) -> Bool { validity?[i] ?? true }

    /// The child column of a group at index `i`, or `nil` for a leaf.
    public func child(_ i: Int) -> ParquetColumn? {
        if case .group(let children) = values, i < children.count { return children[i] }
        return nil
    }
}

/// Rows for one `ParquetWriter.write` call: one column per top-level schema field, in order.
public struct ParquetColumnBatch: Sendable {
    /// The number of rows; every column (and every group child) has this many slots.
    public var rowCount: Int
    /// The top-level columns, in schema order.
    public var columns: [ParquetColumn]

    /// A batch over existing columns.
    public init(rowCount: Int, columns: [ParquetColumn]) {
        self.rowCount = rowCount
        self.columns = columns
    }
}

/// Rows read from a file: the (projected) schema and one column per top-level field.
public struct ParquetTable: Sendable {
    /// The schema of `columns`: the file's schema restricted to the projection.
    public var schema: ParquetSchema
    /// The number of rows.
    public var rowCount: Int
    /// One column per field of `schema`, in order.
    public var columns: [ParquetColumn]

    /// A table from its parts.
    public init(schema: ParquetSchema, rowCount: Int, columns: [ParquetColumn]) {
        self.schema = schema
        self.rowCount = rowCount
        self.columns = columns
    }

    /// The column at a dotted path such as `metadata.status_code`, or `nil`.
    public func column(_ path: String) -> ParquetColumn? {
        var fields = schema.fields
        var columns = self.columns
        var result: ParquetColumn?
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard let i = fields.firstIndex(where: { $0.name == part }), i < columns.count else { return nil }
            result = columns[i]
            if case .group(let f) = fields[i].kind, case .group(let c) = columns[i].values {
                fields = f
                columns = c
            } else {
                fields = []
                columns = []
            }
        }
        return result
    }

    /// Appends another table's rows; both must have the same schema.
    public mutating func append(_ other: ParquetTable) throws(ParquetError) {
        guard other.schema == schema else { throw .invalidArgument("appending a table with a different schema") }
        // Appending to an empty table (the first row group of a read) takes the buffers as they are.
        if rowCount == 0 {
            columns = other.columns
            rowCount = other.rowCount
            return
        }
        for i in columns.indices { try columns[i].append(other.columns[i], existingRows: rowCount, newRows: other.rowCount) }
        rowCount += other.rowCount
    }
}

extension ParquetColumn {
    mutating func append(_ other: ParquetColumn, existingRows: Int, newRows: Int) throws(ParquetError) {
        switch (validity, other.validity) {
        case (nil, nil): break
        case (var v?, let o):
            v.append(contentsOf: o ?? Array(repeating: true, count: newRows))
            validity = v
        case (nil, let o?):
            validity = Array(repeating: true, count: existingRows) + o
        }
        switch (values, other.values) {
        case (.boolean(var a), .boolean(let b)): a.append(contentsOf: b); values = .boolean(a)
        case (.int32(var a), .int32(let b)): a.append(contentsOf: b); values = .int32(a)
        case (.int64(var a), .int64(let b)): a.append(contentsOf: b); values = .int64(a)
        case (.float(var a), .float(let b)): a.append(contentsOf: b); values = .float(a)
        case (.double(var a), .double(let b)): a.append(contentsOf: b); values = .double(a)
        case (.byteArray(var bytes, var offsets), .byteArray(let ob, let oo)):
            let base = Int32(bytes.count)
            guard Int64(bytes.count) + Int64(ob.count) <= Int64(Int32.max) else {
                throw .invalidArgument("a byte-array column above 2 GiB does not fit Int32 offsets")
            }
            bytes.append(contentsOf: ob)
            offsets.reserveCapacity(offsets.count + oo.count - 1)
            for o in oo.dropFirst() { offsets.append(o + base) }
            values = .byteArray(bytes: bytes, offsets: offsets)
        case (.group(var a), .group(let b)):
            values = .boolean([])
            for i in a.indices { try a[i].append(b[i], existingRows: existingRows, newRows: newRows) }
            values = .group(a)
        default:
            throw .invalidArgument("appending columns of different types")
        }
    }
}
