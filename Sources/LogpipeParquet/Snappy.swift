// Snappy raw format (https://github.com/google/snappy/blob/main/format_description.txt),
// compressor modelled on the reference's hash-table matcher: 64 KiB fragments, a table of
// 16-bit positions keyed by a multiplicative hash of 4 bytes, and a skip that grows while no
// match is found so incompressible data passes quickly.

enum Snappy {
    private static let blockSize = 1 << 16
    private static let maxTableSize = 1 << 14
    private static let inputMargin = 15

    /// An upper bound on the compressed size of `n` input bytes.
    static func maxCompressedLength(_ n: Int) -> Int { 32 + n + n / 6 }

    /// Compresses `input` into `out`, which must hold `maxCompressedLength(input.count)` bytes;
    /// returns the number of bytes written.
    static func compress(_ input: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var op = out
        var n = UInt64(input.count)
        while n >= 0x80 {
            op.pointee = UInt8(truncatingIfNeeded: n) | 0x80
            op += 1
            n >>= 7
        }
        op.pointee = UInt8(n)
        op += 1
        guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count > 0 else { return op - out }
        let table = UnsafeMutablePointer<UInt16>.allocate(capacity: maxTableSize)
        defer { table.deallocate() }
        var start = 0
        while start < input.count {
            let len = min(blockSize, input.count - start)
            var tableSize = 256
            while tableSize < maxTableSize && tableSize < len { tableSize <<= 1 }
            table.update(repeating: 0, count: tableSize)
            op = compressFragment(base + start, len, op, table, tableSize)
            start += len
        }
        return op - out
    }

