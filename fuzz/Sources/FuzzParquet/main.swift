import FuzzDriver
import LogpipeParquet

/// One input: a Parquet file; the footer, every row group, page and column is read.
/// Errors are expected; crashes, traps and hangs are findings.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzParquet(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    guard let reader = try? ParquetFileReader(bytes: bytes) else { return 0 }
    _ = ParquetInspector.describe(reader, name: "fuzz")
    for group in 0..<reader.rowGroupCount { _ = try? reader.readRowGroup(group) }
    return 0
}

runFuzzer(fuzzParquet)
