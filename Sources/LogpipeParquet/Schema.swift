/// Whether a field must be present, may be null, or repeats (repeated fields are read as unsupported).
public enum ParquetRepetition: Sendable, Hashable {
    /// Present in every row.
    case required
    /// Present or null.
    case optional
    /// Zero or more times per row (lists); Logpipe neither writes nor reads these.
    case repeated
}

/// How a leaf's values are stored on disk.
public enum ParquetPhysicalType: Sendable, Hashable {
    /// One bit per value.
    case boolean
    /// 32-bit signed integers (also INT(8/16/32) and DATE).
    case int32
    /// 64-bit signed integers (also INT(64) and TIMESTAMP).
    case int64
    /// Legacy 12-byte timestamps; read as fixed-width byte strings.
    case int96
    /// IEEE 754 single precision.
    case float
    /// IEEE 754 double precision.
    case double
    /// Variable-length byte strings (STRING, JSON, binary).
    case byteArray
    /// Byte strings of the given fixed length.
    case fixedLenByteArray(Int)
}

/// The unit of a TIME or TIMESTAMP.
public enum ParquetTimeUnit: Sendable, Hashable {
    /// Milliseconds.
    case millis
    /// Microseconds.
    case micros
    /// Nanoseconds.
    case nanos
}

/// A logical type annotation (parquet-format LogicalTypes.md).
public enum ParquetLogicalType: Sendable, Hashable {
    /// UTF-8 text on a BYTE_ARRAY.
    case string
    /// A map group.
    case map
    /// A list group.
    case list
    /// An enum name on a BYTE_ARRAY.
    case enumeration
    /// A fixed-point decimal.
    case decimal(precision: Int32, scale: Int32)
    /// Days since the Unix epoch on an INT32.
    case date
    /// Time of day.
    case time(isAdjustedToUTC: Bool, unit: ParquetTimeUnit)
    /// An instant (UTC-adjusted) or a local date-time, as a count of `unit` since the epoch.
    case timestamp(isAdjustedToUTC: Bool, unit: ParquetTimeUnit)
    /// An integer of `bitWidth` bits stored in INT32 or INT64.
    case integer(bitWidth: Int8, isSigned: Bool)
    /// Every value is null.
    case unknown
    /// JSON text on a BYTE_ARRAY.
    case json
    /// BSON on a BYTE_ARRAY.
    case bson
    /// A UUID on FIXED_LEN_BYTE_ARRAY(16).
    case uuid
    /// A half-precision float on FIXED_LEN_BYTE_ARRAY(2).
    case float16
    /// A logical type this implementation does not model, by its union field id.
    case other(Int)
}

/// A field of a schema: a leaf column or a group of fields.
public struct ParquetField: Sendable, Hashable {
    /// What the field holds.
    public indirect enum Kind: Sendable, Hashable {
        /// A leaf column.
        case primitive(ParquetPhysicalType, ParquetLogicalType?)
        /// A group (struct) of child fields.
        case group([ParquetField])
    }

    /// The field's name within its parent.
    public var name: String
    /// Whether the field may be null.
    public var repetition: ParquetRepetition
    /// Leaf or group.
    public var kind: Kind

    /// A field from its parts.
    public init(name: String, repetition: ParquetRepetition, kind: Kind) {
        self.name = name
        self.repetition = repetition
        self.kind = kind
    }

    private static func rep(_ nullable: Bool) -> ParquetRepetition { nullable ? .optional : .required }

    /// A UTF-8 string column (BYTE_ARRAY, STRING).
    public static func string(_ name: String, nullable: Bool = true) -> ParquetField {
        ParquetField(name: name, repetition: rep(nullable), kind: .primitive(.byteArray, .string))
    }

    /// A raw byte-string column (BYTE_ARRAY without annotation).
    public static func binary(_ name: String, nullable: Bool = true) -> ParquetField {
        ParquetField(name: name, repetition: rep(nullable), kind: .primitive(.byteArray, nil))
    }

    /// A UTC timestamp in microseconds since the epoch (INT64, TIMESTAMP(true, MICROS)).
    public static func timestampMicros(_ name: String, nullable: Bool = true) -> ParquetField {
        ParquetField(name: name, repetition: rep(nullable), kind: .primitive(.int64, .timestamp(isAdjustedToUTC: true, unit: .micros)))
    }

