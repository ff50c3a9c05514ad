/// The views behind `logpipe parquet inspect` and `logpipe parquet cat`.
///
/// `cat` prints one JSON object per row. Groups become nested objects and nulls `null`.
/// TIMESTAMP and INT96 values are ISO 8601 UTC strings with the column's precision
/// ("2026-01-12T02:06:06.291045Z"), DATE is "YYYY-MM-DD", INT32/INT64 decimals are numbers
/// with their scale applied, unannotated BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY values are base64
/// strings, and NaN or infinite floats are `null` (JSON has no spelling for them).
public enum ParquetInspector {
    /// A text report of the file at `path`: footer, schema, and per row group each column
    /// chunk's type, codec, encodings, sizes, offsets and statistics.
    public static func inspect(path: String) throws(ParquetError) -> String {
        let reader = try ParquetFileReader(path: path)
        return describe(reader, name: path)
    }

    /// The same report for an opened reader.
    public static func describe(_ reader: ParquetFileReader, name: String) -> String {
        let info = reader.info
        var out = ""
        out += "file: \(name) (\(info.fileSize) bytes, footer \(info.footerLength) bytes)\n"
        out += "created_by: \(info.createdBy ?? "(none)")\n"
        out += "format version: \(info.version), rows: \(info.numRows), row groups: \(info.rowGroups.count)\n"
        if !info.keyValueMetadata.isEmpty {
            out += "key-value metadata:\n"
            for kv in info.keyValueMetadata {
                let v = kv.value.map { $0.count > 120 ? String($0.prefix(120)) + "… (\($0.utf8.count) bytes)" : $0 } ?? "(null)"
                out += "  \(kv.key) = \(v)\n"
            }
        }
        out += "schema \(reader.schema.rootName):\n"
        func field(_ f: ParquetField, indent: String) {
            let rep = switch f.repetition {
            case .required: "required"
            case .optional: "optional"
            case .repeated: "repeated"
            }
            switch f.kind {
            case .group(let children):
                out += "\(indent)\(f.name): \(rep) group\n"
                for c in children { field(c, indent: indent + "  ") }
            case .primitive(let p, let l):
                out += "\(indent)\(f.name): \(rep) \(typeName(p))\(l.map { " " + logicalName($0) } ?? "")\n"
            }
        }
        for f in reader.schema.fields { field(f, indent: "  ") }
        let leaves = reader.schema.leaves
        for (g, group) in info.rowGroups.enumerated() {
            out += "row group \(g): \(group.numRows) rows, \(group.totalByteSize) bytes uncompressed\n"
            for (c, chunk) in group.columns.enumerated() {
                out += "  \(chunk.path.joined(separator: ".")): \(typeName(chunk.physicalType)) \(chunk.codec) [\(chunk.encodings.joined(separator: ","))]"
                out += " values=\(chunk.numValues) compressed=\(chunk.compressedSize) uncompressed=\(chunk.uncompressedSize)"
                if let d = chunk.dictionaryPageOffset { out += " dictionary@\(d)" }
                out += " data@\(chunk.dataPageOffset)"
                if let s = chunk.statistics {
                    if let n = s.nullCount { out += " nulls=\(n)" }
                    if let d = s.distinctCount { out += " distinct=\(d)" }
                    let leaf = c < leaves.count ? leaves[c] : nil
                    if let lo = s.min { out += " min=\(statValue(lo, leaf))" }
                    if let hi = s.max { out += " max=\(statValue(hi, leaf))" }
                }
                out += "\n"
            }
        }
        return out
    }

    /// Streams the rows of the file at `path` as JSON lines (without the newline) to `emit`,
    /// restricted to `columns` (dotted paths; `nil` = all) and at most `limit` rows.
    public static func cat(
        path: String, columns: [String]? = nil, limit: Int? = nil, emit: (String) throws -> Void
    ) throws {
        let reader = try ParquetFileReader(path: path)
        var left = limit ?? Int.max
        for g in 0..<reader.rowGroupCount where left > 0 {
            let table = try reader.readRowGroup(g, columns: columns)
            for row in 0..<min(table.rowCount, left) {
                var line = "{"
                appendObject(&line, fields: table.schema.fields, columns: table.columns, row: row)
                line += "}"
                try emit(line)
            }
            left -= min(table.rowCount, left)
        }
    }

