import Foundation
import LogpipeBus
import LogpipeTesting
import Testing

@Suite struct KafkaPartitionerTests {
    /// Expected values from Kafka's own `UtilsTest.testMurmur2` and, for the short
    /// digit strings, the values other Kafka clients test against.
    @Test(arguments: [
        ("21", Int32(-973_932_308)),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
        ("1", -1_993_445_489),
        ("12", 126_087_238),
        ("123", -267_702_483),
        ("1234", -1_614_185_708),
        ("12345", -1_188_365_604),
    ])
    func murmur2MatchesKafka(_ input: String, _ expected: Int32) {
        #expect(KafkaPartitioner.murmur2(Array(input.utf8)) == expected)
    }

    @Test func partitionIsPositiveHashModuloCount() {
        // murmur2("21") is negative: the sign bit is cleared, not the absolute value taken.
        let h = Int32(-973_932_308)
        #expect(KafkaPartitioner.partition(key: "21", partitions: 3) == (h & 0x7fff_ffff) % 3)
        // 2^31 - 973932308 = 1173551340, divisible by 3 and by 5.
        #expect(KafkaPartitioner.partition(key: "21", partitions: 3) == 0)
        #expect(KafkaPartitioner.partition(key: "21", partitions: 5) == 0)
        #expect(KafkaPartitioner.partition(key: "21", partitions: 7) == Int32(1_173_551_340 % 7))
        #expect(KafkaPartitioner.partition(key: "foobar", partitions: 7) == (Int32(-790_332_482) & 0x7fff_ffff) % 7)
        #expect(KafkaPartitioner.partition(key: "abc", partitions: 1) == 0)
        #expect(KafkaPartitioner.murmur2([]) == KafkaPartitioner.murmur2([UInt8]()))
    }
}

@Suite struct CRC32CTests {
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    @Test func incrementalAndUnalignedAgreeWithWhole() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }
        let whole = CRC32C.checksum(data)
        for split in [0, 1, 3, 8, 9, 500, 999, 1000] {
            let crc = data.withUnsafeBytes { raw in
                CRC32C.update(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<split])),
                              UnsafeRawBufferPointer(rebasing: raw[split...]))
            }
            #expect(crc == whole, "split at \(split)")
        }
        // A bitwise reference for unaligned starts and odd lengths.
        for start in 0..<9 {
            let slice = Array(data[start..<(start + 101)])
            var c: UInt32 = 0xFFFF_FFFF
            for b in slice {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            }
            #expect(CRC32C.checksum(slice) == ~c)
        }
    }

    /// The CPU instruction and the tables give the same checksums for every length
    /// (the 8-byte loop and its 0–7 byte head and tail), alignment and running CRC.
    @Test func instructionAgreesWithTables() throws {
        #if arch(x86_64) && os(Linux)
        let cpu = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        #expect(CRC32C.usesHardware == cpu.contains(" sse4_2"), "SSE4.2 is on this CPU, so the bus must use it")
        #endif
        var rng = SplitMix(seed: 0x5EED)
        let data = (0..<70_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var checked = 0
        data.withUnsafeBytes { raw in
            for length in Array(0..<80) + [255, 4096, 33_001, 65_536] {
                for start in 0..<9 {
                    let piece = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                    let seed = UInt32(truncatingIfNeeded: rng.next())
                    #expect(CRC32C.update(seed, piece) == CRC32C.tableUpdate(seed, piece), "length \(length) at \(start)")
                    checked += 1
                }
            }
        }
        #expect(checked == 84 * 9)
    }
}