    /// A signed integer of 8, 16 or 32 bits stored as INT32 with an INT(bits, true) annotation.
    public static func int32(_ name: String, bits: Int8 = 32, nullable: Bool = true) -> ParquetField {
        ParquetField(name: name, repetition: rep(nullable), kind: .primitive(.int32, .integer(bitWidth: bits, isSigned: true)))
    }

    /// A signed 64-bit integer (INT64, INT(64, true)).
    public static func int64(_ name: String, nullable: Bool = true) -> ParquetField {
        ParquetField(name: name, repetition: rep(nullable), kind: .primitive(.int64, .integer(bitWidth: 64, isSigned: true)))
    }

    /// A double-precision float.
    public static func double(_ name: String, nullable: Bool = true) -> ParquetField {
        ParquetField(name: name, repetition: rep(nullable), kind: .primitive(.double, nil))
    }

    /// A single-precision float.
    public static func float(_ name: String, nullable: Bool = true) -> ParquetField {
        ParquetField(name: name, repetition: rep(nullable), kind: .primitive(.float, nil))
    }

    /// A boolean.
    public static func boolean(_ name: String, nullable: Bool = true) -> ParquetField {
        ParquetField(name: name, repetition: rep(nullable), kind: .primitive(.boolean, nil))
    }

    /// A group (struct) of fields, such as the log record's `metadata`.
    public static func group(_ name: String, nullable: Bool = true, _ fields: [ParquetField]) -> ParquetField {
        ParquetField(name: name, repetition: rep(nullable), kind: .group(fields))
    }
}

/// A file's schema: the top-level fields under the root group.
public struct ParquetSchema: Sendable, Hashable {
    /// The top-level fields, in column order.
    public var fields: [ParquetField]
    /// The root group's name (pyarrow writes `schema`, DuckDB `duckdb_schema`).
    public var rootName: String

    /// A schema of the given fields.
    public init(_ fields: [ParquetField], rootName: String = "schema") {
        self.fields = fields
        self.rootName = rootName
    }

    /// The leaf columns in file order, with their levels.
    var leaves: [LeafDescriptor] {
        var out: [LeafDescriptor] = []
        func walk(_ f: ParquetField, path: [String], fieldPath: [Int], def: Int, rep: Int, optionalDepths: [Int]) {
            let d = def + (f.repetition == .required ? 0 : 1)
            let r = rep + (f.repetition == .repeated ? 1 : 0)
            var optional = optionalDepths
            if f.repetition != .required { optional.append(fieldPath.count - 1) }
            switch f.kind {
            case .primitive(let physical, let logical):
                out.append(LeafDescriptor(
                    path: path + [f.name], fieldPath: fieldPath, physical: physical, logical: logical,
                    maxDefinitionLevel: d, maxRepetitionLevel: r, optionalDepths: optional))
            case .group(let children):
                for (i, c) in children.enumerated() {
                    walk(c, path: path + [f.name], fieldPath: fieldPath + [i], def: d, rep: r, optionalDepths: optional)
                }
            }
        }
        for (i, f) in fields.enumerated() { walk(f, path: [], fieldPath: [i], def: 0, rep: 0, optionalDepths: []) }
        return out
    }

    /// The field at a dotted path such as `metadata.status_code`, or `nil`.
    public func field(atPath path: String) -> ParquetField? {
        var fields = self.fields
        var result: ParquetField?
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard let f = fields.first(where: { $0.name == part }) else { return nil }
            result = f
            if case .group(let children) = f.kind { fields = children } else { fields = [] }
        }
        return result
    }

    /// The schema restricted to the given dotted paths (a group path keeps all its children).
    /// Unknown paths are an error.
    public func projected(to paths: [String]) throws(ParquetError) -> ParquetSchema {
        let wanted = paths.map { $0.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
        for (i, p) in wanted.enumerated() where field(atPath: paths[i]) == nil || p.isEmpty {
            throw .invalidArgument("no column \"\(paths[i])\" in the schema")
        }
        func keep(_ fields: [ParquetField], prefix: [String]) -> [ParquetField] {
            fields.compactMap { f in
                let path = prefix + [f.name]
                if wanted.contains(where: { $0.count <= path.count && Array(path.prefix($0.count)) == $0 }) { return f }
                guard wanted.contains(where: { $0.count > path.count && Array($0.prefix(path.count)) == path }) else { return nil }
                guard case .group(let children) = f.kind else { return nil }
                var g = f
                g.kind = .group(keep(children, prefix: path))
                return g
            }
        }
        return ParquetSchema(keep(fields, prefix: []), rootName: rootName)
    }
}

