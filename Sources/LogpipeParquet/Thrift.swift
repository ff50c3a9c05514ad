// The Thrift compact protocol, as much of it as Parquet metadata needs.
// Spec: https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md

/// Compact-protocol type ids, as they appear in field headers and list headers.
enum ThriftType: UInt8 {
    case stop = 0
    case boolTrue = 1
    case boolFalse = 2
    case byte = 3
    case i16 = 4
    case i32 = 5
    case i64 = 6
    case double = 7
    case binary = 8
    case list = 9
    case set = 10
    case map = 11
    case `struct` = 12
}

/// Serialises structs field by field; the caller writes fields in increasing id order.
struct ThriftWriter {
    var bytes: [UInt8] = []
    private var lastFieldID: Int16 = 0
    private var fieldIDStack: [Int16] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func writeZigZag(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    private mutating func fieldHeader(_ id: Int16, _ type: ThriftType) {
        let delta = Int(id) - Int(lastFieldID)
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta << 4) | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            writeZigZag(Int64(id))
        }
        lastFieldID = id
    }

    mutating func structBegin() {
        fieldIDStack.append(lastFieldID)
        lastFieldID = 0
    }

    mutating func structEnd() {
        bytes.append(ThriftType.stop.rawValue)
        lastFieldID = fieldIDStack.popLast() ?? 0
    }

    mutating func field(_ id: Int16, i32 value: Int32) {
        fieldHeader(id, .i32)
        writeZigZag(Int64(value))
    }

    mutating func field(_ id: Int16, i64 value: Int64) {
        fieldHeader(id, .i64)
        writeZigZag(value)
    }

    mutating func field(_ id: Int16, i8 value: Int8) {
        fieldHeader(id, .byte)
        bytes.append(UInt8(bitPattern: value))
    }

    mutating func field(_ id: Int16, i16 value: Int16) {
        fieldHeader(id, .i16)
        writeZigZag(Int64(value))
    }

    mutating func field(_ id: Int16, bool value: Bool) {
        fieldHeader(id, value ? .boolTrue : .boolFalse)
    }

    mutating func field(_ id: Int16, binary value: [UInt8]) {
        fieldHeader(id, .binary)
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func field(_ id: Int16, string value: String) {
        field(id, binary: Array(value.utf8))
    }

    /// Opens a struct-valued field; close it with `structEnd()`.
    mutating func fieldStructBegin(_ id: Int16) {
        fieldHeader(id, .struct)
        structBegin()
    }

    /// Writes a list header for a list-valued field; the elements follow.
    mutating func fieldListBegin(_ id: Int16, elementType: ThriftType, count: Int) {
        fieldHeader(id, .list)
        listHeader(elementType: elementType, count: count)
    }

    mutating func listHeader(elementType: ThriftType, count: Int) {
        if count < 15 {
            bytes.append(UInt8(count << 4) | elementType.rawValue)
        } else {
            bytes.append(0xF0 | elementType.rawValue)
            writeVarint(UInt64(count))
        }
    }

    mutating func listElement(i32 value: Int32) { writeZigZag(Int64(value)) }

    mutating func listElement(string value: String) {
        let utf8 = Array(value.utf8)
        writeVarint(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Writes an empty struct as a field (used for union members such as `StringType`).
    mutating func fieldEmptyStruct(_ id: Int16) {
        fieldStructBegin(id)
        structEnd()
    }
}

/// Reads compact-protocol structs from untrusted bytes: every length is checked against
/// the bytes left, nesting is bounded, and unknown fields are skipped.
struct ThriftReader {
    let base: UnsafeRawBufferPointer
    private(set) var position: Int
    let end: Int
    private var lastFieldID: Int16 = 0
    private var fieldIDStack: [Int16] = []
    private static let maxDepth = 64

    init(_ buffer: UnsafeRawBufferPointer, start: Int = 0, end: Int? = nil) {
        base = buffer
        position = start
        self.end = end ?? buffer.count
    }

    var remaining: Int { end - position }

    private func fail(_ what: String) -> ParquetError {
        .corruptMetadata("\(what) at byte \(position) of thrift data")
    }

    mutating func readByte() throws(ParquetError) -> UInt8 {
        guard position < end else { throw fail("unexpected end of data") }
        let b = base[position]
        position += 1
        return b
    }

    mutating func readVarint() throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try readByte()
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    mutating func readZigZag() throws(ParquetError) -> Int64 {
        let v = try readVarint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func readI32() throws(ParquetError) -> Int32 {
        let v = try readZigZag()
        guard let r = Int32(exactly: v) else { throw fail("i32 value \(v) out of range") }
        return r
    }

    mutating func readI16() throws(ParquetError) -> Int16 {
        let v = try readZigZag()
        guard let r = Int16(exactly: v) else { throw fail("i16 value \(v) out of range") }
        return r
    }

    mutating func readI64() throws(ParquetError) -> Int64 { try readZigZag() }

    mutating func readDouble() throws(ParquetError) -> Double {
        guard remaining >= 8 else { throw fail("truncated double") }
        var bits: UInt64 = 0
        for i in 0..<8 { bits |= UInt64(base[position + i]) << (8 * UInt64(i)) }
        position += 8
        return Double(bitPattern: bits)
    }

    mutating func readBinary() throws(ParquetError) -> [UInt8] {
        let len = try readVarint()
        guard len <= UInt64(remaining) else { throw fail("binary length \(len) exceeds the \(remaining) bytes left") }
        let n = Int(len)
        let out = Array(UnsafeRawBufferPointer(rebasing: base[position..<position + n]))
        position += n
        return out
    }

    mutating func readString() throws(ParquetError) -> String {
        String(decoding: try readBinary(), as: UTF8.self)
    }

    mutating func structBegin() throws(ParquetError) {
        guard fieldIDStack.count < Self.maxDepth else { throw fail("structs nested deeper than \(Self.maxDepth)") }
        fieldIDStack.append(lastFieldID)
        lastFieldID = 0
    }

    mutating func structEnd() {
        lastFieldID = fieldIDStack.popLast() ?? 0
    }

    /// The next field's id and type, or `nil` at the struct's stop byte.
    /// Booleans carry their value in the type: `.boolTrue` / `.boolFalse`.
    mutating func readFieldHeader() throws(ParquetError) -> (id: Int16, type: ThriftType)? {
        let b = try readByte()
        if b == 0 { return nil }
        guard let type = ThriftType(rawValue: b & 0x0F), type != .stop else {
            throw fail("unknown field type \(b & 0x0F)")
        }
        let delta = Int16(b >> 4)
        let id: Int16
        if delta != 0 {
            let (sum, overflow) = lastFieldID.addingReportingOverflow(delta)
            guard !overflow else { throw fail("field id overflow") }
            id = sum
        } else {
            id = try readI16()
        }
        lastFieldID = id
        return (id, type)
    }

    /// A list header: element type and count; the count is bounded by the bytes left,
    /// since every element takes at least one byte.
    mutating func readListHeader() throws(ParquetError) -> (type: ThriftType, count: Int) {
        let b = try readByte()
        guard let type = ThriftType(rawValue: b & 0x0F) else { throw fail("unknown list element type \(b & 0x0F)") }
        var count = UInt64(b >> 4)
        if count == 15 { count = try readVarint() }
        guard count <= UInt64(remaining) else { throw fail("list of \(count) elements exceeds the \(remaining) bytes left") }
        return (type, Int(count))
    }

    mutating func readBool(_ type: ThriftType) throws(ParquetError) -> Bool {
        switch type {
        case .boolTrue: return true
        case .boolFalse: return false
        default: throw fail("expected a bool field, found type \(type)")
        }
    }

    /// Skips a value of `type`, recursing into containers up to the nesting limit.
    mutating func skip(_ type: ThriftType, depth: Int = 0) throws(ParquetError) {
        guard depth < Self.maxDepth else { throw fail("values nested deeper than \(Self.maxDepth)") }
        switch type {
        case .stop: throw fail("unexpected stop type")
        case .boolTrue, .boolFalse: return
        case .byte: _ = try readByte()
        case .i16, .i32, .i64: _ = try readVarint()
        case .double:
            guard remaining >= 8 else { throw fail("truncated double") }
            position += 8
        case .binary:
            let len = try readVarint()
            guard len <= UInt64(remaining) else { throw fail("binary length \(len) exceeds the \(remaining) bytes left") }
            position += Int(len)
        case .list, .set:
            let (elem, count) = try readListHeader()
            for _ in 0..<count {
                if elem == .boolTrue || elem == .boolFalse { _ = try readByte() } else { try skip(elem, depth: depth + 1) }
            }
        case .map:
            let count = try readVarint()
            guard count <= UInt64(remaining) else { throw fail("map of \(count) entries exceeds the bytes left") }
            if count == 0 { return }
            let kv = try readByte()
            guard let k = ThriftType(rawValue: kv >> 4), let v = ThriftType(rawValue: kv & 0x0F) else {
                throw fail("unknown map types")
            }
            for _ in 0..<count {
                if k == .boolTrue || k == .boolFalse { _ = try readByte() } else { try skip(k, depth: depth + 1) }
                if v == .boolTrue || v == .boolFalse { _ = try readByte() } else { try skip(v, depth: depth + 1) }
            }
        case .struct:
            try structBegin()
            while let (_, t) = try readFieldHeader() { try skip(t, depth: depth + 1) }
            structEnd()
        }
    }
}
