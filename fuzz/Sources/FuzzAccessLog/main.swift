import FuzzDriver
import LogpipeRecords

/// One input: raw access-log lines in every format; accepted lines must write back as
/// contract JSON that the JSON reader accepts.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzAccessLog(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let body = UnsafeRawBufferPointer(start: data, count: count)
    var json = JSONBodyReader()
    for format in AccessLogFormat.allCases {
        var reader = AccessLogReader(format: format, service: "fuzz", host: "h")
        var batch = LogBatch()
        let result = reader.readLogs(body: body, limits: RecordLimits(maxRecordBytes: 4096, maxStringBytes: 1024), into: &batch)
        precondition(result.body.accepted == batch.count && result.isJSONLine.count == batch.count)
        var out: [UInt8] = []
        for row in 0..<batch.count {
            out.removeAll(keepingCapacity: true)
            JSONRecordWriter.appendLog(batch, row: row, to: &out)
            var again = LogBatch()
            let error = out.withUnsafeBytes { json.appendLog(json: $0, to: &again) }
            precondition(error == nil, "written record rejected: \(String(describing: error)) \(String(decoding: out, as: UTF8.self))")
        }
    }
    return 0
}

runFuzzer(fuzzAccessLog)