    /// One row of a table as a JSON object (used by `cat`, handy in tests and tools).
    public static func jsonRow(_ table: ParquetTable, row: Int) -> String {
        var line = "{"
        appendObject(&line, fields: table.schema.fields, columns: table.columns, row: row)
        return line + "}"
    }

    private static func appendObject(_ out: inout String, fields: [ParquetField], columns: [ParquetColumn], row: Int) {
        for (i, (f, c)) in zip(fields, columns).enumerated() {
            if i > 0 { out += "," }
            appendString(&out, Array(f.name.utf8))
            out += ":"
            guard c.isValid(row) else {
                out += "null"
                continue
            }
            switch (f.kind, c.values) {
            case (.group(let children), .group(let childColumns)):
                out += "{"
                appendObject(&out, fields: children, columns: childColumns, row: row)
                out += "}"
            case (.primitive(let p, let l), let values):
                appendValue(&out, values, row: row, physical: p, logical: l)
            default:
                out += "null"
            }
        }
    }

    private static func appendValue(_ out: inout String, _ values: ParquetValues, row: Int, physical: ParquetPhysicalType, logical: ParquetLogicalType?) {
        switch values {
        case .boolean(let v): out += v[row] ? "true" : "false"
        case .int32(let v):
            let x = v[row]
            switch logical {
            case .date?: out += "\"" + civilDate(days: Int64(x)) + "\""
            case .decimal(_, let scale)?: out += decimalString(Int64(x), scale: Int(scale))
            case .integer(_, false)?: out += String(UInt32(bitPattern: x))
            default: out += String(x)
            }
        case .int64(let v):
            let x = v[row]
            switch logical {
            case .timestamp(_, let unit)?: out += "\"" + isoTimestamp(x, unit: unit) + "\""
            case .decimal(_, let scale)?: out += decimalString(x, scale: Int(scale))
            case .integer(_, false)?: out += String(UInt64(bitPattern: x))
            default: out += String(x)
            }
        case .float(let v): out += v[row].isFinite ? "\(v[row])" : "null"
        case .double(let v): out += v[row].isFinite ? "\(v[row])" : "null"
        case .byteArray(let bytes, let offsets):
            let slice = Array(bytes[Int(offsets[row])..<Int(offsets[row + 1])])
            if physical == .int96, slice.count == 12 {
                out += "\"" + int96Timestamp(slice) + "\""
            } else if logical == .string || logical == .json || logical == .enumeration {
                appendString(&out, slice)
            } else {
                out += "\"" + base64(slice) + "\""
            }
        case .group:
            out += "null"
        }
    }

