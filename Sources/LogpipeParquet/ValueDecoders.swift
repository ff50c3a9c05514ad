// Value decoders: each builder appends one page's non-null values (any encoding the spec
// defines for its type, from untrusted bytes) and then spreads them over the page's rows,
// leaving zero slots for nulls, to produce the dense layout `ParquetValues` describes.

/// A little-endian cursor over untrusted bytes.
struct ByteCursor {
    let data: UnsafeRawBufferPointer
    var position = 0

    init(_ data: UnsafeRawBufferPointer) { self.data = data }

    var remaining: Int { data.count - position }

    mutating func readVarint() throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < data.count else { throw .corruptPage("varint runs past the end of the page") }
            let b = data[position]
            position += 1
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            guard shift < 64 else { throw .corruptPage("varint longer than 10 bytes") }
        }
    }

    mutating func readZigZag() throws(ParquetError) -> Int64 {
        let v = try readVarint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func readUInt32() throws(ParquetError) -> UInt32 {
        guard remaining >= 4 else { throw .corruptPage("a 4-byte length runs past the end of the page") }
        let v = data.loadUnaligned(fromByteOffset: position, as: UInt32.self).littleEndian
        position += 4
        return v
    }

    mutating func take(_ n: Int) throws(ParquetError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw .corruptPage("\(n) bytes wanted, \(remaining) left in the page") }
        let out = UnsafeRawBufferPointer(rebasing: data[position..<position + n])
        position += n
        return out
    }

    var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: data[position...]) }
}

/// Decodes DELTA_BINARY_PACKED integers; returns the values and the bytes consumed.
func decodeDeltaBinaryPacked(_ data: UnsafeRawBufferPointer, maxCount: Int) throws(ParquetError) -> (values: [Int64], consumed: Int) {
    var c = ByteCursor(data)
    let blockSize = try c.readVarint()
    let miniblocks = try c.readVarint()
    let total = try c.readVarint()
    var last = try c.readZigZag()
    guard blockSize > 0, blockSize % 128 == 0, blockSize <= 1 << 20 else { throw .corruptPage("delta block size \(blockSize)") }
    guard miniblocks > 0, blockSize % miniblocks == 0, (blockSize / miniblocks) % 32 == 0 else {
        throw .corruptPage("delta block of \(blockSize) values in \(miniblocks) miniblocks")
    }
    guard total <= UInt64(maxCount) else { throw .corruptPage("delta header claims \(total) values, at most \(maxCount) expected") }
    let count = Int(total)
    let perMini = Int(blockSize / miniblocks)
    var out: [Int64] = []
    out.reserveCapacity(count)
    if count > 0 { out.append(last) }
    var widths = [UInt8](repeating: 0, count: Int(miniblocks))
    while out.count < count {
        let minDelta = try c.readZigZag()
        let w = try c.take(Int(miniblocks))
        for k in 0..<widths.count { widths[k] = w[k] }
        for k in 0..<widths.count where out.count < count {
            let width = Int(widths[k])
            guard width <= 64 else { throw .corruptPage("delta miniblock bit width \(width)") }
            let bytes = try c.take(perMini * width / 8)
            let n = min(perMini, count - out.count)
            var bit = 0
            for _ in 0..<n {
                var v: UInt64 = 0
                if width > 0 {
                    // Gather `width` bits starting at `bit`, LSB first, across up to 9 bytes.
                    var got = 0
                    var b = bit
                    while got < width {
                        let byte = UInt64(bytes[b >> 3]) >> UInt64(b & 7)
                        let take = min(8 - (b & 7), width - got)
                        v |= (byte & ((1 << UInt64(take)) - 1)) << UInt64(got)
                        got += take
                        b += take
                    }
                    bit += width
                }
                last = last &+ minDelta &+ Int64(bitPattern: v)
                out.append(last)
            }
        }
    }
    return (out, c.position)
}

/// Appends page values to a dense column and spreads them over null rows.
protocol ColumnBuilder: AnyObject {
    /// Values appended so far (slots, including nulls already spread).
    var count: Int { get }
    /// Decodes a dictionary page's PLAIN values.
    func setDictionary(_ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError)
    /// Appends `count` values of the given encoding.
    func append(encoding: Int32, _ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError)
    /// Turns the last `nonNull` values into `present.count` slots, zero where `present` is false.
    func spread(nonNull: Int, present: UnsafeBufferPointer<Bool>)
    /// The finished column.
    func finish() -> ParquetValues
}

