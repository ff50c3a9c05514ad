@testable import LogpipeParquet
import LogpipeTesting
import Testing

@Suite("Snappy, RLE and Thrift building blocks")
struct CodecTests {
    private func inputs() -> [(String, [UInt8])] {
        var rng = SplitMix(seed: 5)
        let random = (0..<200_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let text = Array(String(repeating: "GET /api/users 200 45.2ms user_12345\n", count: 5000).utf8)
        return [
            ("empty", []), ("one byte", [7]), ("fifteen bytes", Array(0..<15)),
            ("zeros past several 64 KiB blocks", Array(repeating: 0, count: 300_000)),
            ("random", random), ("text", text),
            ("mixed", Array(random.prefix(70_000)) + text + Array(random.suffix(1000)) + Array(repeating: 9, count: 100)),
        ]
    }

    @Test("snappy round-trips edge-case inputs and compresses what repeats")
    func snappyRoundTrip() throws {
        for (name, input) in inputs() {
            let compressed = input.withUnsafeBytes { Snappy.compress($0) }
            #expect(compressed.count <= Snappy.maxCompressedLength(input.count), "\(name)")
            let output = try compressed.withUnsafeBytes { c in
                try decompressPage(codec: 1, c, uncompressedSize: input.count)
            }
            #expect(output == input, "\(name)")
        }
        let zeros = [UInt8](repeating: 0, count: 300_000).withUnsafeBytes { Snappy.compress($0) }
        #expect(zeros.count < 16_000)
    }

    @Test("snappy rejects streams whose declared length or copies do not fit")
    func snappyCorrupt() {
        let good = Array(String(repeating: "abcdefgh", count: 100).utf8).withUnsafeBytes { Snappy.compress($0) }
        var wrongLength = good
        wrongLength[0] ^= 1
        for bad in [wrongLength, Array(good.prefix(good.count - 3)), [0x05, 0x01, 0x00], [0x0A, 0xFE, 0xFF, 0xFF]] {
            #expect(throws: ParquetError.self) {
                try bad.withUnsafeBytes { c in _ = try decompressPage(codec: 1, c, uncompressedSize: 800) }
            }
        }
    }

    @Test("RLE / bit-packing hybrid round-trips runs, literals and every bit width")
    func rleRoundTrip() throws {
        var rng = SplitMix(seed: 8)
        for width in 0...20 {
            let maxValue = width == 0 ? 0 : (1 << UInt32(width)) - 1
            var values: [UInt32] = []
            for _ in 0..<50 {
                let v = UInt32(truncatingIfNeeded: rng.next()) & UInt32(maxValue)
                let n = Int(rng.next() % 40) + 1
                if rng.next() % 2 == 0 {
                    values += Array(repeating: v, count: n)
                } else {
                    values += (0..<n).map { _ in UInt32(truncatingIfNeeded: rng.next()) & UInt32(maxValue) }
                }
            }
            var encoded: [UInt8] = []
            values.withUnsafeBufferPointer { RLEEncoder.encode($0, bitWidth: width, into: &encoded) }
            var decoded = [UInt32](repeating: 0, count: values.count)
            try encoded.withUnsafeBytes { raw in
                var decoder = try RLEDecoder(raw, bitWidth: width)
                try decoded.withUnsafeMutableBufferPointer { p in try decoder.decode(into: p.baseAddress!, count: values.count) }
            }
            #expect(decoded == values, "bit width \(width)")
            // Asking for more values than were encoded is an error, not an overrun.
            #expect(throws: ParquetError.self) {
                try encoded.withUnsafeBytes { raw in
                    var decoder = try RLEDecoder(raw, bitWidth: width)
                    var big = [UInt32](repeating: 0, count: values.count + 100)
                    try big.withUnsafeMutableBufferPointer { p in try decoder.decode(into: p.baseAddress!, count: values.count + 100) }
                }
            }
        }
    }

    @Test("Thrift compact metadata round-trips and skips unknown fields")
    func thrift() throws {
        var meta = FileMetaDataT()
        meta.schema = ParquetSchema([.string("s"), .group("g", [.timestampMicros("t"), .int32("i", bits: 16)])]).schemaElements()
        meta.numRows = 42
        meta.createdBy = "test"
        meta.keyValueMetadata = [KeyValueT(key: "k", value: "v")]
        meta.columnOrders = [1, 1, 1]
        var w = ThriftWriter()
        meta.write(&w)
        // Splice an unknown field (id 99: a list of structs) in before the stop byte.
        var bytes = w.bytes
        bytes.removeLast()
        var extra = ThriftWriter()
        extra.structBegin()
        extra.fieldListBegin(99, elementType: .struct, count: 2)
        for _ in 0..<2 {
            extra.structBegin()
            extra.field(1, string: "ignored")
            extra.structEnd()
        }
        extra.structEnd()
        bytes += extra.bytes
        let decoded = try bytes.withUnsafeBytes { b in
            var r = ThriftReader(b)
            return try FileMetaDataT.read(&r)
        }
        #expect(decoded.numRows == 42)
        #expect(decoded.createdBy == "test")
        #expect(decoded.columnOrders == [1, 1, 1])
        #expect(try ParquetSchema.from(elements: decoded.schema) == ParquetSchema([.string("s"), .group("g", [.timestampMicros("t"), .int32("i", bits: 16)])]))
    }
}
