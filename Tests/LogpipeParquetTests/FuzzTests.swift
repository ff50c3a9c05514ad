import Foundation
import LogpipeParquet
import LogpipeTesting
import Testing

@Suite("Parquet reader against corrupt input")
struct FuzzTests {
    /// Reads everything the file claims to hold; returns nil on success or the error text.
    /// The reader's throws are typed, so only a `ParquetError` can come out of it.
    private func readAll(_ bytes: [UInt8]) -> String? {
        do throws(ParquetError) {
            let reader = try ParquetFileReader(bytes: bytes)
            _ = ParquetInspector.describe(reader, name: "fuzz")
            for g in 0..<reader.rowGroupCount { _ = try reader.readRowGroup(g) }
            return nil
        } catch {
            return error.description
        }
    }

    private func sample(_ compression: ParquetCompression, dictionary: Bool) throws -> [UInt8] {
        let data = Datasets.logs(rows: 300, seed: 9)
        let sink = ParquetMemorySink()
        var options = ParquetWriterOptions()
        options.compression = compression
        options.dictionaryEnabled = dictionary
        options.maxRowsPerPage = 120
        options.rowGroupSize = 16 * 1024
        let writer = try ParquetWriter(sink: sink, schema: data.schema, options: options)
        try writer.write(data.batch)
        try writer.finish()
        return sink.bytes
    }

    @Test("mutated and truncated files end in an error or a correct read, never a crash or hang", .timeLimit(.minutes(1)))
    func mutations() throws {
        var rng = SplitMix(seed: 42)
        var errors = 0, reads = 0
        var messages = Set<String>()
        for (compression, dictionary) in [(ParquetCompression.snappy, true), (.zstd(level: 1), false), (.uncompressed, true)] {
            let original = try sample(compression, dictionary: dictionary)
            #expect(readAll(original) == nil)
            for round in 0..<400 {
                var bytes = original
                switch round % 4 {
                case 0:
                    // Truncate anywhere.
                    bytes.removeLast(Int(rng.next() % UInt64(bytes.count)) + 1)
                case 1:
                    // Flip a few random bits.
                    for _ in 0..<(1 + Int(rng.next() % 4)) {
                        let i = Int(rng.next() % UInt64(bytes.count))
                        bytes[i] ^= UInt8(1) << UInt8(rng.next() % 8)
                    }
                case 2:
                    // Overwrite a random byte of the footer (the Thrift metadata) or its length.
                    let footer = Int(UInt32(bytes[bytes.count - 8]) | UInt32(bytes[bytes.count - 7]) << 8 | UInt32(bytes[bytes.count - 6]) << 16)
                    let i = bytes.count - 8 - footer + Int(rng.next() % UInt64(footer + 4))
                    bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                default:
                    // Overwrite a run of bytes in the data area with 0xFF or random bytes.
                    let start = 4 + Int(rng.next() % UInt64(bytes.count / 2))
                    let random = rng.next() % 2 == 0
                    for i in start..<min(bytes.count, start + 1 + Int(rng.next() % 16)) {
                        bytes[i] = random ? UInt8(truncatingIfNeeded: rng.next()) : 0xFF
                    }
                }
                if let message = readAll(bytes) {
                    errors += 1
                    messages.insert(String(message.prefix(40)))
                } else {
                    reads += 1
                }
            }
        }
        #expect(errors + reads == 1200)
        // Truncation alone guarantees a good share of failures, each with a message.
        #expect(errors >= 300)
        #expect(messages.count > 5)
    }

    @Test("not-Parquet inputs are refused with a reason")
    func notParquet() {
        for bytes in [[], Array("PAR1".utf8), Array("PAR1PAR1PAR1".utf8), Array(repeating: UInt8(0), count: 100),
                      Array("PAR1".utf8) + [0xFF, 0xFF, 0xFF, 0x7F] + Array("PAR1".utf8)] {
            #expect(throws: ParquetError.self) { try ParquetFileReader(bytes: bytes) }
        }
    }
}