    /// Compresses `input` into a new array.
    static func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: maxCompressedLength(input.count)) { buf, count in
            count = compress(input, into: buf.baseAddress!)
        }
    }

    @inline(__always)
    private static func load32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UnsafeRawPointer(p).loadUnaligned(as: UInt32.self).littleEndian
    }

    @inline(__always)
    private static func load64(_ p: UnsafePointer<UInt8>) -> UInt64 {
        UnsafeRawPointer(p).loadUnaligned(as: UInt64.self).littleEndian
    }

    @inline(__always)
    private static func hash(_ v: UInt32, _ shift: UInt32) -> Int {
        Int((v &* 0x1E35_A7BD) >> shift)
    }

    private static func compressFragment(
        _ input: UnsafePointer<UInt8>, _ len: Int, _ output: UnsafeMutablePointer<UInt8>,
        _ table: UnsafeMutablePointer<UInt16>, _ tableSize: Int
    ) -> UnsafeMutablePointer<UInt8> {
        var op = output
        let shift = UInt32(32 - (tableSize.trailingZeroBitCount))
        let ipEnd = len
        var nextEmit = 0
        if len >= inputMargin {
            let ipLimit = len - inputMargin
            var ip = 1
            var nextHash = hash(load32(input + ip), shift)
            outer: while true {
                var skip: UInt32 = 32
                var nextIP = ip
                var candidate = 0
                repeat {
                    ip = nextIP
                    let h = nextHash
                    let bytesBetween = Int(skip >> 5)
                    skip &+= 1
                    nextIP = ip &+ bytesBetween
                    if nextIP > ipLimit { break outer }
                    nextHash = hash(load32(input + nextIP), shift)
                    candidate = Int(table[h])
                    table[h] = UInt16(truncatingIfNeeded: ip)
                } while load32(input + ip) != load32(input + candidate)

                op = emitLiteral(op, input + nextEmit, ip - nextEmit)

                var inputBytes: UInt64 = 0
                var candidateBytes: UInt32 = 0
                repeat {
                    let matchBase = ip
                    let matched = 4 + matchLength(input + candidate + 4, input + ip + 4, input + ipEnd)
                    ip += matched
                    op = emitCopy(op, offset: matchBase - candidate, length: matched)
                    nextEmit = ip
                    if ip >= ipLimit { break outer }
                    inputBytes = load64(input + ip - 1)
                    let prevHash = hash(UInt32(truncatingIfNeeded: inputBytes), shift)
                    table[prevHash] = UInt16(truncatingIfNeeded: ip - 1)
                    let curHash = hash(UInt32(truncatingIfNeeded: inputBytes >> 8), shift)
                    candidate = Int(table[curHash])
                    candidateBytes = load32(input + candidate)
                    table[curHash] = UInt16(truncatingIfNeeded: ip)
                } while UInt32(truncatingIfNeeded: inputBytes >> 8) == candidateBytes
                nextHash = hash(UInt32(truncatingIfNeeded: inputBytes >> 16), shift)
                ip += 1
            }
        }
        if nextEmit < ipEnd {
            op = emitLiteral(op, input + nextEmit, ipEnd - nextEmit)
        }
        return op
    }

    @inline(__always)
    private static func matchLength(_ s1: UnsafePointer<UInt8>, _ s2: UnsafePointer<UInt8>, _ s2Limit: UnsafePointer<UInt8>) -> Int {
        var matched = 0
        while s2 + matched + 8 <= s2Limit {
            let x = load64(s2 + matched) ^ load64(s1 + matched)
            if x != 0 { return matched + x.trailingZeroBitCount >> 3 }
            matched += 8
        }
        while s2 + matched < s2Limit && s1[matched] == s2[matched] { matched += 1 }
        return matched
    }

    @inline(__always)
    private static func emitLiteral(_ out: UnsafeMutablePointer<UInt8>, _ literal: UnsafePointer<UInt8>, _ len: Int) -> UnsafeMutablePointer<UInt8> {
        var op = out
        let n = len - 1
        if n < 60 {
            op.pointee = UInt8(n << 2)
            op += 1
        } else {
            var count = 0
            var v = n
            while v > 0 {
                count += 1
                v >>= 8
            }
            op.pointee = UInt8((59 + count) << 2)
            op += 1
            v = n
            for _ in 0..<count {
                op.pointee = UInt8(truncatingIfNeeded: v)
                op += 1
                v >>= 8
            }
        }
        op.update(from: literal, count: len)
        return op + len
    }

    @inline(__always)
    private static func emitCopyAtMost64(_ out: UnsafeMutablePointer<UInt8>, offset: Int, length: Int) -> UnsafeMutablePointer<UInt8> {
        if length < 12 && offset < 2048 {
            out[0] = UInt8(1 | ((length - 4) << 2) | ((offset >> 8) << 5))
            out[1] = UInt8(truncatingIfNeeded: offset)
            return out + 2
        }
        out[0] = UInt8(2 | ((length - 1) << 2))
        out[1] = UInt8(truncatingIfNeeded: offset)
        out[2] = UInt8(truncatingIfNeeded: offset >> 8)
        return out + 3
    }

    @inline(__always)
    private static func emitCopy(_ out: UnsafeMutablePointer<UInt8>, offset: Int, length: Int) -> UnsafeMutablePointer<UInt8> {
        var op = out
        var len = length
        while len >= 68 {
            op = emitCopyAtMost64(op, offset: offset, length: 64)
            len -= 64
        }
        if len > 64 {
            op = emitCopyAtMost64(op, offset: offset, length: 60)
            len -= 60
        }
        return emitCopyAtMost64(op, offset: offset, length: len)
    }

    // MARK: - Decompression

    /// The uncompressed length the stream declares, and where the tags start.
    static func uncompressedLength(_ input: UnsafeRawBufferPointer) throws(ParquetError) -> (length: Int, headerSize: Int) {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = 0
        while true {
            guard i < input.count, i < 5 else { throw .corruptPage("snappy length header is truncated or too long") }
            let b = input[i]
            i += 1
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
        }
        guard result <= UInt64(UInt32.max) else { throw .corruptPage("snappy length \(result) out of range") }
        return (Int(result), i)
    }

    /// Decompresses `input` into `out`, which must be exactly the declared uncompressed length.
    /// Every tag is bounds-checked against both buffers.
    static func decompress(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(ParquetError) {
        let (length, header) = try uncompressedLength(input)
        guard length == out.count else {
            throw .corruptPage("snappy data declares \(length) bytes, page header says \(out.count)")
        }
        guard length > 0 else { return }
        guard let ib = input.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let ob = out.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { throw .corruptPage("snappy data is empty") }
        var ip = header
        let inEnd = input.count
        var op = 0
        while ip < inEnd {
            let tag = ib[ip]
            ip += 1
            switch tag & 3 {
            case 0:
                var len = Int(tag >> 2)
                if len >= 60 {
                    let extra = len - 59
                    guard inEnd - ip >= extra else { throw .corruptPage("snappy literal length is truncated") }
                    len = 0
                    for k in 0..<extra { len |= Int(ib[ip + k]) << (8 * k) }
                    ip += extra
                }
                len += 1
                guard inEnd - ip >= len, length - op >= len else { throw .corruptPage("snappy literal overruns its buffer") }
                (ob + op).update(from: ib + ip, count: len)
                ip += len
                op += len
            default:
                let len: Int
                let offset: Int
                switch tag & 3 {
                case 1:
                    guard ip < inEnd else { throw .corruptPage("snappy copy is truncated") }
                    len = Int((tag >> 2) & 7) + 4
                    offset = Int(tag >> 5) << 8 | Int(ib[ip])
                    ip += 1
                case 2:
                    guard inEnd - ip >= 2 else { throw .corruptPage("snappy copy is truncated") }
                    len = Int(tag >> 2) + 1
                    offset = Int(ib[ip]) | Int(ib[ip + 1]) << 8
                    ip += 2
                default:
                    guard inEnd - ip >= 4 else { throw .corruptPage("snappy copy is truncated") }
                    len = Int(tag >> 2) + 1
                    offset = Int(UnsafeRawPointer(ib + ip).loadUnaligned(as: UInt32.self).littleEndian)
                    ip += 4
                }
                guard offset > 0, offset <= op else { throw .corruptPage("snappy copy offset \(offset) points before the output") }
                guard length - op >= len else { throw .corruptPage("snappy copy overruns the declared length") }
                let src = ob + op - offset
                let dst = ob + op
                if offset >= len {
                    dst.update(from: src, count: len)
                } else {
                    for k in 0..<len { dst[k] = src[k] }
                }
                op += len
            }
        }
        guard op == length else { throw .corruptPage("snappy data decodes to \(op) bytes, expected \(length)") }
    }
}
