import LogpipeRecords

/// Reads a log body given as text into a fresh batch.
func readLogs(_ text: String, limits: RecordLimits = RecordLimits()) throws(BodyError) -> (BodyReadResult, LogBatch) {
    try readLogs(Array(text.utf8), limits: limits)
}

/// Reads a log body given as bytes into a fresh batch.
func readLogs(_ bytes: [UInt8], limits: RecordLimits = RecordLimits()) throws(BodyError) -> (BodyReadResult, LogBatch) {
    var reader = JSONBodyReader()
    var batch = LogBatch()
    let result = try reader.readLogs(body: bytes, limits: limits, into: &batch)
    return (result, batch)
}

/// Reads an activity body given as text into a fresh batch.
func readActivities(_ text: String, limits: RecordLimits = RecordLimits()) throws(BodyError) -> (BodyReadResult, ActivityBatch) {
    var reader = JSONBodyReader()
    var batch = ActivityBatch()
    let result = try reader.readActivities(body: Array(text.utf8), limits: limits, into: &batch)
    return (result, batch)
}

/// The single error of a one-record log body.
func logError(_ text: String, limits: RecordLimits = RecordLimits()) -> RecordError? {
    guard let (result, batch) = try? readLogs(text, limits: limits) else { return nil }
    precondition(result.total == 1, "expected one record, got \(result.total)")
    precondition(batch.count + result.errors.count == 1)
    return result.errors.first
}

/// The single error of a one-record activity body.
func activityError(_ text: String) -> RecordError? {
    guard let (result, _) = try? readActivities(text) else { return nil }
    precondition(result.total == 1, "expected one record, got \(result.total)")
    return result.errors.first
}

/// The text of `span` in `body`.
func text(_ body: String, _ span: Range<Int>) -> String {
    String(decoding: Array(body.utf8)[span], as: UTF8.self)
}

/// A valid log record with every field, as the contract shows it.
let sampleLog = #"{"timestamp": 1736645166.291045, "level": "INFO", "service": "api-gateway", "host": "worker-1", "message": "Request processed successfully", "metadata": {"request_id": "uuid-1234", "response_time_ms": 45, "status_code": 200, "endpoint": "/api/users", "method": "GET", "client_ip": "10.1.2.3", "user_id": "user_12345"}}"#

/// A valid activity event with every field, as the contract shows it.
let sampleEvent = #"{"event_id": "evt-uuid-5678", "timestamp": 1736645166.456789, "user_id": "user_12345", "session_id": "sess_abcde", "event_type": "CLICK", "event_data": {"page": "/products/123", "element": "add_to_cart_button"}, "device": {"type": "mobile", "os": "iOS", "browser": "Safari"}}"#

/// A minimal valid log record whose fields can be overridden by textual replacement.
func log(ts: String = "1736645166.291045", level: String = #""INFO""#, service: String = #""api""#,
         message: String = #""ok""#, rest: String = "") -> String {
    #"{"timestamp":\#(ts),"level":\#(level),"service":\#(service),"message":\#(message)\#(rest)}"#
}

