/// Everything that can go wrong writing or reading a Parquet file. Each case carries a
/// message naming what was wrong and where, for logs and for `logpipe parquet inspect`.
public enum ParquetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is not Parquet: bad magic, too short, or a footer length out of range.
    case notParquet(String)
    /// The footer or a page header does not decode as the Thrift structs the spec defines.
    case corruptMetadata(String)
    /// A page's contents do not decode (bad lengths, levels, indices, or codec data).
    case corruptPage(String)
    /// The file uses something this implementation does not read (e.g. repeated fields, LZO).
    case unsupported(String)
    /// The caller's schema, batch or arguments do not fit together.
    case invalidArgument(String)
    /// An operating-system call failed.
    case io(String)

    /// The message, prefixed with the kind of error.
    public var description: String {
        switch self {
        case .notParquet(let m): "not a Parquet file: \(m)"
        case .corruptMetadata(let m): "corrupt Parquet metadata: \(m)"
        case .corruptPage(let m): "corrupt Parquet page: \(m)"
        case .unsupported(let m): "unsupported Parquet feature: \(m)"
        case .invalidArgument(let m): "invalid argument: \(m)"
        case .io(let m): "I/O error: \(m)"
        }
    }
}

/// Runs `body` over the bytes of `array`, keeping the typed error (the standard library's
/// `withUnsafeBytes` only rethrows untyped errors).
@inline(__always)
func withBytes<R>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ParquetError) -> R) throws(ParquetError) -> R {
    let result: Result<R, ParquetError> = array.withUnsafeBytes { b in
        Result { () throws(ParquetError) -> R in try body(b) }
    }
    return try result.get()
}
