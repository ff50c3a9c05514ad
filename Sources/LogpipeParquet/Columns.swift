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

    /// Concatenates tables with the same schema (such as a file's row groups) in one pass,
    /// copying each buffer once.
    public static func concatenate(_ tables: [ParquetTable]) throws(ParquetError) -> ParquetTable {
        guard let first = tables.first else { throw .invalidArgument("concatenating no tables") }
        guard tables.allSatisfy({ $0.schema == first.schema }) else { throw .invalidArgument("concatenating tables with different schemas") }
        if tables.count == 1 { return first }
        var columns: [ParquetColumn] = []
        for i in first.columns.indices {
            columns.append(try ParquetColumn.concatenate(tables.map { ($0.columns[i], $0.rowCount) }))
        }
        return ParquetTable(schema: first.schema, rowCount: tables.reduce(0) { $0 + $1.rowCount }, columns: columns)
    }
}

extension ParquetColumn {
    /// One column from pieces of the same type, each with its row count.
    static func concatenate(_ parts: [(column: ParquetColumn, rows: Int)]) throws(ParquetError) -> ParquetColumn {
        let total = parts.reduce(0) { $0 + $1.rows }
        var validity: [Bool]?
        if parts.contains(where: { $0.column.validity != nil }) {
            var v: [Bool] = []
            v.reserveCapacity(total)
            for (c, rows) in parts { v.append(contentsOf: c.validity ?? Array(repeating: true, count: rows)) }
            validity = v
        }
        func joined<T>(_ extract: (ParquetValues) -> [T]?) throws(ParquetError) -> [T] {
            var out: [T] = []
            out.reserveCapacity(total)
            for (c, _) in parts {
                guard let a = extract(c.values) else { throw .invalidArgument("concatenating columns of different types") }
                out.append(contentsOf: a)
            }
            return out
        }
        let values: ParquetValues
        switch parts[0].column.values {
        case .boolean: values = .boolean(try joined { if case .boolean(let a) = $0 { a } else { nil } })
        case .int32: values = .int32(try joined { if case .int32(let a) = $0 { a } else { nil } })
        case .int64: values = .int64(try joined { if case .int64(let a) = $0 { a } else { nil } })
        case .float: values = .float(try joined { if case .float(let a) = $0 { a } else { nil } })
        case .double: values = .double(try joined { if case .double(let a) = $0 { a } else { nil } })
        case .byteArray:
            var bytes: [UInt8] = []
            var offsets: [Int32] = [0]
            offsets.reserveCapacity(total + 1)
            for (c, _) in parts {
                guard case .byteArray(let b, let o) = c.values else { throw .invalidArgument("concatenating columns of different types") }
                guard bytes.count + b.count <= Int(Int32.max) else {
                    throw .invalidArgument("a byte-array column above 2 GiB does not fit Int32 offsets")
                }
                let base = Int32(bytes.count)
                bytes.append(contentsOf: b)
                for k in o.indices.dropFirst() { offsets.append(o[k] + base) }
            }
            values = .byteArray(bytes: bytes, offsets: offsets)
        case .group(let first):
            var children: [ParquetColumn] = []
            for i in first.indices {
                var childParts: [(column: ParquetColumn, rows: Int)] = []
                for (c, rows) in parts {
                    guard case .group(let cs) = c.values, i < cs.count else { throw .invalidArgument("concatenating columns of different types") }
                    childParts.append((cs[i], rows))
                }
                children.append(try concatenate(childParts))
            }
            values = .group(children)
        }
        return ParquetColumn(values, validity: validity)
    }
}
