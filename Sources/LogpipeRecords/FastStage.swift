// Where the fast path puts the records it accepts before they reach the batch: raw buffers
// the parser owns and reuses, written through pointers with no per-field Array append, no
// uniqueness check and no per-row seal. Every `rowCapacity` rows, before any record the
// general walk reads, and at the end of every reader call, the staged rows go to the batch
// in bulk: one append per column (`RecordSchema.appendStaged`). So a batch never shows
// staged rows to anyone but the reader itself.

/// Rows accepted by the fast path, not yet in the batch.
final class FastStage: @unchecked Sendable {
    // @unchecked: a stage belongs to one parser; a parser copied to another thread gets its
    // own stage on first use (`RecordParser.uniqueStage`), so it is never shared.

    /// Rows held before a flush: a few hundred KiB of strings, so they are still in cache
    /// when they are copied into the batch.
    static let rowCapacity = 1024
    /// String columns a schema may have.
    static let slots = 16

    /// Numbers and presence of each staged row.
    let rows: UnsafeMutablePointer<PendingRow>
    /// Per slot, the end (in that slot's bytes) of each staged row: `ends[slot * rowCapacity + row]`.
    let ends: UnsafeMutablePointer<Int32>
    /// Per slot, its staged bytes, how many there are, and room.
    let bytes: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>>
    let byteCounts: UnsafeMutablePointer<Int>
    let byteCapacities: UnsafeMutablePointer<Int>
    /// Staged rows.
    var count = 0

    init() {
        rows = .allocate(capacity: Self.rowCapacity)
        ends = .allocate(capacity: Self.rowCapacity * Self.slots)
        bytes = .allocate(capacity: Self.slots)
        byteCounts = .allocate(capacity: Self.slots)
        byteCapacities = .allocate(capacity: Self.slots)
        for s in 0..<Self.slots {
            bytes[s] = .allocate(capacity: 4096)
            byteCounts[s] = 0
            byteCapacities[s] = 4096
        }
    }

    deinit {
        for s in 0..<Self.slots { bytes[s].deallocate() }
        rows.deallocate()
        ends.deallocate()
        bytes.deallocate()
        byteCounts.deallocate()
        byteCapacities.deallocate()
    }

    /// Appends `source` to slot `slot`'s unsealed bytes.
    @inline(__always)
    func append(_ slot: UInt8, _ source: UnsafeRawPointer, _ n: Int) {
        let s = Int(slot)
        let used = byteCounts[s]
        if used &+ n > byteCapacities[s] { grow(s, to: used &+ n) }
        (bytes[s] + used).initialize(from: source.assumingMemoryBound(to: UInt8.self), count: n)
        byteCounts[s] = used &+ n
    }

    func grow(_ s: Int, to needed: Int) {
        let capacity = max(needed, byteCapacities[s] &* 2)
        let new = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        new.initialize(from: bytes[s], count: byteCounts[s])
        bytes[s].deallocate()
        bytes[s] = new
        byteCapacities[s] = capacity
    }

    /// Where slot `s`'s sealed bytes end: the end of the last staged row.
    @inline(__always)
    func sealedEnd(_ s: Int) -> Int { count == 0 ? 0 : Int(ends[s &* Self.rowCapacity &+ count &- 1]) }

    /// Drops bytes appended since the last staged row (a record the fast path gave up on).
    func discardUnsealed(slots: Int) {
        for s in 0..<slots { byteCounts[s] = sealedEnd(s) }
    }

    /// Seals the record's bytes and `row` as a staged row; true when the stage is full.
    @inline(__always)
    func commit(_ row: PendingRow, slots: Int) -> Bool {
        rows[count] = row
        var s = 0
        while s < slots {
            ends[s &* Self.rowCapacity &+ count] = Int32(truncatingIfNeeded: byteCounts[s])
            s &+= 1
        }
        count &+= 1
        return count == Self.rowCapacity
    }

    /// Empties the stage after its rows went to a batch.
    func removeAll(slots: Int) {
        count = 0
        for s in 0..<slots { byteCounts[s] = 0 }
    }

    /// The staged rows.
    var stagedRows: UnsafeBufferPointer<PendingRow> { UnsafeBufferPointer(start: rows, count: count) }

    /// Slot `s`'s staged bytes and row ends.
    func slot(_ s: Int) -> (bytes: UnsafeBufferPointer<UInt8>, ends: UnsafeBufferPointer<Int32>) {
        (UnsafeBufferPointer(start: bytes[s], count: byteCounts[s]),
         UnsafeBufferPointer(start: ends + s &* Self.rowCapacity, count: count))
    }
}

extension StringColumn {
    /// Appends staged rows: `staged` bytes with each row's end in `ends`; row `i` is present
    /// when `present(i)`. Validity as row-by-row appends would leave it (nil until the first null).
    mutating func appendStaged(_ staged: (bytes: UnsafeBufferPointer<UInt8>, ends: UnsafeBufferPointer<Int32>),
                               present: (Int) -> Bool, allPresent: Bool) {
        let shift = Int32(truncatingIfNeeded: bytes.count)
        bytes.append(contentsOf: staged.bytes)
        offsets.append(contentsOf: staged.ends.lazy.map { $0 &+ shift })
        appendStagedPresence(&validity, rowsBefore: offsets.count &- 1 &- staged.ends.count, count: staged.ends.count,
                             present: present, allPresent: allPresent)
    }
}

extension StringColumn {
    /// Appends `n` nulls, as `appendNull()` `n` times would.
    mutating func appendNulls(_ n: Int) {
        guard n > 0 else { return }
        if validity == nil { validity = Array(repeating: true, count: count) }
        offsets.append(contentsOf: repeatElement(Int32(truncatingIfNeeded: bytes.count), count: n))
        validity!.append(contentsOf: repeatElement(false, count: n))
    }
}

extension PrimitiveColumn {
    /// Appends staged rows' values (`value(i)`, a zero where absent); validity as for strings.
    mutating func appendStaged(count n: Int, value: (Int) -> Value, present: (Int) -> Bool, allPresent: Bool) {
        let before = values.count
        values.append(contentsOf: (0..<n).lazy.map(value))
        appendStagedPresence(&validity, rowsBefore: before, count: n, present: present, allPresent: allPresent)
    }
}

/// Appends `count` rows' presence to an optional validity vector of `rowsBefore` rows,
/// exactly as `[Bool].appendPresence` row by row would.
@inline(__always)
func appendStagedPresence(_ validity: inout [Bool]?, rowsBefore: Int, count n: Int, present: (Int) -> Bool,
                          allPresent: Bool) {
    if allPresent {
        if validity != nil { validity!.append(contentsOf: repeatElement(true, count: n)) }
        return
    }
    if validity == nil { validity = [Bool](repeating: true, count: rowsBefore) }
    validity!.append(contentsOf: (0..<n).lazy.map(present))
}
