/// A condition on column values that the reader checks against row-group statistics to skip
/// row groups that cannot match. It never filters rows inside a kept row group.
public indirect enum ParquetPredicate: Sendable, Hashable {
    /// An INT64 or INT32 column (timestamps included) has a value in `min ... max`
    /// (either bound may be open).
    case integerRange(column: String, min: Int64?, max: Int64?)
    /// A BYTE_ARRAY column equals `value` (compared bytewise, as UTF-8).
    case stringEquals(column: String, value: String)
    /// Every predicate may match.
    case and([ParquetPredicate])
    /// At least one predicate may match.
    case or([ParquetPredicate])

    func validate(schema: ParquetSchema) throws(ParquetError) {
        switch self {
        case .integerRange(let c, _, _):
            guard case .primitive(let p, _)? = schema.field(atPath: c)?.kind, p == .int64 || p == .int32 else {
                throw .invalidArgument("predicate column \(c) is not an INT32/INT64 leaf")
            }
        case .stringEquals(let c, _):
            guard case .primitive(.byteArray, _)? = schema.field(atPath: c)?.kind else {
                throw .invalidArgument("predicate column \(c) is not a BYTE_ARRAY leaf")
            }
        case .and(let ps), .or(let ps):
            for p in ps { try p.validate(schema: schema) }
        }
    }

    func mayMatch(_ group: ParquetRowGroupInfo, leaves: [LeafDescriptor]) -> Bool {
        func chunk(_ column: String) -> ParquetColumnChunkInfo? {
            guard let i = leaves.firstIndex(where: { $0.dottedPath == column }), i < group.columns.count else { return nil }
            return group.columns[i]
        }
        switch self {
        case .integerRange(let column, let lo, let hi):
            guard let c = chunk(column), let s = c.statistics else { return true }
            if let nulls = s.nullCount, nulls == group.numRows, group.numRows > 0 { return false }
            guard let minBytes = s.min, let maxBytes = s.max,
                  let cmin = Self.integer(minBytes, c.physicalType), let cmax = Self.integer(maxBytes, c.physicalType)
            else { return true }
            if let lo, cmax < lo { return false }
            if let hi, cmin > hi { return false }
            return true
        case .stringEquals(let column, let value):
            guard let c = chunk(column), let s = c.statistics else { return true }
            if let nulls = s.nullCount, nulls == group.numRows, group.numRows > 0 { return false }
            guard let lo = s.min, let hi = s.max else { return true }
            let v = Array(value.utf8)
            return !v.lexicographicallyPrecedes(lo) && !hi.lexicographicallyPrecedes(v)
        case .and(let ps):
            return ps.allSatisfy { $0.mayMatch(group, leaves: leaves) }
        case .or(let ps):
            return ps.contains { $0.mayMatch(group, leaves: leaves) }
        }
    }

    private static func integer(_ bytes: [UInt8], _ type: ParquetPhysicalType) -> Int64? {
        switch (type, bytes.count) {
        case (.int64, 8):
            var v: UInt64 = 0
            for (i, b) in bytes.enumerated() { v |= UInt64(b) << UInt64(8 * i) }
            return Int64(bitPattern: v)
        case (.int32, 4):
            var v: UInt32 = 0
            for (i, b) in bytes.enumerated() { v |= UInt32(b) << UInt32(8 * i) }
            return Int64(Int32(bitPattern: v))
        default:
            return nil
        }
    }
}