/// The decoder's builders by concrete type: calls through it are statically dispatched, so
/// the generic `FixedBuilder` is specialised instead of running through value witnesses.
enum AnyColumnBuilder {
    case boolean(BooleanBuilder)
    case int32(FixedBuilder<Int32>)
    case int64(FixedBuilder<Int64>)
    case float(FixedBuilder<Float>)
    case double(FixedBuilder<Double>)
    case byteArray(ByteArrayBuilder)

    var count: Int {
        switch self {
        case .boolean(let b): b.count
        case .int32(let b): b.count
        case .int64(let b): b.count
        case .float(let b): b.count
        case .double(let b): b.count
        case .byteArray(let b): b.count
        }
    }

    func setDictionary(_ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError) {
        switch self {
        case .boolean(let b): try b.setDictionary(data, count: count)
        case .int32(let b): try b.setDictionary(data, count: count)
        case .int64(let b): try b.setDictionary(data, count: count)
        case .float(let b): try b.setDictionary(data, count: count)
        case .double(let b): try b.setDictionary(data, count: count)
        case .byteArray(let b): try b.setDictionary(data, count: count)
        }
    }

    func append(encoding: Int32, _ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError) {
        switch self {
        case .boolean(let b): try b.append(encoding: encoding, data, count: count)
        case .int32(let b): try b.append(encoding: encoding, data, count: count)
        case .int64(let b): try b.append(encoding: encoding, data, count: count)
        case .float(let b): try b.append(encoding: encoding, data, count: count)
        case .double(let b): try b.append(encoding: encoding, data, count: count)
        case .byteArray(let b): try b.append(encoding: encoding, data, count: count)
        }
    }

    func spread(nonNull: Int, present: UnsafeBufferPointer<Bool>) {
        switch self {
        case .boolean(let b): b.spread(nonNull: nonNull, present: present)
        case .int32(let b): b.spread(nonNull: nonNull, present: present)
        case .int64(let b): b.spread(nonNull: nonNull, present: present)
        case .float(let b): b.spread(nonNull: nonNull, present: present)
        case .double(let b): b.spread(nonNull: nonNull, present: present)
        case .byteArray(let b): b.spread(nonNull: nonNull, present: present)
        }
    }

    func finish() -> ParquetValues {
        switch self {
        case .boolean(let b): b.finish()
        case .int32(let b): b.finish()
        case .int64(let b): b.finish()
        case .float(let b): b.finish()
        case .double(let b): b.finish()
        case .byteArray(let b): b.finish()
        }
    }
}

private func encodingError(_ encoding: Int32, _ type: String) -> ParquetError {
    .unsupported("\(EncodingID.name(encoding)) encoding for \(type) values")
}

/// Reads RLE_DICTIONARY / PLAIN_DICTIONARY indices and checks them against the dictionary size.
private func decodeIndices(_ data: UnsafeRawBufferPointer, count: Int, dictionaryCount: Int?, into indices: inout [UInt32]) throws(ParquetError) {
    guard let dictionaryCount else { throw .corruptPage("dictionary-encoded page without a dictionary page") }
    guard count > 0 else { return }
    guard data.count >= 1 else { throw .corruptPage("dictionary-encoded page without a bit width") }
    let width = Int(data[0])
    var decoder = try RLEDecoder(UnsafeRawBufferPointer(rebasing: data[1...]), bitWidth: width)
    if indices.count < count { indices = Array(repeating: 0, count: count) }
    try indices.withUnsafeMutableBufferPointer { (p) throws(ParquetError) in try decoder.decode(into: p.baseAddress!, count: count) }
    var bad = false
    let limit = UInt32(truncatingIfNeeded: dictionaryCount)
    indices.withUnsafeBufferPointer { p in
        for i in 0..<count where p[i] >= limit { bad = true }
    }
    if bad { throw .corruptPage("dictionary index out of range (dictionary has \(dictionaryCount) entries)") }
}

final class FixedBuilder<T: ParquetFixedValue>: ColumnBuilder {
    private(set) var values: [T] = []
    private var dictionary: [T]?
    private var indices: [UInt32] = []
    private let typeName: String
    private let zero: T

    init(capacity: Int, typeName: String, zero: T) {
        values.reserveCapacity(capacity)
        self.typeName = typeName
        self.zero = zero
    }

    var count: Int { values.count }

