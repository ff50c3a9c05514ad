import CompressNIO
import FuzzDriver
import LogpipeRecords
import NIOCore

/// One input: a `Content-Encoding: gzip` request body, decoded as the collector decodes it
/// (CompressNIO's gzip with the decoded-size limit) and then read as logs. A body may
/// decode to at most the limit: never more, however it is built (a gzip bomb is refused).
let maxDecodedBytes = 64 << 10

writeSeedIfAsked {
    var body = ByteBuffer(string: #"[{"timestamp": 1767225600.5, "level": "INFO", "service": "api", "host": "h", "message": "ok", "metadata": {"request_id": "r1"}}]"#)
    return Array(buffer: try body.compress(with: .gzip()))
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzGzipBody(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    var compressed = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: count))
    guard let decoded = try? compressed.decompress(with: .gzip(), maxSize: maxDecodedBytes) else { return 0 }
    precondition(decoded.readableBytes <= maxDecodedBytes, "decoded \(decoded.readableBytes) bytes, over the limit")
    decoded.withUnsafeReadableBytes { raw in
        var reader = JSONBodyReader()
        var logs = LogBatch()
        if let result = try? reader.readLogs(body: raw, into: &logs) {
            precondition(result.accepted == logs.count)
        }
    }
    return 0
}

runFuzzer(fuzzGzipBody)
