/// Why a snapshot could not be restored.
public enum AnalyticsSnapshotError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not an analytics snapshot, or cut short.
    case malformed(String)
    /// Written by a newer format version than this build reads.
    case unsupportedVersion(UInt16)
    /// Written under a configuration with other windows, lateness or sketch sizes.
    case configurationMismatch

    /// A readable explanation.
    public var description: String {
        switch self {
        case .malformed(let why): "malformed analytics snapshot: \(why)"
        case .unsupportedVersion(let v): "analytics snapshot version \(v) is newer than this build reads"
        case .configurationMismatch:
            "the analytics snapshot was written with other windows, lateness or sketch sizes; restore it with the same configuration"
        }
    }
}

/// Little-endian binary writer for snapshots.
struct SnapshotWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    mutating func int(_ v: Int) { i64(Int64(v)) }
    mutating func blob(_ v: [UInt8]) {
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }
    mutating func string(_ s: String) { blob(Array(s.utf8)) }

    mutating func summary(_ s: NumericSummary) {
        i64(s.count); f64(s.sum); f64(s.sumOfSquares); f64(s.min); f64(s.max)
    }

    mutating func sketch(_ s: DDSketch) {
        i64(s.zeroCount)
        let bins = s.nonzeroBins
        u32(UInt32(bins.count))
        for b in bins {
            i64(Int64(b.index))
            i64(b.count)
        }
    }

    mutating func hll(_ h: HyperLogLog) {
        if h.isInline {
            u8(0)
            u32(UInt32(h.inlineCount))
            if h.inlineCount > 0 { u64(h.inline0) }
            if h.inlineCount > 1 { u64(h.inline1) }
        } else if h.registers.isEmpty {
            u8(0)
            u32(UInt32(h.sparse.count))
            for x in h.sparse { u64(x) }
        } else {
            u8(1)
            bytes.append(contentsOf: h.registers)
        }
    }

    mutating func bitset(_ b: SmallBitSet) {
        let members = b.members
        u32(UInt32(members.count))
        for m in members { u32(m) }
    }

    mutating func interner(_ i: ByteInterner) {
        let names = i.names
        u32(UInt32(names.count))
        for n in names { blob(n) }
    }
}

/// Reader matching `SnapshotWriter`; every read checks bounds.
struct SnapshotReader {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }

    private mutating func take(_ n: Int) throws(AnalyticsSnapshotError) -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count - position >= n else { throw .malformed("truncated at byte \(position)") }
        defer { position += n }
        return bytes[position..<position + n]
    }

    private mutating func fixed<T: FixedWidthInteger>(_: T.Type) throws(AnalyticsSnapshotError) -> T {
        let slice = try take(MemoryLayout<T>.size)
        var v: T = 0
        for (k, b) in slice.enumerated() { v |= T(truncatingIfNeeded: b) << (8 * k) }
        return v
    }

    mutating func u8() throws(AnalyticsSnapshotError) -> UInt8 { try fixed(UInt8.self) }
    mutating func u16() throws(AnalyticsSnapshotError) -> UInt16 { try fixed(UInt16.self) }
    mutating func u32() throws(AnalyticsSnapshotError) -> UInt32 { try fixed(UInt32.self) }
    mutating func u64() throws(AnalyticsSnapshotError) -> UInt64 { try fixed(UInt64.self) }
    mutating func i64() throws(AnalyticsSnapshotError) -> Int64 { Int64(bitPattern: try u64()) }
    mutating func f64() throws(AnalyticsSnapshotError) -> Double { Double(bitPattern: try u64()) }
    mutating func int() throws(AnalyticsSnapshotError) -> Int { Int(try i64()) }

    /// A count of items, each at least `minBytes` long: refuses counts the remaining bytes cannot hold.
    mutating func count(minBytes: Int) throws(AnalyticsSnapshotError) -> Int {
        let n = Int(try u32())
        guard n * max(1, minBytes) <= bytes.count - position else { throw .malformed("count \(n) exceeds the data") }
        return n
    }

    mutating func blob() throws(AnalyticsSnapshotError) -> [UInt8] { Array(try take(Int(try u32()))) }
    mutating func string() throws(AnalyticsSnapshotError) -> String { String(decoding: try blob(), as: UTF8.self) }

    mutating func summary() throws(AnalyticsSnapshotError) -> NumericSummary {
        var s = NumericSummary()
        s.count = try i64(); s.sum = try f64(); s.sumOfSquares = try f64(); s.min = try f64(); s.max = try f64()
        return s
    }

    mutating func sketch(accuracy: Double) throws(AnalyticsSnapshotError) -> DDSketch {
        let zero = try i64()
        let n = try count(minBytes: 16)
        var bins: [(index: Int, count: Int64)] = []
        bins.reserveCapacity(n)
        for _ in 0..<n {
            let i = try int()
            let c = try i64()
            guard c > 0, bins.last.map({ $0.index < i }) ?? true else { throw .malformed("sketch bins out of order") }
            bins.append((i, c))
        }
        if let first = bins.first, let last = bins.last, last.index - first.index >= 1 << 20 {
            throw .malformed("sketch range too wide")
        }
        return DDSketch(relativeAccuracy: accuracy, maxBins: 4096, zeroCount: zero, bins: bins)
    }

    mutating func hll(precision: Int) throws(AnalyticsSnapshotError) -> HyperLogLog {
        switch try u8() {
        case 0:
            let n = try count(minBytes: 8)
            var sparse: [UInt64] = []
            sparse.reserveCapacity(n)
            for _ in 0..<n { sparse.append(try u64()) }
            return HyperLogLog(precision: precision, sparse: sparse, registers: [])
        case 1:
            return HyperLogLog(precision: precision, sparse: [], registers: Array(try take(1 << precision)))
        default:
            throw .malformed("unknown sketch mode")
        }
    }

    mutating func bitset() throws(AnalyticsSnapshotError) -> SmallBitSet {
        var b = SmallBitSet()
        for _ in 0..<(try count(minBytes: 4)) {
            let id = try u32()
            guard id < 1 << 20 else { throw .malformed("id out of range") }
            b.insert(id)
        }
        return b
    }

    mutating func interner(limit: Int) throws(AnalyticsSnapshotError) -> ByteInterner {
        var interner = ByteInterner(limit: limit)
        let n = try count(minBytes: 4)
        for k in 0..<n {
            let name = try blob()
            let id = name.withUnsafeBytes { interner.id(of: $0) }
            guard id == UInt32(k) else { throw .malformed("duplicate interned name") }
        }
        return interner
    }
}