    func setDictionary(_ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError) {
        let size = MemoryLayout<T>.size
        guard count >= 0, count <= data.count / size else { throw .corruptPage("dictionary of \(count) \(typeName) values in \(data.count) bytes") }
        dictionary = (0..<count).map { data.loadUnaligned(fromByteOffset: $0 * size, as: T.self) }
    }

    func append(encoding: Int32, _ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError) {
        let size = MemoryLayout<T>.size
        switch encoding {
        case EncodingID.plain:
            guard count <= data.count / size else { throw .corruptPage("\(count) \(typeName) values need \(count * size) bytes, page has \(data.count)") }
            values.append(contentsOf: UnsafeBufferPointer(start: data.baseAddress?.assumingMemoryBound(to: T.self), count: count))
            if data.baseAddress == nil && count > 0 { throw .corruptPage("empty page data") }
        case EncodingID.plainDictionary, EncodingID.rleDictionary:
            try decodeIndices(data, count: count, dictionaryCount: dictionary?.count, into: &indices)
            guard let dictionary else { return }
            let base = values.count
            values.append(contentsOf: repeatElement(zero, count: count))
            dictionary.withUnsafeBufferPointer { d in
                indices.withUnsafeBufferPointer { ix in
                    values.withUnsafeMutableBufferPointer { out in
                        for i in 0..<count { out[base + i] = d[Int(ix[i])] }
                    }
                }
            }
        case EncodingID.deltaBinaryPacked where size == 4 || size == 8:
            guard T.self == Int32.self || T.self == Int64.self else { throw encodingError(encoding, typeName) }
            let (decoded, _) = try decodeDeltaBinaryPacked(data, maxCount: count)
            guard decoded.count == count else { throw .corruptPage("delta data has \(decoded.count) values, page expects \(count)") }
            for v in decoded {
                values.append(T(parquetBits: T.Bits(truncatingIfNeeded: UInt64(bitPattern: v))))
            }
        case EncodingID.byteStreamSplit:
            guard count <= data.count / size else { throw .corruptPage("BYTE_STREAM_SPLIT page too short for \(count) values") }
            let streams = data.count / size
            for i in 0..<count {
                var bits: UInt64 = 0
                for k in 0..<size { bits |= UInt64(data[k * streams + i]) << UInt64(8 * k) }
                values.append(T(parquetBits: T.Bits(truncatingIfNeeded: bits)))
            }
        default:
            throw encodingError(encoding, typeName)
        }
    }

    func spread(nonNull: Int, present: UnsafeBufferPointer<Bool>) {
        let n = present.count
        let base = values.count - nonNull
        values.append(contentsOf: repeatElement(zero, count: n - nonNull))
        values.withUnsafeMutableBufferPointer { v in
            var j = base + nonNull - 1
            for i in stride(from: n - 1, through: 0, by: -1) {
                if present[i] {
                    v[base + i] = v[j]
                    j -= 1
                } else {
                    v[base + i] = zero
                }
            }
        }
    }

    func finish() -> ParquetValues { T.wrap(values) }
}

final class BooleanBuilder: ColumnBuilder {
    private(set) var values: [Bool] = []

    init(capacity: Int) { values.reserveCapacity(capacity) }

    var count: Int { values.count }

    func setDictionary(_ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError) {
        throw .corruptPage("a dictionary page for a BOOLEAN column")
    }

    func append(encoding: Int32, _ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError) {
        switch encoding {
        case EncodingID.plain:
            guard count <= data.count * 8 else { throw .corruptPage("\(count) booleans need \((count + 7) / 8) bytes, page has \(data.count)") }
            for i in 0..<count { values.append(data[i >> 3] & (1 << UInt8(i & 7)) != 0) }
        case EncodingID.rle:
            var c = ByteCursor(data)
            let len = Int(try c.readUInt32())
            var decoder = try RLEDecoder(try c.take(len), bitWidth: 1)
            var tmp = [UInt8](repeating: 0, count: count)
            try tmp.withUnsafeMutableBufferPointer { (p) throws(ParquetError) in try decoder.decode(into: p.baseAddress!, count: count) }
            for b in tmp { values.append(b != 0) }
        default:
            throw encodingError(encoding, "BOOLEAN")
        }
    }

