// The RLE / bit-packing hybrid (Encodings.md, "RLE = 3") used for definition levels,
// dictionary indices and RLE booleans, plus the little helpers around it.

/// The number of bits needed for values up to `maxValue`.
@inline(__always)
func bitWidth(forMax maxValue: Int) -> Int {
    maxValue <= 0 ? 0 : Int.bitWidth - maxValue.leadingZeroBitCount
}

/// Appends `value` as ULEB-128.
@inline(__always)
func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
    var v = value
    while v >= 0x80 {
        out.append(UInt8(truncatingIfNeeded: v) | 0x80)
        v >>= 7
    }
    out.append(UInt8(v))
}

enum RLEEncoder {
    /// Appends the hybrid encoding of `values` (each below `1 << bitWidth`) to `out`.
    /// Runs of eight or more equal values become RLE runs; the rest is bit-packed in groups
    /// of eight, the last group padded with zeros as the spec allows.
    static func encode<T: FixedWidthInteger & UnsignedInteger>(
        _ values: UnsafeBufferPointer<T>, bitWidth w: Int, into out: inout [UInt8]
    ) {
        let n = values.count
        guard n > 0 else { return }
        let valueBytes = (w + 7) / 8
        out.reserveCapacity(out.count + 64 + 2 * n + (n + 8) * w / 8)
        var i = 0
        var literalStart = 0
        while i < n {
            let v = values[i]
            var j = i + 1
            while j < n && values[j] == v { j += 1 }
            var runLength = j - i
            if runLength < 8 {
                i = j
                continue
            }
            let literalLength = i - literalStart
            if literalLength > 0 {
                // A bit-packed run must hold a multiple of 8 values: borrow from the run.
                let pad = (8 - literalLength % 8) % 8
                emitBitPacked(values, from: literalStart, count: literalLength + pad, bitWidth: w, into: &out)
                runLength -= pad
            }
            appendVarint(UInt64(runLength) << 1, to: &out)
            var value = UInt64(v)
            for _ in 0..<valueBytes {
                out.append(UInt8(truncatingIfNeeded: value))
                value >>= 8
            }
            i = j
            literalStart = j
        }
        if literalStart < n {
            emitBitPacked(values, from: literalStart, count: n - literalStart, bitWidth: w, into: &out)
        }
    }

    /// Bit-packs `count` values (padded with zeros up to a multiple of 8) after a run header.
    private static func emitBitPacked<T: FixedWidthInteger & UnsignedInteger>(
        _ values: UnsafeBufferPointer<T>, from start: Int, count: Int, bitWidth w: Int, into out: inout [UInt8]
    ) {
        let groups = (count + 7) / 8
        appendVarint(UInt64(groups) << 1 | 1, to: &out)
        let byteCount = groups * w
        let end = min(start + count, values.count)
        let base = out.count
        out.append(contentsOf: repeatElement(0, count: byteCount))
        guard w > 0 else { return }
        out.withUnsafeMutableBufferPointer { buf in
            let p = buf.baseAddress! + base
            var acc: UInt64 = 0
            var bits = 0
            var o = 0
            for k in start..<end {
                acc |= UInt64(values[k]) << UInt64(bits)
                bits += w
                while bits >= 8 {
                    p[o] = UInt8(truncatingIfNeeded: acc)
                    o += 1
                    acc >>= 8
                    bits -= 8
                }
            }
            if bits > 0 { p[o] = UInt8(truncatingIfNeeded: acc) }
        }
    }
}

/// Decodes the hybrid encoding from untrusted bytes. Run lengths are checked against the
/// number of values the caller asks for, so a corrupt header cannot make it loop or overrun.
struct RLEDecoder {
    private let data: UnsafeRawBufferPointer
    private var position: Int
    private let bitWidth: Int
    private let valueBytes: Int
    private let mask: UInt64
    /// Values left in the current run.
    private var runLeft = 0
    private var isLiteral = false
    private var repeatedValue: UInt64 = 0
    /// Bit position (from `data` start) of the next literal value.
    private var literalBit = 0
    private var literalEndBit = 0

    init(_ data: UnsafeRawBufferPointer, bitWidth: Int) throws(ParquetError) {
        guard bitWidth >= 0 && bitWidth <= 32 else { throw .corruptPage("RLE bit width \(bitWidth) above 32") }
        self.data = data
        self.position = 0
        self.bitWidth = bitWidth
        self.valueBytes = (bitWidth + 7) / 8
        self.mask = bitWidth == 64 ? ~0 : (1 << UInt64(bitWidth)) - 1
    }

    private mutating func nextRun() throws(ParquetError) {
        var header: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < data.count else { throw .corruptPage("RLE data ends before all values are decoded") }
            let b = data[position]
            position += 1
            header |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
            guard shift < 64 else { throw .corruptPage("RLE run header varint too long") }
        }
        if header & 1 == 1 {
            let groups = header >> 1
            guard groups > 0, groups <= UInt64(Int32.max / 8) else { throw .corruptPage("bit-packed run of \(groups) groups") }
            let wantedBytes = Int(groups) * bitWidth
            // Some writers truncate the last run's padding; decode what is there.
            let available = min(wantedBytes, data.count - position)
            isLiteral = true
            literalBit = position * 8
            literalEndBit = (position + available) * 8
            runLeft = bitWidth == 0 ? Int(groups) * 8 : min(Int(groups) * 8, available * 8 / bitWidth)
            position += available
            guard runLeft > 0 else { throw .corruptPage("RLE data ends inside a bit-packed run") }
        } else {
            let count = header >> 1
            guard count > 0, count <= UInt64(Int32.max) else { throw .corruptPage("RLE run of \(count) values") }
            guard data.count - position >= valueBytes else { throw .corruptPage("RLE data ends inside a run value") }
            var v: UInt64 = 0
            for k in 0..<valueBytes { v |= UInt64(data[position + k]) << UInt64(8 * k) }
            position += valueBytes
            isLiteral = false
            repeatedValue = v
            runLeft = Int(count)
        }
    }

    @inline(__always)
    private func literal(at bit: Int) -> UInt64 {
        let byte = bit >> 3
        let shift = UInt64(bit & 7)
        if byte + 8 <= data.count {
            return (data.loadUnaligned(fromByteOffset: byte, as: UInt64.self).littleEndian >> shift) & mask
        }
        var word: UInt64 = 0
        var k = 0
        while byte + k < data.count && k < 8 {
            word |= UInt64(data[byte + k]) << UInt64(8 * k)
            k += 1
        }
        return (word >> shift) & mask
    }

    /// Decodes exactly `count` values into `out`, or throws if the data ends first.
    mutating func decode<T: FixedWidthInteger>(into out: UnsafeMutablePointer<T>, count: Int) throws(ParquetError) {
        var done = 0
        while done < count {
            if runLeft == 0 { try nextRun() }
            let take = min(runLeft, count - done)
            if isLiteral {
                var bit = literalBit
                for k in 0..<take {
                    out[done + k] = T(truncatingIfNeeded: literal(at: bit))
                    bit += bitWidth
                }
                literalBit = bit
            } else {
                (out + done).update(repeating: T(truncatingIfNeeded: repeatedValue), count: take)
            }
            runLeft -= take
            done += take
        }
    }
}
