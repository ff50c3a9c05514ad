// Row-range operations on the column buffers of Columns.swift, used by the batches
// to truncate, copy and reserve rows without touching values one by one.

extension PrimitiveColumn {
    /// Keeps the first `rows` rows and drops the rest, keeping capacity.
    public mutating func truncate(toCount rows: Int) {
        precondition(rows >= 0 && rows <= count, "truncate(toCount:) beyond the column")
        values.removeSubrange(rows...)
        if validity != nil {
            validity!.removeSubrange(rows...)
            if !validity!.contains(false) { validity = nil }
        }
    }

    /// Appends rows `rows` of `other`.
    public mutating func append(contentsOf other: PrimitiveColumn<Value>, rows: Range<Int>) {
        let before = count
        values.append(contentsOf: other.values[rows])
        if let theirs = other.validity, theirs[rows].contains(false) {
            if validity == nil { validity = Array(repeating: true, count: before) }
            validity!.append(contentsOf: theirs[rows])
        } else if validity != nil {
            validity!.append(contentsOf: repeatElement(true, count: rows.count))
        }
    }

    /// Reserves room for `rows` rows in total, validity included when it exists.
    public mutating func reserveCapacity(_ rows: Int) {
        values.reserveCapacity(rows)
        validity?.reserveCapacity(rows)
    }

    /// Appends `value`, or a null holding `zero` when it is `nil`.
    @inlinable
    public mutating func append(_ value: Value?, zero: Value) {
        if let value { append(value) } else { appendNull(zero: zero) }
    }
}

extension StringColumn {
    /// Keeps the first `rows` rows and drops the rest, keeping capacity.
    public mutating func truncate(toCount rows: Int) {
        precondition(rows >= 0 && rows <= count, "truncate(toCount:) beyond the column")
        bytes.removeSubrange(Int(offsets[rows])...)
        offsets.removeSubrange((rows + 1)...)
        if validity != nil {
            validity!.removeSubrange(rows...)
            if !validity!.contains(false) { validity = nil }
        }
    }

    /// Appends rows `rows` of `other`, copying their bytes in one block.
    public mutating func append(contentsOf other: StringColumn, rows: Range<Int>) {
        let before = count
        guard !rows.isEmpty else { return }
        let start = Int(other.offsets[rows.lowerBound])
        let stop = Int(other.offsets[rows.upperBound])
        let shift = Int32(truncatingIfNeeded: bytes.count - start)
        precondition(bytes.count + (stop - start) <= Int(Int32.max), "string column larger than 2 GiB")
        bytes.append(contentsOf: other.bytes[start..<stop])
        for i in (rows.lowerBound + 1)...rows.upperBound {
            offsets.append(other.offsets[i] &+ shift)
        }
        if let theirs = other.validity, theirs[rows].contains(false) {
            if validity == nil { validity = Array(repeating: true, count: before) }
            validity!.append(contentsOf: theirs[rows])
        } else if validity != nil {
            validity!.append(contentsOf: repeatElement(true, count: rows.count))
        }
    }

    /// Reserves room for `rows` rows holding `bytes` bytes in total, validity included
    /// when it exists.
    public mutating func reserveCapacity(rows: Int, bytes byteCount: Int) {
        offsets.reserveCapacity(rows + 1)
        validity?.reserveCapacity(rows)
        bytes.reserveCapacity(byteCount)
    }

    /// Reserves room for `rows` rows in total, with bytes for them at the average length
    /// of the rows held so far (plus an eighth).
    mutating func reserveLikeHeld(rows: Int) {
        reserveCapacity(rows: rows, bytes: bytes.count / max(1, count) * rows / 8 * 9)
    }

    /// Whether row `i` is present (not null).
    @inlinable
    public func isPresent(row i: Int) -> Bool {
        guard let validity else { return true }
        return validity[i]
    }

    /// Calls `body` with the UTF-8 bytes of row `i` (empty for a null row).
    @inlinable
    public func withBytes<R>(ofRow i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let range = range(ofRow: i)
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// Appends the bytes already placed at the end of `bytes` (from the end of the
    /// previous row) as a present row. The JSON reader decodes a string straight into
    /// `bytes` and then seals it with this.
    @inlinable
    mutating func sealAppendedBytes() {
        offsets.append(Int32(truncatingIfNeeded: bytes.count))
        validity?.append(true)
    }

    /// Drops bytes appended after the last row (an unsealed, abandoned value).
    @inlinable
    mutating func discardUnsealedBytes() {
        let sealed = Int(offsets[offsets.count - 1])
        if bytes.count != sealed { bytes.removeSubrange(sealed...) }
    }
}

extension Array where Element == Bool {
    /// Appends a presence flag to an optional validity vector of `rowsBefore` rows,
    /// creating the vector on the first absent row.
    @inlinable
    static func appendPresence(_ present: Bool, to validity: inout [Bool]?, rowsBefore: Int) {
        if validity != nil {
            validity!.append(present)
        } else if !present {
            var v = [Bool](repeating: true, count: rowsBefore)
            v.append(false)
            validity = v
        }
    }
}
