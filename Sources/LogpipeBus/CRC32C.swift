import CCRC32C

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Kafka,
/// ext4 and iSCSI use: with the CPU's CRC-32C instruction where it has one
/// (x86-64 SSE4.2, AArch64 CRC32; ~5× the table's rate here, and the bus
/// checksums every byte appended and fetched), else slicing-by-8: eight table
/// lookups per 8 bytes instead of one per byte.
public enum CRC32C {
    /// Whether `update` uses the CPU's instruction (checked once, at first use).
    public static let usesHardware = logpipe_crc32c_hardware_available() != 0

    /// Eight 256-entry tables; `tables[k][b]` is the CRC of byte `b` followed by `k` zero bytes.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            var c = t[i]
            for k in 1..<8 {
                c = t[Int(c & 0xFF)] ^ (c >> 8)
                t[k * 256 + i] = c
            }
        }
        return t
    }()

    /// The CRC-32C of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, bytes)
    }

    /// The CRC-32C of a byte array.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0) }
    }

    /// Extends a CRC-32C computed over earlier bytes with `bytes`, so a checksum
    /// can be computed over pieces: `update(checksum(a), b) == checksum(a + b)`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        if usesHardware { return logpipe_crc32c_hardware(crc, base, bytes.count) }
        return tableUpdate(crc, bytes)
    }

    /// `update` computed with the tables only: the fallback for CPUs without the
    /// instruction, and what tests check the instruction's results against.
    public static func tableUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return crc }
        var n = bytes.count
        var c = ~crc
        return tables.withUnsafeBufferPointer { tb in
            let t = tb.baseAddress!
            // Align to 8 bytes so the wide loads below are aligned.
            while n > 0 && (UInt(bitPattern: p) & 7) != 0 {
                c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                p += 1
                n -= 1
            }
            while n >= 8 {
                let word = UInt64(littleEndian: p.load(as: UInt64.self))
                let lo = UInt32(truncatingIfNeeded: word) ^ c
                let hi = UInt32(truncatingIfNeeded: word >> 32)
                c = t[7 * 256 + Int(lo & 0xFF)]
                    ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)]
                    ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)]
                    ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)]
                    ^ t[Int(hi >> 24)]
                p += 8
                n -= 8
            }
            while n > 0 {
                c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                p += 1
                n -= 1
            }
            return ~c
        }
    }
}
