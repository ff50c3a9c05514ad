/// The on-disk record batch, little-endian:
///
/// ```
///  0  magic           "LPB1"
///  4  length          UInt32, the whole batch, header included
///  8  baseOffset      Int64, offset of the first record
/// 16  crc             UInt32, CRC-32C of bytes [20, length)
/// 20  recordCount     Int32
/// 24  firstTimestamp  Int64, milliseconds since the epoch
/// 32  maxTimestamp    Int64
/// 40  records         per record: zigzag varint key length (-1 = no key), key,
///                     zigzag varint value length, value, zigzag varint timestamp delta
/// ```
///
/// As in Kafka, the base offset sits outside the CRC so a producer can encode
/// and checksum its batch before the bus assigns offsets under its lock; readers
/// and recovery check it instead against the offset the log expects next.
enum RecordBatch {
    /// "LPB1" read as a little-endian UInt32.
    static let magic: UInt32 = 0x3142_504C
    static let headerSize = 40
    static let crcStart = 20

    /// A parsed batch header.
    struct Header {
        var length: Int
        var baseOffset: Int64
        var crc: UInt32
        var recordCount: Int32
        var firstTimestamp: Int64
        var maxTimestamp: Int64

        /// The offset after this batch's last record.
        var nextOffset: Int64 { baseOffset + Int64(recordCount) }
    }

