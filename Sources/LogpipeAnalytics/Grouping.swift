import LogpipeRecords

/// A hash map from (window, key id) to a state slot: open addressing with linear
/// probing over one flat array, so grouping rows costs no allocation per row and a probe
/// touches one cache line (window, id and slot side by side).
struct GroupIndex: Sendable {
    private var cells: [Cell]
    private var mask: Int
    private(set) var count = 0

    private struct Cell {
        var window: Int64
        var id: UInt32
        /// Slot + 1; 0 marks an empty cell.
        var slot: Int32
        static let empty = Cell(window: 0, id: 0, slot: 0)
    }

    init(capacity: Int = 64) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        cells = Array(repeating: .empty, count: size)
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
            let cell = cells[i]
            if cell.slot == 0 { return nil }
            if cell.window == window, cell.id == id { return Int(cell.slot) - 1 }
            i = (i + 1) & mask
        }
    }

    /// Records `(window, id) → slot`; the key must be absent.
    mutating func insert(_ window: Int64, _ id: UInt32, slot: Int) {
        if (count + 1) * 2 > cells.count { grow() }
        var i = Self.hash(window, id) & mask
        while cells[i].slot != 0 { i = (i + 1) & mask }
        cells[i] = Cell(window: window, id: id, slot: Int32(slot + 1))
        count += 1
    }

    private mutating func grow() {
        let old = cells
        cells = Array(repeating: .empty, count: old.count * 2)
        mask = cells.count - 1
        count = 0
        for cell in old where cell.slot != 0 {
            insert(cell.window, cell.id, slot: Int(cell.slot) - 1)
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
    /// Open addressing over the batch's distinct values.
    private var cells: [Cell] = []
    private var firstRows: [Int32] = []
    private var codeIDs: [UInt32] = []

    /// A distinct value of the batch. Values of up to 16 bytes (IPs, most services) are
    /// held in the cell itself, so a row is matched with one cache line and no look at an
    /// earlier row's bytes; longer ones hold their hash and are compared with the bytes of
    /// the row that brought them.
    private struct Cell {
        /// Up to 16 bytes: the value's bytes 0..<8 and 8..<16, zero-padded. Longer: the
        /// value's `hashBytes` and 0.
        var word0: UInt64
        var word1: UInt64
        var count: Int32
        /// The value's code; -1 marks an empty cell.
        var code: Int32
        static let empty = Cell(word0: 0, word1: 0, count: 0, code: -1)
    }

    /// Encodes `column` and resolves each distinct value in `interner`.
    mutating func encode(_ column: StringColumn, rows: Int, interner: inout ByteInterner) {
        // Sized for the previous batch's distinct values, not for the rows: a column of a
        // dozen services probed a table of 128 Ki cells (out of the caches) per row. It
        // grows as it fills.
        let expected = max(firstRows.count, 16)
        ids.removeAll(keepingCapacity: true)
        ids.reserveCapacity(rows)
        firstRows.removeAll(keepingCapacity: true)
        codeIDs.removeAll(keepingCapacity: true)
        var size = 64
        while size < expected * 4 && size < 1 << 20 { size <<= 1 }
        if cells.count != size {
            cells = Array(repeating: .empty, count: size)
        } else {
            for i in cells.indices { cells[i] = .empty }
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
                    let n = end - start
                    let p = all.baseAddress.map { $0 + start }
                    var word0: UInt64 = 0, word1: UInt64 = 0
                    let h: UInt64
                    if n <= 16 {
                        if let p {
                            word0 = loadPadded(p, min(n, 8))
                            if n > 8 { word1 = loadPadded(p + 8, n - 8) }
                        }
                        h = mix64(word0 ^ (word1 &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(n))
                    } else {
                        word0 = hashBytes(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                        h = word0
                    }
                    var i = Int(truncatingIfNeeded: h) & mask
                    var code: Int32 = -1
                    while cells[i].code >= 0 {
                        let cell = cells[i]
                        if cell.count == Int32(n), cell.word0 == word0, cell.word1 == word1 {
                            if n <= 16 {
                                code = cell.code
                                break
                            }
                            let r = Int(firstRows[Int(cell.code)])
                            if memcmpEqual(all.baseAddress! + Int(offsets[r]), p!, n) {
                                code = cell.code
                                break
                            }
                        }
                        i = (i + 1) & mask
                    }
                    if code < 0 {
                        code = Int32(firstRows.count)
                        firstRows.append(Int32(row))
                        codeIDs.append(interner.id(of: UnsafeRawBufferPointer(rebasing: all[start..<end])))
                        cells[i] = Cell(word0: word0, word1: word1, count: Int32(n), code: code)
                        if firstRows.count * 2 > cells.count {
                            rehash(size: cells.count * 2)
                            mask = cells.count - 1
                        }
                    }
                    ids.append(codeIDs[Int(code)])
                }
            }
        }
    }

    private static func hash(_ cell: Cell) -> UInt64 {
        cell.count <= 16 ? mix64(cell.word0 ^ (cell.word1 &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(cell.count)) : cell.word0
    }

    private mutating func rehash(size: Int) {
        var fresh = [Cell](repeating: .empty, count: size)
        let mask = size - 1
        for cell in cells where cell.code >= 0 {
            var j = Int(truncatingIfNeeded: Self.hash(cell)) & mask
            while fresh[j].code >= 0 { j = (j + 1) & mask }
            fresh[j] = cell
        }
        cells = fresh
    }
}

/// The `n` (0 ... 8) bytes at `p` as a little-endian word, zero-padded; reads no byte
/// past them.
@inline(__always)
func loadPadded(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
    if n >= 8 { return UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) }
    if n >= 4 {
        // Two overlapping 4-byte loads; the bytes they share are the same in both.
        let low = UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
        let high = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)))
        return low | high << UInt64((n - 4) * 8)
    }
    var k: UInt64 = 0
    for i in 0..<n { k |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << UInt64(i * 8) }
    return k
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
