/// Kafka's default partitioner for keyed records, so a key lands on the same
/// partition number on the local bus and on a Kafka cluster with the same
/// partition count.
public enum KafkaPartitioner {
    /// Kafka's `Utils.murmur2`: MurmurHash2, 32-bit, seed `0x9747b28c`, read
    /// little-endian four bytes at a time, returned as Java's signed `int`.
    public static func murmur2(_ data: UnsafeRawBufferPointer) -> Int32 {
        let m: UInt32 = 0x5bd1_e995
        let length = data.count
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        let words = length / 4
        for i in 0..<words {
            var k = UInt32(littleEndian: data.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
            k = k &* m
            k ^= k >> 24
            k = k &* m
            h = h &* m
            h ^= k
        }
        let tail = length & ~3
        switch length & 3 {
        case 3:
            h ^= UInt32(data[tail + 2]) << 16
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 2:
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 1:
            h ^= UInt32(data[tail])
            h = h &* m
        default:
            break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// Kafka's `Utils.murmur2` of a byte array.
    public static func murmur2(_ data: [UInt8]) -> Int32 {
        data.withUnsafeBytes { murmur2($0) }
    }

    /// The partition of a keyed record: `toPositive(murmur2(key)) % partitions`,
    /// where `toPositive` clears the sign bit, as Kafka's `BuiltInPartitioner` does.
    public static func partition(key: UnsafeRawBufferPointer, partitions: Int32) -> Int32 {
        precondition(partitions > 0, "a topic has at least one partition")
        return (murmur2(key) & 0x7fff_ffff) % partitions
    }

    /// The partition of a keyed record whose key is a byte array.
    public static func partition(key: [UInt8], partitions: Int32) -> Int32 {
        key.withUnsafeBytes { partition(key: $0, partitions: partitions) }
    }

    /// The partition of a keyed record whose key is a string (its UTF-8 bytes).
    public static func partition(key: String, partitions: Int32) -> Int32 {
        partition(key: Array(key.utf8), partitions: partitions)
    }
}
