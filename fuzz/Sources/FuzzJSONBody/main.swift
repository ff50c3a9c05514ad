import FuzzDriver
@testable import LogpipeRecords

/// One input: the collector's JSON body reader on it as logs and as activities (array,
/// object or NDJSON, decided by the body), with small limits so the limit paths run too;
/// and the same reading with the reader's fast path turned off, which must give the same
/// batch, the same errors and the same body error.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzJSONBody(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let body = UnsafeRawBufferPointer(start: data, count: count)
    let limits = RecordLimits(maxRecordBytes: 4096, maxStringBytes: 512, maxDepth: 8, maxFieldsPerObject: 32)
    var reader = JSONBodyReader()
    var general = JSONBodyReader()
    general.parser.fastPath = false
    var logs = LogBatch()
    let read = Result { () throws(BodyError) in try reader.readLogs(body: body, limits: limits, into: &logs) }
    var generalLogs = LogBatch()
    let generalRead = Result { () throws(BodyError) in try general.readLogs(body: body, limits: limits, into: &generalLogs) }
    precondition(read == generalRead, "fast path read \(read), general walk \(generalRead)")
    precondition(String(reflecting: logs) == String(reflecting: generalLogs), "fast path and general walk fill different log columns")
    if case .success(let result) = read {
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
    let readActivities = Result { () throws(BodyError) in try reader.readActivities(body: body, limits: limits, into: &activities) }
    var generalActivities = ActivityBatch()
    let generalActivitiesRead = Result { () throws(BodyError) in
        try general.readActivities(body: body, limits: limits, into: &generalActivities)
    }
    precondition(readActivities == generalActivitiesRead, "fast path read \(readActivities), general walk \(generalActivitiesRead)")
    precondition(String(reflecting: activities) == String(reflecting: generalActivities),
                 "fast path and general walk fill different activity columns")
    return 0
}

runFuzzer(fuzzJSONBody)