    /// Parses the header at the start of `bytes` (at least `headerSize` long),
    /// or describes why it is not a plausible header.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, expectedBase: Int64, maxLength: Int) -> Result<Header, HeaderProblem> {
        precondition(bytes.count >= headerSize)
        if UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) != magic {
            return .failure(.badMagic)
        }
        let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        if length < headerSize + 3 || length > maxLength { return .failure(.badLength(length)) }
        let header = Header(
            length: length,
            baseOffset: Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: Int64.self)),
            crc: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self)),
            recordCount: Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 20, as: Int32.self)),
            firstTimestamp: Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: Int64.self)),
            maxTimestamp: Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 32, as: Int64.self))
        )
        if header.baseOffset != expectedBase { return .failure(.unexpectedBaseOffset(header.baseOffset)) }
        // Every record takes at least three bytes, which bounds the count before the CRC is checked.
        if header.recordCount < 1 || Int(header.recordCount) * 3 > length - headerSize {
            return .failure(.badRecordCount(header.recordCount))
        }
        return .success(header)
    }

    /// Why bytes are not a valid batch.
    enum HeaderProblem: Error, CustomStringConvertible {
        case badMagic
        case badLength(Int)
        case unexpectedBaseOffset(Int64)
        case badRecordCount(Int32)
        case crcMismatch(stored: UInt32, computed: UInt32)
        case truncated(have: Int, need: Int)

        var description: String {
            switch self {
            case .badMagic: "bad magic"
            case .badLength(let n): "implausible batch length \(n)"
            case .unexpectedBaseOffset(let o): "unexpected base offset \(o)"
            case .badRecordCount(let n): "implausible record count \(n)"
            case .crcMismatch(let s, let c): "CRC mismatch (stored \(s), computed \(c))"
            case .truncated(let have, let need): "batch truncated (\(have) of \(need) bytes)"
            }
        }
    }

    /// Checks a whole batch's CRC; `bytes` starts at the batch and holds at least `header.length` bytes.
    static func verifyCRC(_ bytes: UnsafeRawBufferPointer, _ header: Header) -> HeaderProblem? {
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[crcStart..<header.length]))
        return computed == header.crc ? nil : .crcMismatch(stored: header.crc, computed: computed)
    }

    // MARK: Encoding

    /// Encodes the entries of `batch` at `indices` as one batch with base offset 0
    /// (the bus patches it in) and a CRC over everything after the CRC field.
    static func encode(_ batch: ProduceBatch, indices: [Int], timestampMillis: Int64) -> [UInt8] {
        let size = encodedSize(batch, indices: indices)
        return [UInt8](unsafeUninitializedCapacity: size) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            batch.buffer.withUnsafeBytes { src in
                var p = headerSize
                for i in indices {
                    let e = batch.entries[i]
                    if let key = e.key {
                        p = writeVarint(zigzag(Int64(key.count)), raw, p)
                        copy(src, key, raw, &p)
                    } else {
                        p = writeVarint(zigzag(-1), raw, p)
                    }
                    p = writeVarint(zigzag(Int64(e.value.count)), raw, p)
                    copy(src, e.value, raw, &p)
                    raw[p] = 0
                    p += 1
                }
                precondition(p == size)
            }
            raw.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: UInt32(size).littleEndian, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: Int64(0).littleEndian, toByteOffset: 8, as: Int64.self)
            raw.storeBytes(of: Int32(indices.count).littleEndian, toByteOffset: 20, as: Int32.self)
            raw.storeBytes(of: timestampMillis.littleEndian, toByteOffset: 24, as: Int64.self)
            raw.storeBytes(of: timestampMillis.littleEndian, toByteOffset: 32, as: Int64.self)
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[crcStart..<size]))
            raw.storeBytes(of: crc.littleEndian, toByteOffset: 16, as: UInt32.self)
            initialized = size
        }
    }

    /// The encoded size of `batch`'s entries at `indices`, without encoding them.
    static func encodedSize(_ batch: ProduceBatch, indices: [Int]) -> Int {
        var size = headerSize
        for i in indices {
            let e = batch.entries[i]
            let keyLength = e.key.map { Int($0.count) } ?? -1
            size += varintSize(zigzag(Int64(keyLength))) + max(keyLength, 0)
            // The trailing byte is the timestamp delta, 0: one produce call shares one append time.
            size += varintSize(zigzag(Int64(e.value.count))) + e.value.count + 1
        }
        return size
    }

    /// Writes `base` into the base-offset field of the batch starting at `position`.
    static func patchBaseOffset(_ buffer: inout [UInt8], at position: Int, _ base: Int64) {
        buffer.withUnsafeMutableBytes { $0.storeBytes(of: base.littleEndian, toByteOffset: position + 8, as: Int64.self) }
    }

    private static func copy(_ src: UnsafeRawBufferPointer, _ range: Range<Int32>, _ dst: UnsafeMutableRawBufferPointer, _ p: inout Int) {
        let n = range.count
        if n > 0 {
            (dst.baseAddress! + p).copyMemory(from: src.baseAddress! + Int(range.lowerBound), byteCount: n)
        }
        p += n
    }

    // MARK: Decoding

    /// Appends the records of a CRC-checked batch with offsets at or above
    /// `from` to `buffer`/`records`, stopping before the record that would take
    /// the key and value bytes past `maxBytes` unless nothing was taken yet.
    /// Returns false when it stopped early for `maxBytes`.
    static func decode(
        _ bytes: UnsafeRawBufferPointer, _ header: Header, from: Int64, maxBytes: Int,
        buffer: inout [UInt8], records: inout [FetchedBatch.Record], bytesTaken: inout Int
    ) throws(HeaderProblem) -> Bool {
        var p = headerSize
        let end = header.length
        for i in 0..<Int(header.recordCount) {
            guard let keyLength = readVarint(bytes, &p, end).map(unzigzag), keyLength >= -1,
                  keyLength <= end - p
            else { throw .badRecordCount(header.recordCount) }
            let keyStart = p
            p += max(Int(keyLength), 0)
            guard let valueLength = readVarint(bytes, &p, end).map(unzigzag), valueLength >= 0,
                  valueLength <= end - p
            else { throw .badRecordCount(header.recordCount) }
            let valueStart = p
            p += Int(valueLength)
            guard let delta = readVarint(bytes, &p, end).map(unzigzag) else { throw .badRecordCount(header.recordCount) }
            let offset = header.baseOffset + Int64(i)
            if offset < from { continue }
            let size = max(Int(keyLength), 0) + Int(valueLength)
            if bytesTaken > 0 && bytesTaken + size > maxBytes { return false }
            bytesTaken += size
            var keyRange: Range<Int32>? = nil
            if keyLength >= 0 {
                let k = Int32(buffer.count)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[keyStart..<keyStart + Int(keyLength)]))
                keyRange = k..<Int32(buffer.count)
            }
            let v = Int32(buffer.count)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueStart + Int(valueLength)]))
            records.append(FetchedBatch.Record(
                offset: offset, timestampMillis: header.firstTimestamp &+ delta,
                key: keyRange, value: v..<Int32(buffer.count)))
        }
        if p != end { throw .badLength(header.length) }
        return true
    }

    // MARK: Varints (Kafka's zigzag encoding)

    @inline(__always) static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    @inline(__always) static func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

    @inline(__always) static func varintSize(_ v: UInt64) -> Int {
        var n = 1
        var x = v >> 7
        while x != 0 { n += 1; x >>= 7 }
        return n
    }

    @inline(__always) static func writeVarint(_ v: UInt64, _ out: UnsafeMutableRawBufferPointer, _ p: Int) -> Int {
        var x = v
        var p = p
        while x >= 0x80 {
            out[p] = UInt8(truncatingIfNeeded: x) | 0x80
            x >>= 7
            p += 1
        }
        out[p] = UInt8(x)
        return p + 1
    }

    /// Reads a varint of at most 10 bytes ending before `end`; nil when malformed.
    @inline(__always) static func readVarint(_ bytes: UnsafeRawBufferPointer, _ p: inout Int, _ end: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while p < end && shift < 64 {
            let b = bytes[p]
            p += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
        return nil
    }
}
