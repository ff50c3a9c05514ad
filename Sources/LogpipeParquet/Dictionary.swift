// Hash tables behind dictionary encoding: open addressing with linear probing over
// `Int32` slots, so a lookup touches one slot array and the dictionary's own storage.

@inline(__always)
func mixHash(_ x: UInt64) -> UInt64 {
    var h = x &* 0x9E37_79B9_7F4A_7C15
    h ^= h >> 32
    return h
}

/// Hashes a byte string eight bytes at a time (short strings, such as the log schema's
/// levels, services and hosts, take one or two multiplications).
@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
    var h: UInt64 = 0x2545_F491_4F6C_DD1D ^ (UInt64(count) &* 0x9E37_79B9_7F4A_7C15)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 8 <= count {
        h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
        h = (h << 29) | (h >> 35)
        i += 8
    }
    if i < count {
        var tail: UInt64 = 0
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

/// A dictionary of fixed-width values keyed by their bit patterns (so -0.0 and 0.0, or two
/// NaN payloads, stay distinct entries and round-trip exactly).
struct FixedDictionary<Bits: FixedWidthInteger & UnsignedInteger> {
    private(set) var keys: [Bits] = []
    private var slots: [Int32]
    private var mask: Int

    init() {
        slots = Array(repeating: -1, count: 1024)
        mask = 1023
    }

    var count: Int { keys.count }

    /// The index of `key`, inserting it when new.
    @inline(__always)
    mutating func index(of key: Bits) -> UInt32 {
        var s = Int(truncatingIfNeeded: mixHash(UInt64(key))) & mask
        while true {
            let e = slots[s]
            if e < 0 {
                let idx = Int32(keys.count)
                slots[s] = idx
                keys.append(key)
                if keys.count * 2 > slots.count { grow() }
                return UInt32(idx)
            }
            if keys[Int(e)] == key { return UInt32(e) }
            s = (s + 1) & mask
        }
    }

    private mutating func grow() {
        let newSize = slots.count * 2
        slots = Array(repeating: -1, count: newSize)
        mask = newSize - 1
        for (i, k) in keys.enumerated() {
            var s = Int(truncatingIfNeeded: mixHash(UInt64(k))) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(i)
        }
    }

    mutating func removeAll() {
        keys.removeAll(keepingCapacity: true)
        slots = Array(repeating: -1, count: 1024)
        mask = 1023
    }
}

/// A dictionary of byte strings stored back to back, with each entry's hash kept so probes
/// compare bytes only on a full hash match.
struct ByteArrayDictionary {
    private(set) var bytes: [UInt8] = []
    private(set) var offsets: [Int32] = [0]
    private var hashes: [UInt64] = []
    private var slots: [Int32]
    private var mask: Int

    init() {
        slots = Array(repeating: -1, count: 1024)
        mask = 1023
    }

    var count: Int { hashes.count }

    /// The size of the dictionary page in PLAIN encoding (4-byte length + bytes per entry).
    var plainSize: Int { bytes.count + 4 * hashes.count }

    /// The index of the byte string at `p ..< p + length`, inserting it when new.
    @inline(__always)
    mutating func index(of p: UnsafePointer<UInt8>, length: Int) -> UInt32 {
        let h = hashBytes(p, length)
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = slots[s]
            if e < 0 {
                let idx = Int32(hashes.count)
                slots[s] = idx
                hashes.append(h)
                bytes.append(contentsOf: UnsafeBufferPointer(start: p, count: length))
                offsets.append(Int32(bytes.count))
                if hashes.count * 2 > slots.count { grow() }
                return UInt32(idx)
            }
            let ei = Int(e)
            if hashes[ei] == h {
                let start = Int(offsets[ei])
                let len = Int(offsets[ei + 1]) - start
                if len == length {
                    let equal = bytes.withUnsafeBufferPointer { b in
                        length == 0 || memcmpBytes(b.baseAddress! + start, p, length)
                    }
                    if equal { return UInt32(e) }
                }
            }
            s = (s + 1) & mask
        }
    }

    private mutating func grow() {
        let newSize = slots.count * 2
        slots = Array(repeating: -1, count: newSize)
        mask = newSize - 1
        for (i, h) in hashes.enumerated() {
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(i)
        }
    }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        offsets = [0]
        hashes.removeAll(keepingCapacity: true)
        slots = Array(repeating: -1, count: 1024)
        mask = 1023
    }
}

/// Byte equality without Foundation.
@inline(__always)
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
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
    while i < n {
        if a[i] != b[i] { return a[i] < b[i] }
        i += 1
    }
    return an < bn
}