    /// Appends `bytes` (UTF-8, invalid sequences replaced) as a JSON string literal.
    static func appendString(_ out: inout String, _ bytes: [UInt8]) {
        var escaped: [UInt8] = [0x22]
        escaped.reserveCapacity(bytes.count + 2)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for b in bytes {
            switch b {
            case 0x22: escaped += [0x5C, 0x22]
            case 0x5C: escaped += [0x5C, 0x5C]
            case 0x0A: escaped += [0x5C, 0x6E]
            case 0x0D: escaped += [0x5C, 0x72]
            case 0x09: escaped += [0x5C, 0x74]
            case 0..<0x20: escaped += [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: escaped.append(b)
            }
        }
        escaped.append(0x22)
        out += String(decoding: escaped, as: UTF8.self)
    }

    private static func statValue(_ bytes: [UInt8], _ leaf: LeafDescriptor?) -> String {
        guard let leaf else { return base64(bytes) }
        func le(_ n: Int) -> UInt64? {
            guard bytes.count == n else { return nil }
            var v: UInt64 = 0
            for (i, b) in bytes.enumerated() { v |= UInt64(b) << UInt64(8 * i) }
            return v
        }
        switch leaf.physical {
        case .boolean: return bytes.first.map { $0 != 0 ? "true" : "false" } ?? "?"
        case .int32:
            guard let v = le(4) else { return "?" }
            let x = Int32(bitPattern: UInt32(truncatingIfNeeded: v))
            if leaf.logical == .date { return civilDate(days: Int64(x)) }
            return String(x)
        case .int64:
            guard let v = le(8) else { return "?" }
            let x = Int64(bitPattern: v)
            if case .timestamp(_, let unit)? = leaf.logical { return isoTimestamp(x, unit: unit) }
            return String(x)
        case .float: return le(4).map { "\(Float(bitPattern: UInt32(truncatingIfNeeded: $0)))" } ?? "?"
        case .double: return le(8).map { "\(Double(bitPattern: $0))" } ?? "?"
        case .byteArray, .fixedLenByteArray, .int96:
            if leaf.logical == .string || leaf.logical == .json || leaf.logical == .enumeration {
                var s = ""
                appendString(&s, Array(bytes.prefix(64)))
                return bytes.count > 64 ? s + "…" : s
            }
            return base64(Array(bytes.prefix(48)))
        }
    }

    private static func typeName(_ p: ParquetPhysicalType) -> String {
        switch p {
        case .boolean: "BOOLEAN"
        case .int32: "INT32"
        case .int64: "INT64"
        case .int96: "INT96"
        case .float: "FLOAT"
        case .double: "DOUBLE"
        case .byteArray: "BYTE_ARRAY"
        case .fixedLenByteArray(let n): "FIXED_LEN_BYTE_ARRAY(\(n))"
        }
    }

    private static func unitName(_ u: ParquetTimeUnit) -> String {
        switch u {
        case .millis: "MILLIS"
        case .micros: "MICROS"
        case .nanos: "NANOS"
        }
    }

    private static func logicalName(_ l: ParquetLogicalType) -> String {
        switch l {
        case .string: "STRING"
        case .map: "MAP"
        case .list: "LIST"
        case .enumeration: "ENUM"
        case .decimal(let p, let s): "DECIMAL(\(p),\(s))"
        case .date: "DATE"
        case .time(let utc, let u): "TIME(\(unitName(u))\(utc ? ", UTC" : ""))"
        case .timestamp(let utc, let u): "TIMESTAMP(\(unitName(u))\(utc ? ", UTC" : ""))"
        case .integer(let bits, let signed): "INT(\(bits), \(signed ? "signed" : "unsigned"))"
        case .unknown: "UNKNOWN"
        case .json: "JSON"
        case .bson: "BSON"
        case .uuid: "UUID"
        case .float16: "FLOAT16"
        case .other(let id): "LOGICAL(\(id))"
        }
    }

    /// "YYYY-MM-DD" for days since 1970-01-01 (proleptic Gregorian; Hinnant's civil_from_days).
    static func civilDate(days: Int64) -> String {
        let (y, m, d) = civil(days)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    private static func civil(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v.magnitude)
        return (v < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// ISO 8601 UTC with as many fraction digits as the unit has.
    static func isoTimestamp(_ value: Int64, unit: ParquetTimeUnit) -> String {
        let perSecond: Int64, digits: Int
        switch unit {
        case .millis: (perSecond, digits) = (1_000, 3)
        case .micros: (perSecond, digits) = (1_000_000, 6)
        case .nanos: (perSecond, digits) = (1_000_000_000, 9)
        }
        var seconds = value / perSecond
        var fraction = value % perSecond
        if fraction < 0 {
            fraction += perSecond
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (y, m, d) = civil(days)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(fraction, digits))Z"
    }

    private static func int96Timestamp(_ b: [UInt8]) -> String {
        var nanos: UInt64 = 0
        for i in 0..<8 { nanos |= UInt64(b[i]) << UInt64(8 * i) }
        var julian: UInt32 = 0
        for i in 0..<4 { julian |= UInt32(b[8 + i]) << UInt32(8 * i) }
        let days = Int64(julian) - 2_440_588
        let (total, overflow) = days.multipliedReportingOverflow(by: 86_400_000_000_000)
        guard !overflow else { return "invalid INT96" }
        return isoTimestamp(total &+ Int64(bitPattern: nanos), unit: .nanos)
    }

    private static func decimalString(_ unscaled: Int64, scale: Int) -> String {
        guard scale > 0 else { return String(unscaled) }
        let digits = String(unscaled.magnitude)
        let padded = String(repeating: "0", count: max(0, scale + 1 - digits.count)) + digits
        let cut = padded.index(padded.endIndex, offsetBy: -scale)
        return (unscaled < 0 ? "-" : "") + padded[..<cut] + "." + padded[cut...]
    }

    private static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(table[Int(n >> 18 & 63)])
            out.append(table[Int(n >> 12 & 63)])
            out.append(i + 1 < bytes.count ? table[Int(n >> 6 & 63)] : 0x3D)
            out.append(i + 2 < bytes.count ? table[Int(n & 63)] : 0x3D)
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
