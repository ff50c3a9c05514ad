// Hash tables behind dictionary encoding. Both are open-addressing tables with linear probing
// over manually managed buffers: each slot carries enough of the key (the hash's high bits,
// or the whole fixed-width key) that a probe usually touches one cache line, and the hot loops
// run over raw pointers without per-value bounds, uniqueness or exclusivity checks.

@inline(__always)
func mixHash(_ x: UInt64) -> UInt64 {
    var h = x &* 0x9E37_79B9_7F4A_7C15
    h ^= h >> 29
    h = h &* 0xBF58_476D_1CE4_E5B9
    h ^= h >> 32
    return h
}

/// Hashes a byte string eight bytes at a time (short strings, such as the log schema's
/// levels, services and hosts, take one or two multiplications).
@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
    var h: UInt64 = 0x2545_F491_4F6C_DD1D ^ (UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= count {
        h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
        h = (h << 29) | (h >> 35)
        i += 8
    }
    if i < count {
        var tail: UInt64
        if count - i >= 4 {
            let lo = UInt64(raw.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            let hi = UInt64(raw.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
            tail = lo | (hi << 32)
        } else {
            tail = UInt64(p[i]) | (UInt64(p[i + (count - i) / 2]) << 8) | (UInt64(p[count - 1]) << 16)
        }
        h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
    }
    h ^= h >> 33
    h = h &* 0xFF51_AFD7_ED55_8CCD
    h ^= h >> 29
    return h
}

/// Byte equality without Foundation.
@inline(__always)
func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 8 <= n {
        if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// Unsigned lexicographic comparison, the order Parquet defines for BYTE_ARRAY statistics.
@inline(__always)
func lexicographicallyLess(_ a: UnsafePointer<UInt8>, _ an: Int, _ b: UnsafePointer<UInt8>, _ bn: Int) -> Bool {
    let n = min(an, bn)
    var i = 0
    while i + 8 <= n {
        let x = UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self)
        let y = UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self)
        if x != y { return x.bigEndian < y.bigEndian }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return a[i] < b[i] }
        i += 1
    }
    return an < bn
}

/// A growable buffer of trivial values with a stable pointer between growths.
struct RawBuffer<T: BitwiseCopyable>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<T>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let p = UnsafeMutablePointer<T>.allocate(capacity: newCapacity)
        p.update(from: base, count: count)
        base.deallocate()
        base = p
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ v: T) {
        reserve(1)
        base[count] = v
        count += 1
    }

    @inline(__always)
    mutating func append(_ p: UnsafePointer<T>, count n: Int) {
        reserve(n)
        (base + count).update(from: p, count: n)
        count += n
    }

    /// Makes room for `n` more values and returns where they go; the caller must write all `n`.
    @inline(__always)
    mutating func extend(by n: Int) -> UnsafeMutablePointer<T> {
        reserve(n)
        let p = base + count
        count += n
        return p
    }

    /// Drops the last `n` values.
    mutating func removeLast(_ n: Int) { count -= n }

    mutating func removeAll() { count = 0 }

    var buffer: UnsafeBufferPointer<T> { UnsafeBufferPointer(start: base, count: count) }
}

/// A dictionary of fixed-width values keyed by their bit patterns (so -0.0 and 0.0, or two NaN
/// payloads, stay distinct entries and round-trip exactly). Slots hold (key, index + 1) pairs.
final class FixedDictionary<Bits: FixedWidthInteger & UnsignedInteger & BitwiseCopyable> {
    private(set) var keys = RawBuffer<Bits>(capacity: 1024)
    private var slots: UnsafeMutablePointer<UInt64>
    private var slotCount = 1024

    init() {
        slots = .allocate(capacity: 2 * 1024)
        slots.initialize(repeating: 0, count: 2 * 1024)
    }

    deinit { slots.deallocate() }

    var count: Int { keys.count }

    /// Appends to `indices` the dictionary index of `values[i]` for each `i < count` with
    /// `present?[i] ?? true`, inserting new values.
    @inline(__always)
    func encode<T: ParquetFixedValue>(_ values: UnsafePointer<T>, count: Int, present: UnsafePointer<Bool>?, into indices: inout RawBuffer<UInt32>) where T.Bits == Bits {
        indices.reserve(count)
        var mask = slotCount - 1
        var table = slots
        for i in 0..<count {
            if let present, !present[i] { continue }
            let key = UInt64(values[i].parquetBits)
            var s = Int(truncatingIfNeeded: mixHash(key)) & mask
            while true {
                let index = table[2 * s + 1]
                if index == 0 {
                    table[2 * s] = key
                    table[2 * s + 1] = UInt64(keys.count + 1)
                    indices.append(UInt32(keys.count))
                    keys.append(Bits(truncatingIfNeeded: key))
                    if keys.count * 2 > slotCount {
                        grow()
                        mask = slotCount - 1
                        table = slots
                    }
                    break
                }
                if table[2 * s] == key {
                    indices.append(UInt32(truncatingIfNeeded: index - 1))
                    break
                }
                s = (s + 1) & mask
            }
        }
    }

