import FuzzDriver
import LogpipeRecords

/// One input: the collector's JSON body reader on it as logs and as activities (array,
/// object or NDJSON, decided by the body), with small limits so the limit paths run too.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzJSONBody(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let body = UnsafeRawBufferPointer(start: data, count: count)
    let limits = RecordLimits(maxRecordBytes: 4096, maxStringBytes: 512, maxDepth: 8, maxFieldsPerObject: 32)
    var reader = JSONBodyReader()
    var logs = LogBatch()
    if let result = try? reader.readLogs(body: body, limits: limits, into: &logs) {
        precondition(result.accepted == logs.count, "accepted \(result.accepted) but the batch holds \(logs.count)")
        // What was accepted writes back as JSON the reader accepts again.
        var out: [UInt8] = []
        for row in 0..<logs.count {
            out.removeAll(keepingCapacity: true)
            JSONRecordWriter.appendLog(logs, row: row, to: &out)
            var again = LogBatch()
            let error = out.withUnsafeBytes { reader.appendLog(json: $0, to: &again) }
            precondition(error == nil, "written record rejected: \(String(describing: error))")
        }
    }
    var activities = ActivityBatch()
    _ = try? reader.readActivities(body: body, limits: limits, into: &activities)
    return 0
}

runFuzzer(fuzzJSONBody)
