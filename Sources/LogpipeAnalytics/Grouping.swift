import LogpipeRecords

/// A hash map from (window, key id) to a state slot: open addressing with linear
/// probing over flat arrays, so grouping rows costs no allocation per row.
struct GroupIndex: Sendable {
    private var windows: [Int64]
    private var ids: [UInt32]
    /// Slot + 1; 0 marks an empty cell.
    private var slots: [Int32]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 64) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        windows = Array(repeating: 0, count: size)
        ids = Array(repeating: 0, count: size)
        slots = Array(repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func hash(_ window: Int64, _ id: UInt32) -> Int {
        Int(truncatingIfNeeded: mix64(UInt64(bitPattern: window) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(id)))
    }

    /// The slot of `(window, id)`, or `nil`.
    @inline(__always)
    func find(_ window: Int64, _ id: UInt32) -> Int? {
        var i = Self.hash(window, id) & mask
        while true {
            let s = slots[i]
            if s == 0 { return nil }
            if windows[i] == window, ids[i] == id { return Int(s) - 1 }
            i = (i + 1) & mask
        }
    }

    /// Records `(window, id) → slot`; the key must be absent.
    mutating func insert(_ window: Int64, _ id: UInt32, slot: Int) {
        if (count + 1) * 2 > slots.count { grow() }
        var i = Self.hash(window, id) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        windows[i] = window
        ids[i] = id
        slots[i] = Int32(slot + 1)
        count += 1
    }

    private mutating func grow() {
        let oldWindows = windows, oldIds = ids, oldSlots = slots
        let size = slots.count * 2
        windows = Array(repeating: 0, count: size)
        ids = Array(repeating: 0, count: size)
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        count = 0
        for i in oldSlots.indices where oldSlots[i] != 0 {
            insert(oldWindows[i], oldIds[i], slot: Int(oldSlots[i]) - 1)
        }
    }
}

/// Interns byte strings (services, IPs, event types) as small integer ids, so window
/// state is keyed by integers and names are stored once.
///
/// `limit` bounds the table: once full, new strings map to `overflowID`, whose name is
/// `overflowName`, so hostile input with endless distinct values cannot grow memory
/// without bound.
struct ByteInterner: Sendable {
    private(set) var bytes: [UInt8] = []
    private(set) var offsets: [Int] = [0]
    private var hashes: [UInt64] = []
    /// id + 1; 0 marks an empty cell.
    private var table: [UInt32] = Array(repeating: 0, count: 64)
    let limit: Int
    static let overflowName = "(other)"

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// The number of ids.
    var count: Int { offsets.count - 1 }

    /// The id used once the table is full.
    var overflowID: UInt32 { UInt32(limit) }

    /// Every name in id order, as strings (whole-system parts carry them with their ids).
    var nameStrings: [String] { (0..<count).map { name(UInt32($0)) } }

    /// The id of `value`, interning it if new.
    mutating func id(of value: UnsafeRawBufferPointer) -> UInt32 {
        let h = hashBytes(value)
        let mask = table.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let cell = table[i]
            if cell == 0 { break }
            let id = Int(cell) - 1
            if hashes[id] == h, matches(id, value) { return UInt32(id) }
            i = (i + 1) & mask
        }
        if count >= limit { return overflowID }
        let id = count
        bytes.append(contentsOf: value)
        offsets.append(bytes.count)
        hashes.append(h)
        table[i] = UInt32(id + 1)
        if count * 2 > table.count { rehash(size: table.count * 2) }
        return UInt32(id)
    }

    private func matches(_ id: Int, _ value: UnsafeRawBufferPointer) -> Bool {
        let start = offsets[id], end = offsets[id + 1]
        guard end - start == value.count else { return false }
        return bytes.withUnsafeBytes { all in
            value.isEmpty || memcmpEqual(all.baseAddress! + start, value.baseAddress!, value.count)
        }
    }

    private mutating func rehash(size: Int) {
        table = Array(repeating: 0, count: size)
        let mask = size - 1
        for id in hashes.indices {
            var i = Int(truncatingIfNeeded: hashes[id]) & mask
            while table[i] != 0 { i = (i + 1) & mask }
            table[i] = UInt32(id + 1)
        }
    }

    /// The string of `id`.
    func name(_ id: UInt32) -> String {
        if Int(id) >= count { return Self.overflowName }
        return String(decoding: bytes[offsets[Int(id)]..<offsets[Int(id) + 1]], as: UTF8.self)
    }

    /// The bytes of `id`.
    func withName<R>(_ id: UInt32, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if Int(id) >= count { return Array(Self.overflowName.utf8).withUnsafeBytes(body) }
        return bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[offsets[Int(id)]..<offsets[Int(id) + 1]])) }
    }

    /// A new interner with only the ids `keep` says to keep, in id order, and the map
    /// from old ids to new ones (`UInt32.max` for dropped ids). The overflow id is the
    /// same in both, so it maps to itself (see `remapped`).
    func compacted(keeping keep: (UInt32) -> Bool) -> (ByteInterner, [UInt32]) {
        var fresh = ByteInterner(limit: limit)
        var remap = [UInt32](repeating: .max, count: count)
        for id in 0..<count where keep(UInt32(id)) {
            remap[id] = withName(UInt32(id)) { fresh.id(of: $0) }
        }
        return (fresh, remap)
    }

    /// `id` through a map from `compacted`.
    func remapped(_ id: UInt32, _ remap: [UInt32]) -> UInt32 {
        id == overflowID ? id : remap[Int(id)]
    }

    /// Every name in id order (snapshots).
    var names: [[UInt8]] { (0..<count).map { Array(bytes[offsets[$0]..<offsets[$0 + 1]]) } }
}