/// One leaf column as the encoder and decoder see it.
struct LeafDescriptor: Sendable {
    /// Names from the top-level field down to the leaf.
    var path: [String]
    /// Child indices from the top-level field down to the leaf.
    var fieldPath: [Int]
    var physical: ParquetPhysicalType
    var logical: ParquetLogicalType?
    var maxDefinitionLevel: Int
    var maxRepetitionLevel: Int
    /// Indices into `fieldPath` of the non-required fields, top-down; each adds one definition level.
    var optionalDepths: [Int]

    var dottedPath: String { path.joined(separator: ".") }
}

// MARK: - Conversion to and from the flat Thrift schema

extension ParquetSchema {
    func schemaElements() -> [SchemaElementT] {
        var out = [SchemaElementT(name: rootName, numChildren: Int32(fields.count))]
        func walk(_ f: ParquetField) {
            var e = SchemaElementT()
            e.name = f.name
            e.repetition = switch f.repetition {
            case .required: 0
            case .optional: 1
            case .repeated: 2
            }
            switch f.kind {
            case .group(let children):
                e.numChildren = Int32(children.count)
                out.append(e)
                children.forEach(walk)
            case .primitive(let physical, let logical):
                switch physical {
                case .boolean: e.type = PhysicalTypeID.boolean
                case .int32: e.type = PhysicalTypeID.int32
                case .int64: e.type = PhysicalTypeID.int64
                case .int96: e.type = PhysicalTypeID.int96
                case .float: e.type = PhysicalTypeID.float
                case .double: e.type = PhysicalTypeID.double
                case .byteArray: e.type = PhysicalTypeID.byteArray
                case .fixedLenByteArray(let n):
                    e.type = PhysicalTypeID.fixedLenByteArray
                    e.typeLength = Int32(n)
                }
                if let logical {
                    if case .other = logical {} else { e.logicalType = logical }
                    e.convertedType = logical.convertedType
                    if case .decimal(let p, let s) = logical {
                        e.precision = p
                        e.scale = s
                    }
                }
                out.append(e)
            }
        }
        fields.forEach(walk)
        return out
    }

    /// Rebuilds the tree from the depth-first element list of a footer.
    static func from(elements: [SchemaElementT]) throws(ParquetError) -> ParquetSchema {
        guard let root = elements.first else { throw .corruptMetadata("empty schema") }
        var index = 1
        func children(count: Int32, depth: Int) throws(ParquetError) -> [ParquetField] {
            guard count >= 0, Int(count) <= elements.count - index else {
                throw .corruptMetadata("schema element claims \(count) children but \(elements.count - index) elements follow")
            }
            guard depth < 64 else { throw .corruptMetadata("schema nested deeper than 64 levels") }
            var out: [ParquetField] = []
            for _ in 0..<count {
                guard index < elements.count else { throw .corruptMetadata("schema ends early") }
                let e = elements[index]
                index += 1
                let repetition: ParquetRepetition = switch e.repetition ?? 0 {
                case 0: .required
                case 1: .optional
                case 2: .repeated
                default: throw .corruptMetadata("field \(e.name) has repetition type \(e.repetition ?? -1)")
                }
                if let n = e.numChildren, e.type == nil || n > 0 {
                    out.append(ParquetField(name: e.name, repetition: repetition, kind: .group(try children(count: n, depth: depth + 1))))
                    continue
                }
                let physical: ParquetPhysicalType
                switch e.type {
                case PhysicalTypeID.boolean: physical = .boolean
                case PhysicalTypeID.int32: physical = .int32
                case PhysicalTypeID.int64: physical = .int64
                case PhysicalTypeID.int96: physical = .int96
                case PhysicalTypeID.float: physical = .float
                case PhysicalTypeID.double: physical = .double
                case PhysicalTypeID.byteArray: physical = .byteArray
                case PhysicalTypeID.fixedLenByteArray:
                    guard let n = e.typeLength, n >= 0 else { throw .corruptMetadata("FIXED_LEN_BYTE_ARRAY \(e.name) without a valid length") }
                    physical = .fixedLenByteArray(Int(n))
                default:
                    throw .corruptMetadata("field \(e.name) has no valid physical type (\(e.type.map(String.init) ?? "none"))")
                }
                let logical = e.logicalType ?? ParquetLogicalType(convertedType: e.convertedType, element: e)
                out.append(ParquetField(name: e.name, repetition: repetition, kind: .primitive(physical, logical)))
            }
            return out
        }
        let fields = try children(count: root.numChildren ?? 0, depth: 0)
        guard index == elements.count else {
            throw .corruptMetadata("schema has \(elements.count - index) elements outside the root group")
        }
        return ParquetSchema(fields, rootName: root.name)
    }
}

