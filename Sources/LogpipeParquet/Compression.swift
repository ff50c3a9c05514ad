import CZstd

/// The page compression codec of a file written by `ParquetWriter`.
public enum ParquetCompression: Sendable, Hashable {
    /// No compression.
    case uncompressed
    /// Snappy (the lake's default, as Spark writes it).
    case snappy
    /// Zstandard at the given level (pyarrow's default level is 1).
    case zstd(level: Int32)

    var codecID: Int32 {
        switch self {
        case .uncompressed: 0
        case .snappy: 1
        case .zstd: 6
        }
    }

    /// The codec name parquet-format uses (`SNAPPY`, `ZSTD`, ...).
    static func name(ofCodec id: Int32) -> String {
        switch id {
        case 0: "UNCOMPRESSED"
        case 1: "SNAPPY"
        case 2: "GZIP"
        case 3: "LZO"
        case 4: "BROTLI"
        case 5: "LZ4"
        case 6: "ZSTD"
        case 7: "LZ4_RAW"
        default: "CODEC(\(id))"
        }
    }
}

/// Compresses pages for one writer, keeping a zstd context across pages. Not thread-safe:
/// each writer owns one.
final class PageCompressor {
    let compression: ParquetCompression
    private var zstdContext: OpaquePointer?

    init(_ compression: ParquetCompression) {
        self.compression = compression
    }

    deinit {
        if let zstdContext { ZSTD_freeCCtx(zstdContext) }
    }

    /// The compressed form of `input`, in a new buffer sized for it (no zero-filling, so a
    /// page costs one pass over its bytes).
    func compress(_ input: UnsafeRawBufferPointer) throws(ParquetError) -> [UInt8] {
        switch compression {
        case .uncompressed:
            return Array(input)
        case .snappy:
            return Snappy.compress(input)
        case .zstd(let level):
            if zstdContext == nil { zstdContext = ZSTD_createCCtx() }
            guard let ctx = zstdContext else { throw .io("cannot allocate a zstd context") }
            let bound = ZSTD_compressBound(input.count)
            var written = 0
            let out = [UInt8](unsafeUninitializedCapacity: bound) { buf, count in
                written = ZSTD_compressCCtx(ctx, buf.baseAddress, bound, input.baseAddress, input.count, level)
                count = ZSTD_isError(written) == 0 ? written : 0
            }
            guard ZSTD_isError(written) == 0 else {
                throw .io("zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))")
            }
            return out
        }
    }
}

/// Decompresses one page of a column chunk written with codec `codec` (parquet.thrift id).
/// `uncompressedSize` comes from the page header; it is cross-checked against the codec's own
/// framing before anything that large is allocated.
func decompressPage(codec: Int32, _ input: UnsafeRawBufferPointer, uncompressedSize: Int) throws(ParquetError) -> [UInt8] {
    switch codec {
    case 0:
        guard input.count == uncompressedSize else {
            throw .corruptPage("uncompressed page of \(input.count) bytes, header says \(uncompressedSize)")
        }
        return Array(input)
    case 1:
        let (declared, _) = try Snappy.uncompressedLength(input)
        guard declared == uncompressedSize else {
            throw .corruptPage("snappy data declares \(declared) bytes, page header says \(uncompressedSize)")
        }
        // Snappy expands at most about 21x (a 3-byte copy tag yields 64 bytes).
        guard declared <= input.count * 24 + 64 else { throw .corruptPage("snappy length \(declared) impossible for \(input.count) input bytes") }
        var failure: ParquetError?
        let out = [UInt8](unsafeUninitializedCapacity: declared) { buf, count in
            do throws(ParquetError) {
                try Snappy.decompress(input, into: UnsafeMutableRawBufferPointer(buf))
                count = declared
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return out
    case 6:
        let frameSize = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        if frameSize == ZSTD_CONTENTSIZE_ERROR { throw .corruptPage("zstd data has no valid frame header") }
        if frameSize != ZSTD_CONTENTSIZE_UNKNOWN && frameSize != UInt64(uncompressedSize) {
            throw .corruptPage("zstd frame declares \(frameSize) bytes, page header says \(uncompressedSize)")
        }
        // Without a declared frame size, refuse ratios no real page reaches before allocating.
        if frameSize == ZSTD_CONTENTSIZE_UNKNOWN && uncompressedSize > input.count * 4096 + (1 << 20) {
            throw .corruptPage("page header claims \(uncompressedSize) bytes from \(input.count) zstd bytes")
        }
        var failure: ParquetError?
        let out = [UInt8](unsafeUninitializedCapacity: uncompressedSize) { buf, count in
            let n = ZSTD_decompress(buf.baseAddress, uncompressedSize, input.baseAddress, input.count)
            if ZSTD_isError(n) != 0 {
                failure = .corruptPage("zstd: \(String(cString: ZSTD_getErrorName(n)))")
                count = 0
            } else if n != uncompressedSize {
                failure = .corruptPage("zstd data decodes to \(n) bytes, page header says \(uncompressedSize)")
                count = 0
            } else {
                count = n
            }
        }
        if let failure { throw failure }
        return out
    default:
        throw .unsupported("compression codec \(ParquetCompression.name(ofCodec: codec))")
    }
}