    func spread(nonNull: Int, present: UnsafeBufferPointer<Bool>) {
        let n = present.count
        let base = values.count - nonNull
        values.append(contentsOf: repeatElement(false, count: n - nonNull))
        var j = base + nonNull - 1
        for i in stride(from: n - 1, through: 0, by: -1) {
            if present[i] {
                values[base + i] = values[j]
                j -= 1
            } else {
                values[base + i] = false
            }
        }
    }

    func finish() -> ParquetValues { .boolean(values) }
}

/// BYTE_ARRAY, and FIXED_LEN_BYTE_ARRAY / INT96 when `fixedLength` is set.
final class ByteArrayBuilder: ColumnBuilder {
    private(set) var bytes: [UInt8] = []
    private(set) var offsets: [Int32] = [0]
    private var dictBytes: [UInt8] = []
    private var dictOffsets: [Int32]?
    private var indices: [UInt32] = []
    private let fixedLength: Int?

    init(capacity: Int, fixedLength: Int?) {
        offsets.reserveCapacity(capacity + 1)
        self.fixedLength = fixedLength
    }

    var count: Int { offsets.count - 1 }

    private var typeName: String { fixedLength == nil ? "BYTE_ARRAY" : "FIXED_LEN_BYTE_ARRAY" }

    /// Appends PLAIN values to `bytes`/`offsets`; returns bytes consumed.
    private static func appendPlain(
        _ data: UnsafeRawBufferPointer, count: Int, fixedLength: Int?, bytes: inout [UInt8], offsets: inout [Int32]
    ) throws(ParquetError) {
        var c = ByteCursor(data)
        if let n = fixedLength {
            guard n == 0 || count <= data.count / n else { throw .corruptPage("\(count) values of \(n) bytes do not fit \(data.count) bytes") }
            let start = bytes.count
            bytes.append(contentsOf: try c.take(n * count))
            guard bytes.count <= Int(Int32.max) else { throw .unsupported("a byte-array column chunk above 2 GiB") }
            for k in stride(from: 1, through: count, by: 1) { offsets.append(Int32(truncatingIfNeeded: start + k * n)) }
        } else {
            // First pass: validate the lengths and size the output; second: copy.
            var total = 0
            for _ in 0..<count {
                let len = Int(try c.readUInt32())
                _ = try c.take(len)
                total += len
            }
            guard bytes.count + total <= Int(Int32.max) else { throw .unsupported("a byte-array column chunk above 2 GiB") }
            var b = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: total))
            offsets.reserveCapacity(offsets.count + count)
            let src = data.baseAddress!
            bytes.withUnsafeMutableBufferPointer { out in
                var p = 0
                for _ in 0..<count {
                    let len = Int(src.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian)
                    if len > 0 { (out.baseAddress! + b).update(from: (src + p + 4).assumingMemoryBound(to: UInt8.self), count: len) }
                    p += 4 + len
                    b += len
                    offsets.append(Int32(truncatingIfNeeded: b))
                }
            }
        }
        guard bytes.count <= Int(Int32.max) else { throw .unsupported("a byte-array column chunk above 2 GiB") }
    }

    func setDictionary(_ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError) {
        guard count >= 0, count <= data.count * 8 + 1 else { throw .corruptPage("dictionary of \(count) values in \(data.count) bytes") }
        var b: [UInt8] = []
        var o: [Int32] = [0]
        try Self.appendPlain(data, count: count, fixedLength: fixedLength, bytes: &b, offsets: &o)
        // Padding for the 8-byte-at-a-time copy in dictionary decoding.
        b.append(contentsOf: repeatElement(0, count: 8))
        dictBytes = b
        dictOffsets = o
    }

    func append(encoding: Int32, _ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError) {
        switch encoding {
        case EncodingID.plain:
            try Self.appendPlain(data, count: count, fixedLength: fixedLength, bytes: &bytes, offsets: &offsets)
        case EncodingID.plainDictionary, EncodingID.rleDictionary:
            try decodeIndices(data, count: count, dictionaryCount: dictOffsets.map { $0.count - 1 }, into: &indices)
            guard let dictOffsets else { return }
            var total = bytes.count
            indices.withUnsafeBufferPointer { ix in
                dictOffsets.withUnsafeBufferPointer { o in
                    for i in 0..<count { total += Int(o[Int(ix[i]) + 1] - o[Int(ix[i])]) }
                }
            }
            guard total <= Int(Int32.max) else { throw .unsupported("a byte-array column chunk above 2 GiB") }
            // Values are copied 8 bytes at a time, over-reading the (padded) dictionary and
            // over-writing up to 8 bytes past each value, which the next value or the final
            // trim replaces.
            var b = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: total - b + 8))
            offsets.reserveCapacity(offsets.count + count)
            let dictionaryBytes = dictBytes
            dictionaryBytes.withUnsafeBufferPointer { d in
                indices.withUnsafeBufferPointer { ix in
                    dictOffsets.withUnsafeBufferPointer { o in
                        bytes.withUnsafeMutableBufferPointer { out in
                            let dst = UnsafeMutableRawPointer(out.baseAddress!)
                            let src = UnsafeRawPointer(d.baseAddress!)
                            for i in 0..<count {
                                let k = Int(ix[i])
                                let s = Int(o[k]), n = Int(o[k + 1]) - s
                                var j = 0
                                repeat {
                                    dst.storeBytes(of: src.loadUnaligned(fromByteOffset: s + j, as: UInt64.self), toByteOffset: b + j, as: UInt64.self)
                                    j += 8
                                } while j < n
                                b += n
                                offsets.append(Int32(truncatingIfNeeded: b))
                            }
                        }
                    }
                }
            }
            bytes.removeLast(8)
        case EncodingID.deltaLengthByteArray where fixedLength == nil:
            let (lengths, consumed) = try decodeDeltaBinaryPacked(data, maxCount: count)
            guard lengths.count == count else { throw .corruptPage("delta lengths cover \(lengths.count) values, page expects \(count)") }
            var c = ByteCursor(data)
            c.position = consumed
            for len in lengths {
                guard len >= 0, len <= Int64(c.remaining) else { throw .corruptPage("delta length \(len) out of range") }
                bytes.append(contentsOf: try c.take(Int(len)))
                offsets.append(Int32(truncatingIfNeeded: bytes.count))
            }
        case EncodingID.deltaByteArray:
            let (prefixes, consumed) = try decodeDeltaBinaryPacked(data, maxCount: count)
            guard prefixes.count == count else { throw .corruptPage("delta prefixes cover \(prefixes.count) values, page expects \(count)") }
            let rest = UnsafeRawBufferPointer(rebasing: data[consumed...])
            let (lengths, consumed2) = try decodeDeltaBinaryPacked(rest, maxCount: count)
            guard lengths.count == count else { throw .corruptPage("delta suffix lengths cover \(lengths.count) values, page expects \(count)") }
            var c = ByteCursor(rest)
            c.position = consumed2
            var previous: [UInt8] = []
            for i in 0..<count {
                let p = prefixes[i], len = lengths[i]
                guard p >= 0, p <= Int64(previous.count), len >= 0, len <= Int64(c.remaining) else {
                    throw .corruptPage("delta byte array prefix \(p) / suffix \(len) out of range")
                }
                var value = Array(previous[0..<Int(p)])
                value.append(contentsOf: try c.take(Int(len)))
                bytes.append(contentsOf: value)
                offsets.append(Int32(truncatingIfNeeded: bytes.count))
                previous = value
            }
        case EncodingID.byteStreamSplit where fixedLength != nil:
            let n = fixedLength!
            guard n > 0, count <= data.count / n else { throw .corruptPage("BYTE_STREAM_SPLIT page too short for \(count) values") }
            let streams = data.count / n
            for i in 0..<count {
                for k in 0..<n { bytes.append(data[k * streams + i]) }
                offsets.append(Int32(truncatingIfNeeded: bytes.count))
            }
        default:
            throw encodingError(encoding, typeName)
        }
        guard bytes.count <= Int(Int32.max) else { throw .unsupported("a byte-array column chunk above 2 GiB") }
    }

    func spread(nonNull: Int, present: UnsafeBufferPointer<Bool>) {
        let n = present.count
        let base = offsets.count - 1 - nonNull
        offsets.append(contentsOf: repeatElement(0, count: n - nonNull))
        offsets.withUnsafeMutableBufferPointer { o in
            // o[base] is the start of the page's first value; slot i ends at o[base + i + 1].
            var j = base + nonNull
            for i in stride(from: n - 1, through: 0, by: -1) {
                if present[i] {
                    o[base + i + 1] = o[j]
                    j -= 1
                } else {
                    o[base + i + 1] = o[j]
                }
            }
        }
    }

    func finish() -> ParquetValues { .byteArray(bytes: bytes, offsets: offsets) }
}
