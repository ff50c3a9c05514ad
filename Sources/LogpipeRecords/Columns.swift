/// Column buffers shared by every columnar batch: one contiguous buffer per field,
/// so the JSON reader fills them without per-record allocation and the Parquet
/// writer encodes pages straight from them.
///
/// Layout rules (the Parquet writer and the stream engine rely on them):
/// - Columns are dense: one slot per row. A null slot holds a zero value (or an
///   empty string) and is marked absent in `validity`.
/// - `validity` is `nil` when every row is present, otherwise one `Bool` per row.

/// A column of fixed-width values.
public struct PrimitiveColumn<Value: BitwiseCopyable & Sendable>: Sendable {
    /// One value per row; null rows hold a zero value.
    public var values: [Value]
    /// `nil` when every row is present, otherwise one flag per row (`true` = present).
    public var validity: [Bool]?

    /// An empty column.
    public init() {
        values = []
        validity = nil
    }

    /// A column over existing buffers.
    public init(values: [Value], validity: [Bool]? = nil) {
        precondition(validity == nil || validity!.count == values.count)
        self.values = values
        self.validity = validity
    }

    /// The number of rows.
    public var count: Int { values.count }

    /// The value of row `i`, or `nil` when it is null.
    public subscript(row i: Int) -> Value? {
        if let validity, !validity[i] { return nil }
        return values[i]
    }

    /// Appends a present value.
    @inlinable
    public mutating func append(_ value: Value) {
        values.append(value)
        validity?.append(true)
    }

    /// Appends a null, switching to an explicit validity vector on the first one.
    public mutating func appendNull(zero: Value) {
        if validity == nil { validity = Array(repeating: true, count: values.count) }
        values.append(zero)
        validity!.append(false)
    }

    /// Removes every row, keeping capacity.
    public mutating func removeAll() {
        values.removeAll(keepingCapacity: true)
        validity = nil
    }

    /// The number of null rows.
    public var nullCount: Int { validity.map { $0.count(where: { !$0 }) } ?? 0 }
}

/// A column of UTF-8 strings: all bytes back to back, with `count + 1` offsets.
public struct StringColumn: Sendable {
    /// Every row's UTF-8 bytes, back to back.
    public var bytes: [UInt8]
    /// Row `i` is `bytes[offsets[i] ..< offsets[i + 1]]`; `offsets[0] == 0`.
    public var offsets: [Int32]
    /// `nil` when every row is present, otherwise one flag per row (`true` = present).
    public var validity: [Bool]?

    /// An empty column.
    public init() {
        bytes = []
        offsets = [0]
        validity = nil
    }

    /// A column over existing buffers.
    public init(bytes: [UInt8], offsets: [Int32], validity: [Bool]? = nil) {
        precondition(!offsets.isEmpty && offsets[0] == 0)
        precondition(validity == nil || validity!.count == offsets.count - 1)
        self.bytes = bytes
        self.offsets = offsets
        self.validity = validity
    }

    /// The number of rows.
    public var count: Int { offsets.count - 1 }

    /// The string of row `i`, or `nil` when it is null.
    public subscript(row i: Int) -> String? {
        if let validity, !validity[i] { return nil }
        return String(decoding: bytes[Int(offsets[i])..<Int(offsets[i + 1])], as: UTF8.self)
    }

    /// The byte range of row `i` in `bytes`.
    @inlinable
    public func range(ofRow i: Int) -> Range<Int> { Int(offsets[i])..<Int(offsets[i + 1]) }

    /// Appends a present value from UTF-8 bytes.
    @inlinable
    public mutating func append<C: Collection>(utf8: C) where C.Element == UInt8 {
        bytes.append(contentsOf: utf8)
        offsets.append(Int32(truncatingIfNeeded: bytes.count))
        validity?.append(true)
    }

    /// Appends a present value.
    public mutating func append(_ string: String) {
        var s = string
        s.withUTF8 { append(utf8: $0) }
    }

    /// Appends a null, switching to an explicit validity vector on the first one.
    public mutating func appendNull() {
        if validity == nil { validity = Array(repeating: true, count: count) }
        offsets.append(Int32(truncatingIfNeeded: bytes.count))
        validity!.append(false)
    }

    /// Removes every row, keeping capacity.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        offsets.append(0)
        validity = nil
    }

    /// The number of null rows.
    public var nullCount: Int { validity.map { $0.count(where: { !$0 }) } ?? 0 }
}
