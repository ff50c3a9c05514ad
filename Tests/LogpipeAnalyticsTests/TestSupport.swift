import Foundation
import LogpipeAnalytics
import LogpipeGenerator
import LogpipeRecords
import LogpipeTesting

/// 2026-01-12 00:00:00 UTC: a minute (and hour) boundary, so window arithmetic in tests is plain.
let epoch0: Double = 1_768_176_000

func parseLogs(_ ndjson: [UInt8]) throws -> LogBatch {
    var reader = JSONBodyReader()
    var batch = LogBatch()
    let result = try reader.readLogs(body: ndjson, into: &batch)
    precondition(result.errors.isEmpty, "generated records must be valid: \(result.errors.prefix(3))")
    return batch
}

func parseActivities(_ ndjson: [UInt8]) throws -> ActivityBatch {
    var reader = JSONBodyReader()
    var batch = ActivityBatch()
    let result = try reader.readActivities(body: ndjson, into: &batch)
    precondition(result.errors.isEmpty, "generated events must be valid: \(result.errors.prefix(3))")
    return batch
}

/// Rows `range` of a batch as a batch.
func slice(_ batch: LogBatch, _ range: Range<Int>) -> LogBatch {
    var out = LogBatch()
    out.append(contentsOf: batch, rows: range)
    return out
}

func slice(_ batch: ActivityBatch, _ range: Range<Int>) -> ActivityBatch {
    var out = ActivityBatch()
    out.append(contentsOf: batch, rows: range)
    return out
}

/// Feeds `batch` in micro-batches of `size` rows and then closes every window.
func runAll(_ analytics: inout StreamAnalytics, logs batch: LogBatch, batchSize: Int) -> AnalyticsOutput {
    var out = AnalyticsOutput()
    var start = 0
    while start < batch.count {
        let end = min(batch.count, start + batchSize)
        out.append(analytics.process(logs: slice(batch, start..<end)))
        start = end
    }
    out.append(analytics.finish())
    return out
}

/// A log record as the contract's JSON, for hand-made rows.
func logLine(t: Double, service: String, rt: Double? = 10, status: Int? = 200, ip: String? = "10.0.0.1",
             user: String? = "user_1") -> String {
    var meta: [String] = []
    if let rt { meta.append(#""response_time_ms":\#(rt)"#) }
    if let status { meta.append(#""status_code":\#(status)"#) }
    if let ip { meta.append(#""client_ip":"\#(ip)""#) }
    if let user { meta.append(#""user_id":"\#(user)""#) }
    let ts = String(format: "%.6f", t)
    return #"{"timestamp":\#(ts),"level":"INFO","service":"\#(service)","message":"m","metadata":{\#(meta.joined(separator: ","))}}"#
}

func logBatch(_ lines: [String]) throws -> LogBatch {
    try parseLogs(Array(lines.joined(separator: "\n").utf8))
}

/// Runs a Python script (with duckdb) on the given arguments and returns its stdout
/// parsed as one JSON object per line.
func runPython(_ script: String, arguments: [String]) throws -> [[String: Any]] {
    let dir = try TemporaryDirectory(prefix: "logpipe-analytics-py")
    defer { dir.remove() }
    let path = dir.appending("script.py")
    try script.write(toFile: path, atomically: true, encoding: .utf8)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try TestEnvironment.requirePython())
    p.arguments = [path] + arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw NSError(domain: "python", code: Int(p.terminationStatus),
                      userInfo: [NSLocalizedDescriptionKey: String(decoding: errData, as: UTF8.self)])
    }
    return try String(decoding: data, as: UTF8.self).split(separator: "\n").map {
        try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
}

func micros(_ seconds: Double) -> Int64 { Int64((seconds * 1_000_000).rounded()) }

extension Dictionary where Key == String, Value == Any {
    func int(_ k: String) -> Int64 { (self[k] as! NSNumber).int64Value }
    func double(_ k: String) -> Double? { (self[k] as? NSNumber)?.doubleValue }
    func string(_ k: String) -> String { self[k] as! String }
}

/// Relative difference, 0 when both are 0.
func relativeError(_ a: Double, _ b: Double) -> Double {
    a == b ? 0 : abs(a - b) / max(abs(a), abs(b))
}

/// The late (and future) log rows committed in a lake's `late/logs/`, every file's lines in file-name order.
func lateLogRows(lake: String) throws -> LogBatch {
    let directory = lake + "/late/logs"
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    var bytes: [UInt8] = []
    for name in names { bytes += Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))) }
    return try parseLogs(bytes)
}