extension ParquetLogicalType {
    /// The legacy ConvertedType written next to the logical type so old readers understand it.
    var convertedType: Int32? {
        switch self {
        case .string: ConvertedTypeID.utf8
        case .map: ConvertedTypeID.map
        case .list: ConvertedTypeID.list
        case .enumeration: ConvertedTypeID.enumType
        case .decimal: ConvertedTypeID.decimal
        case .date: ConvertedTypeID.date
        case .time(_, .millis): ConvertedTypeID.timeMillis
        case .time(_, .micros): ConvertedTypeID.timeMicros
        case .timestamp(true, .millis): ConvertedTypeID.timestampMillis
        case .timestamp(true, .micros): ConvertedTypeID.timestampMicros
        case .integer(let bits, let signed):
            switch (bits, signed) {
            case (8, true): ConvertedTypeID.int8
            case (16, true): ConvertedTypeID.int16
            case (32, true): ConvertedTypeID.int32
            case (64, true): ConvertedTypeID.int64
            case (8, false): ConvertedTypeID.uint8
            case (16, false): ConvertedTypeID.uint16
            case (32, false): ConvertedTypeID.uint32
            case (64, false): ConvertedTypeID.uint64
            default: nil
            }
        case .json: ConvertedTypeID.json
        case .bson: ConvertedTypeID.bson
        default: nil
        }
    }

    /// The logical type a legacy ConvertedType implies, for files written without LogicalType.
    init?(convertedType: Int32?, element e: SchemaElementT) {
        guard let c = convertedType else { return nil }
        switch c {
        case ConvertedTypeID.utf8: self = .string
        case ConvertedTypeID.enumType: self = .enumeration
        case ConvertedTypeID.decimal: self = .decimal(precision: e.precision ?? 0, scale: e.scale ?? 0)
        case ConvertedTypeID.date: self = .date
        case ConvertedTypeID.timeMillis: self = .time(isAdjustedToUTC: true, unit: .millis)
        case ConvertedTypeID.timeMicros: self = .time(isAdjustedToUTC: true, unit: .micros)
        case ConvertedTypeID.timestampMillis: self = .timestamp(isAdjustedToUTC: true, unit: .millis)
        case ConvertedTypeID.timestampMicros: self = .timestamp(isAdjustedToUTC: true, unit: .micros)
        case ConvertedTypeID.uint8: self = .integer(bitWidth: 8, isSigned: false)
        case ConvertedTypeID.uint16: self = .integer(bitWidth: 16, isSigned: false)
        case ConvertedTypeID.uint32: self = .integer(bitWidth: 32, isSigned: false)
        case ConvertedTypeID.uint64: self = .integer(bitWidth: 64, isSigned: false)
        case ConvertedTypeID.int8: self = .integer(bitWidth: 8, isSigned: true)
        case ConvertedTypeID.int16: self = .integer(bitWidth: 16, isSigned: true)
        case ConvertedTypeID.int32: self = .integer(bitWidth: 32, isSigned: true)
        case ConvertedTypeID.int64: self = .integer(bitWidth: 64, isSigned: true)
        case ConvertedTypeID.json: self = .json
        case ConvertedTypeID.bson: self = .bson
        default: return nil
        }
    }
}