@inline(__always)
func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

/// Dictionary-encodes a string column for one batch: each row gets a small code,
/// each distinct value is looked up in the long-lived interner once per batch.
/// Scratch buffers are reused across batches.
struct BatchEncoder: Sendable {
    /// Per row: the interned id, or `UInt32.max` for a null row.
    private(set) var ids: [UInt32] = []
    private var table: [Int32] = []
    private var tableHashes: [UInt64] = []
    private var firstRows: [Int32] = []
    private var codeIDs: [UInt32] = []

    /// Encodes `column` and resolves each distinct value in `interner`.
    mutating func encode(_ column: StringColumn, rows: Int, interner: inout ByteInterner) {
        ids.removeAll(keepingCapacity: true)
        ids.reserveCapacity(rows)
        firstRows.removeAll(keepingCapacity: true)
        codeIDs.removeAll(keepingCapacity: true)
        var size = 64
        while size < rows * 2 && size < 1 << 20 { size <<= 1 }
        if table.count != size {
            table = Array(repeating: -1, count: size)
            tableHashes = Array(repeating: 0, count: size)
        } else {
            for i in table.indices { table[i] = -1 }
        }
        var mask = size - 1
        column.bytes.withUnsafeBytes { all in
            column.offsets.withUnsafeBufferPointer { offsets in
                for row in 0..<rows {
                    if let validity = column.validity, !validity[row] {
                        ids.append(.max)
                        continue
                    }
                    let start = Int(offsets[row]), end = Int(offsets[row + 1])
                    let value = UnsafeRawBufferPointer(rebasing: all[start..<end])
                    let h = hashBytes(value)
                    var i = Int(truncatingIfNeeded: h) & mask
                    var code: Int32 = -1
                    while table[i] >= 0 {
                        let c = table[i]
                        if tableHashes[i] == h {
                            let r = Int(firstRows[Int(c)])
                            let rs = Int(offsets[r]), re = Int(offsets[r + 1])
                            if re - rs == value.count,
                               value.isEmpty || memcmpEqual(all.baseAddress! + rs, value.baseAddress!, value.count) {
                                code = c
                                break
                            }
                        }
                        i = (i + 1) & mask
                    }
                    if code < 0 {
                        code = Int32(firstRows.count)
                        firstRows.append(Int32(row))
                        codeIDs.append(interner.id(of: value))
                        table[i] = code
                        tableHashes[i] = h
                        if firstRows.count * 2 > table.count {
                            rehash(size: table.count * 2)
                            mask = table.count - 1
                        }
                    }
                    ids.append(codeIDs[Int(code)])
                }
            }
        }
    }

    private mutating func rehash(size: Int) {
        var fresh = [Int32](repeating: -1, count: size)
        var freshHashes = [UInt64](repeating: 0, count: size)
        let mask = size - 1
        for i in table.indices where table[i] >= 0 {
            var j = Int(truncatingIfNeeded: tableHashes[i]) & mask
            while fresh[j] >= 0 { j = (j + 1) & mask }
            fresh[j] = table[i]
            freshHashes[j] = tableHashes[i]
        }
        table = fresh
        tableHashes = freshHashes
    }
}

/// A set of small ids (service ids): one inline word, more words only past id 63.
struct SmallBitSet: Sendable, Equatable {
    var word0: UInt64 = 0
    var rest: [UInt64] = []

    @inline(__always)
    mutating func insert(_ id: UInt32) {
        if id < 64 {
            word0 |= 1 << UInt64(id)
        } else {
            let w = Int(id >> 6) - 1
            if w >= rest.count { rest.append(contentsOf: repeatElement(0, count: w - rest.count + 1)) }
            rest[w] |= 1 << UInt64(id & 63)
        }
    }

    mutating func formUnion(_ other: SmallBitSet) {
        word0 |= other.word0
        if other.rest.count > rest.count { rest.append(contentsOf: repeatElement(0, count: other.rest.count - rest.count)) }
        for i in other.rest.indices { rest[i] |= other.rest[i] }
    }

    var count: Int { word0.nonzeroBitCount + rest.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// The ids in ascending order.
    var members: [UInt32] {
        var out: [UInt32] = []
        for (w, word) in ([word0] + rest).enumerated() {
            var bits = word
            while bits != 0 {
                out.append(UInt32(w * 64 + bits.trailingZeroBitCount))
                bits &= bits - 1
            }
        }
        return out
    }

    static func == (a: SmallBitSet, b: SmallBitSet) -> Bool {
        a.members == b.members
    }
}
