import FuzzDriver
import Logging
import LogpipeAnalytics
import LogpipeGenerator
import LogpipeRecords

/// One input: an analytics snapshot as a stream worker's commit record carries it. A
/// snapshot that restores must snapshot again to bytes that restore to the same bytes,
/// and the restored windows must close (`finish`) without trapping.
let quiet = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }

writeSeedIfAsked {
    var generator = RecordGenerator(seed: 7)
    var reader = JSONBodyReader()
    var logs = LogBatch()
    _ = try reader.readLogs(body: generator.logs(count: 300, start: 1_767_225_600, spacing: 2), into: &logs)
    var events = ActivityBatch()
    _ = try reader.readActivities(body: generator.events(count: 60, start: 1_767_225_600, spacing: 10), into: &events)
    var analytics = StreamAnalytics(logger: quiet)
    _ = analytics.process(logs: logs)
    _ = analytics.process(activities: events)
    return analytics.snapshot()
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzSnapshot(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    guard var restored = try? StreamAnalytics(restoring: bytes, logger: quiet) else { return 0 }
    let again = restored.snapshot()
    let second: StreamAnalytics
    do { second = try StreamAnalytics(restoring: again, logger: quiet) } catch {
        preconditionFailure("a restored snapshot's own snapshot does not restore: \(error)")
    }
    precondition(second.snapshot() == again, "snapshot → restore → snapshot changed the bytes")
    _ = restored.finish()
    return 0
}

runFuzzer(fuzzSnapshot)