    private func grow() {
        let newCount = slotCount * 2
        let table = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * newCount)
        table.initialize(repeating: 0, count: 2 * newCount)
        let mask = newCount - 1
        for i in 0..<keys.count {
            let key = UInt64(keys.base[i])
            var s = Int(truncatingIfNeeded: mixHash(key)) & mask
            while table[2 * s + 1] != 0 { s = (s + 1) & mask }
            table[2 * s] = key
            table[2 * s + 1] = UInt64(i + 1)
        }
        slots.deallocate()
        slots = table
        slotCount = newCount
    }

    func removeAll() {
        keys.removeAll()
        slots.update(repeating: 0, count: 2 * slotCount)
    }
}

/// A dictionary of byte strings. Entries are stored back to back as (length, index, bytes),
/// and each slot holds (hash high 32 bits, entry offset), so a lookup touches the slot and then
/// one contiguous entry: two cache misses for a large dictionary instead of four.
final class ByteArrayDictionary {
    /// Entry at offset `o`: UInt32 length, UInt32 index, then `length` bytes.
    private(set) var entries = RawBuffer<UInt8>(capacity: 1 << 16)
    private(set) var count = 0
    /// The size of the dictionary page in PLAIN encoding (4-byte length + bytes per entry).
    private(set) var plainSize = 0
    private var slots: UnsafeMutablePointer<UInt64>
    private var slotCount = 1024
    private static let empty: UInt64 = ~0

    init() {
        slots = .allocate(capacity: 1024)
        slots.initialize(repeating: Self.empty, count: 1024)
    }

    deinit { slots.deallocate() }

    /// Calls `body` with each entry's bytes, in index order.
    func forEach(_ body: (UnsafePointer<UInt8>, Int) -> Void) {
        var o = 0
        let base = UnsafeRawPointer(entries.base)
        for _ in 0..<count {
            let n = Int(base.loadUnaligned(fromByteOffset: o, as: UInt32.self))
            body(entries.base + o + 8, n)
            o += 8 + n
        }
    }

    /// Appends to `indices` the dictionary index of each value `i < count` with
    /// `present?[i] ?? true`, where value `i` is `data[offsets[i] ..< offsets[i + 1]]`.
    func encode(data: UnsafePointer<UInt8>, offsets valueOffsets: UnsafePointer<Int32>, count: Int, present: UnsafePointer<Bool>?, into indices: inout RawBuffer<UInt32>) {
        indices.reserve(count)
        var mask = slotCount - 1
        var table = slots
        var stored = UnsafeRawPointer(entries.base)
        for i in 0..<count {
            if let present, !present[i] { continue }
            let start = Int(valueOffsets[i])
            let length = Int(valueOffsets[i + 1]) - start
            let p = data + start
            let h = hashBytes(p, length)
            let tag = h & 0xFFFF_FFFF_0000_0000
            var s = Int(truncatingIfNeeded: h) & mask
            while true {
                let slot = table[s]
                if slot == Self.empty {
                    let index = self.count
                    let offset = entries.count
                    let entry = UnsafeMutableRawPointer(entries.extend(by: 8 + length))
                    entry.storeBytes(of: UInt32(truncatingIfNeeded: length), as: UInt32.self)
                    entry.storeBytes(of: UInt32(truncatingIfNeeded: index), toByteOffset: 4, as: UInt32.self)
                    (entry + 8).assumingMemoryBound(to: UInt8.self).update(from: p, count: length)
                    table[s] = tag | UInt64(truncatingIfNeeded: offset)
                    indices.append(UInt32(truncatingIfNeeded: index))
                    self.count = index + 1
                    plainSize += 4 + length
                    if (index + 1) * 2 > slotCount {
                        grow()
                        mask = slotCount - 1
                        table = slots
                    }
                    stored = UnsafeRawPointer(entries.base)
                    break
                }
                if slot & 0xFFFF_FFFF_0000_0000 == tag {
                    let e = Int(truncatingIfNeeded: slot & 0xFFFF_FFFF)
                    if Int(stored.loadUnaligned(fromByteOffset: e, as: UInt32.self)) == length
                        && bytesEqual((stored + e + 8).assumingMemoryBound(to: UInt8.self), p, length) {
                        indices.append(stored.loadUnaligned(fromByteOffset: e + 4, as: UInt32.self))
                        break
                    }
                }
                s = (s + 1) & mask
            }
        }
    }

    private func grow() {
        let newCount = slotCount * 2
        let table = UnsafeMutablePointer<UInt64>.allocate(capacity: newCount)
        table.initialize(repeating: Self.empty, count: newCount)
        let mask = newCount - 1
        var o = 0
        let base = UnsafeRawPointer(entries.base)
        for _ in 0..<count {
            let n = Int(base.loadUnaligned(fromByteOffset: o, as: UInt32.self))
            let h = hashBytes(entries.base + o + 8, n)
            var s = Int(truncatingIfNeeded: h) & mask
            while table[s] != Self.empty { s = (s + 1) & mask }
            table[s] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(o)
            o += 8 + n
        }
        slots.deallocate()
        slots = table
        slotCount = newCount
    }

    func removeAll() {
        entries.removeAll()
        count = 0
        plainSize = 0
        slots.update(repeating: Self.empty, count: slotCount)
    }
}
