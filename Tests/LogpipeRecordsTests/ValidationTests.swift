import LogpipeRecords
import Testing

@Suite("Validation rules")
struct ValidationTests {
    func expectError(_ text: String, _ field: String, _ message: String, _ reason: RejectReason,
                     limits: RecordLimits = RecordLimits(), sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(logError(text, limits: limits) == RecordError(index: 0, field: field, message: message, reason: reason),
                sourceLocation: sourceLocation)
    }

    func micros(_ ts: String) -> Int64? {
        guard let (result, batch) = try? readLogs(log(ts: ts)), result.errors.isEmpty else { return nil }
        return batch.timestampMicros.values[0]
    }

    @Test func requiredFields() {
        expectError(#"{"level":"INFO","service":"s","message":"m"}"#, "timestamp", "required field missing", .missingField)
        expectError(#"{"timestamp":1,"service":"s","message":"m"}"#, "level", "required field missing", .missingField)
        expectError(#"{"timestamp":1,"level":"INFO","message":"m"}"#, "service", "required field missing", .missingField)
        expectError(#"{"timestamp":1,"level":"INFO","service":"s"}"#, "message", "required field missing", .missingField)
        expectError(log(ts: "null"), "timestamp", "must not be null", .missingField)
        expectError(log(service: "null"), "service", "must not be null", .missingField)
        #expect(activityError(#"{"timestamp":1,"user_id":"u","event_type":"X"}"#)
            == RecordError(index: 0, field: "event_id", message: "required field missing", reason: .missingField))
        #expect(activityError(#"{"event_id":"e","timestamp":1,"event_type":"X"}"#)
            == RecordError(index: 0, field: "user_id", message: "required field missing", reason: .missingField))
        #expect(activityError(#"{"event_id":"e","timestamp":1,"user_id":"u"}"#)
            == RecordError(index: 0, field: "event_type", message: "required field missing", reason: .missingField))
        #expect(activityError(#"{"event_id":"e","user_id":"u","event_type":"X"}"#)
            == RecordError(index: 0, field: "timestamp", message: "required field missing", reason: .missingField))
        #expect(activityError(#"{"event_id":"e","timestamp":1,"user_id":"u","event_type":""}"#)
            == RecordError(index: 0, field: "event_type", message: "must not be empty", reason: .invalidValue))
    }

    @Test func optionalFieldsMayBeNullOrAbsent() throws {
        let body = [
            log(rest: #","host":null,"metadata":null"#),
            log(rest: #","metadata":{}"#),
            log(rest: #","metadata":{"status_code":null,"user_id":"u"}"#),
        ].joined(separator: "\n")
        let (result, batch) = try readLogs(body)
        #expect(result.errors.isEmpty && batch.count == 3)
        #expect(batch.host[row: 0] == nil && batch.host.nullCount == 3)
        #expect(batch.metadataValidity == [false, true, true])
        #expect(batch.statusCode.nullCount == 3)
        #expect(batch.userId[row: 2] == "u" && batch.userId[row: 1] == nil)
        let (r2, events) = try readActivities(#"{"event_id":"e","timestamp":1,"user_id":"u","event_type":"X","session_id":null,"event_data":null,"device":{}}"#)
        #expect(r2.errors.isEmpty)
        #expect(events.event(at: 0) == ActivityEvent(eventId: "e", timestampMicros: 1_000_000, userId: "u",
                                                      eventType: "X", eventData: nil, device: .init()))
    }

    @Test func wrongTypes() {
        expectError(log(ts: "true"), "timestamp", "expected a number or RFC 3339 string", .wrongType)
        expectError(log(ts: "[1]"), "timestamp", "expected a number or RFC 3339 string", .wrongType)
        expectError(log(level: "2"), "level", "expected a string", .wrongType)
        expectError(log(service: "{}"), "service", "expected a string", .wrongType)
        expectError(log(message: "12"), "message", "expected a string", .wrongType)
        expectError(log(rest: #","host":false"#), "host", "expected a string", .wrongType)
        expectError(log(rest: #","metadata":[]"#), "metadata", "expected an object", .wrongType)
        expectError(log(rest: #","metadata":"x""#), "metadata", "expected an object", .wrongType)
        expectError(log(rest: #","metadata":{"status_code":"200"}"#), "metadata.status_code", "expected an integer", .wrongType)
        expectError(log(rest: #","metadata":{"response_time_ms":"45"}"#), "metadata.response_time_ms", "expected a number", .wrongType)
        expectError(log(rest: #","metadata":{"request_id":7}"#), "metadata.request_id", "expected a string", .wrongType)
        #expect(activityError(#"{"event_id":"e","timestamp":1,"user_id":"u","event_type":"X","event_data":{"amount":"9.99"}}"#)
            == RecordError(index: 0, field: "event_data.amount", message: "expected a number", reason: .wrongType))
        #expect(activityError(#"{"event_id":"e","timestamp":1,"user_id":"u","event_type":"X","device":{"type":1}}"#)
            == RecordError(index: 0, field: "device.type", message: "expected a string", reason: .wrongType))
        #expect(activityError(#"{"event_id":1,"timestamp":1,"user_id":"u","event_type":"X"}"#)
            == RecordError(index: 0, field: "event_id", message: "expected a string", reason: .wrongType))
    }

    @Test func levels() throws {
        for level in LogLevel.allCases {
            let (result, batch) = try readLogs(log(level: "\"\(level.name)\""))
            #expect(result.errors.isEmpty)
            #expect(batch.level.values == [level.rawValue])
        }
        // An escaped name is the same name.
        let (r, b) = try readLogs(log(level: #""WARN\u0049NG""#))
        #expect(r.errors.isEmpty && b.logLevel(row: 0) == .warning)
        expectError(log(level: #""VERBOSE""#), "level", "unknown level 'VERBOSE': expected one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL (any case)", .invalidValue)
        // Any case is the same level, kept in capitals.
        for (name, level) in [("info", LogLevel.info), ("Warn", .warn), ("warning", .warning), ("error", .error), ("fAtAl", .fatal)] {
            let (any, read) = try readLogs(log(level: "\"\(name)\""))
            #expect(any.errors.isEmpty && read.logLevel(row: 0) == level, "\(name)")
        }
        expectError(log(level: #""""#), "level", "unknown level '': expected one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL (any case)", .invalidValue)
        expectError(log(level: #""INFO ""#), "level", "unknown level 'INFO ': expected one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL (any case)", .invalidValue)
    }

    @Test func numericTimestampsAreExactMicroseconds() {
        #expect(micros("1736645166.291045") == 1_736_645_166_291_045)
        #expect(micros("1736645166.2910459") == 1_736_645_166_291_045)  // truncated, not rounded
        #expect(micros("1736645166.29104599999999999999") == 1_736_645_166_291_045)
        #expect(micros("1736645166") == 1_736_645_166_000_000)
        #expect(micros("1736645166.5") == 1_736_645_166_500_000)
        #expect(micros("1.736645166291045e9") == 1_736_645_166_291_045)
        #expect(micros("1736645166291045E-6") == 1_736_645_166_291_045)
        #expect(micros("0") == 0)
        #expect(micros("-0") == 0)
        #expect(micros("0.000001") == 1)
        #expect(micros("7289654399.999999") == 7_289_654_399_999_999)  // the last microsecond of 2200
        expectError(log(ts: "7289654400"), "timestamp", "timestamp out of range (years 1970 to 2200)", .invalidValue)
        expectError(log(ts: "-1"), "timestamp", "timestamp out of range (years 1970 to 2200)", .invalidValue)
        expectError(log(ts: "-0.0000001"), "timestamp", "timestamp out of range (years 1970 to 2200)", .invalidValue)
        expectError(log(ts: "1e400"), "timestamp", "timestamp out of range (years 1970 to 2200)", .invalidValue)
        expectError(log(ts: "99999999999999999999999"), "timestamp", "timestamp out of range (years 1970 to 2200)", .invalidValue)
        // Milliseconds and microseconds since the epoch are the usual mistake: the error says so.
        expectError(log(ts: "1736645166291"), "timestamp",
                    "timestamp out of range (years 1970 to 2200); a number is epoch seconds and this one looks like milliseconds", .invalidValue)
        expectError(log(ts: "1736645166291045"), "timestamp",
                    "timestamp out of range (years 1970 to 2200); a number is epoch seconds and this one looks like microseconds", .invalidValue)
        expectError(log(ts: #""NaN""#), "timestamp", "expected a number or RFC 3339 string", .invalidValue)
        #expect(logError(log(ts: "NaN"))?.reason == .syntax)
        #expect(logError(log(ts: "Infinity"))?.reason == .syntax)
    }

    @Test func rfc3339Timestamps() {
        #expect(micros(#""2025-01-12T01:26:06.291045Z""#) == 1_736_645_166_291_045)
        #expect(micros(#""2025-01-12T10:26:06.291045+09:00""#) == 1_736_645_166_291_045)
        #expect(micros(#""2025-01-11T20:26:06.291045-05:00""#) == 1_736_645_166_291_045)
        #expect(micros(#""2025-01-12t01:26:06.291045z""#) == 1_736_645_166_291_045)
        #expect(micros(#""2025-01-12 01:26:06.291045Z""#) == 1_736_645_166_291_045)
        #expect(micros(#""2025-01-12T01:26:06.291045999Z""#) == 1_736_645_166_291_045)
        #expect(micros(#""2025-01-12T01:26:06Z""#) == 1_736_645_166_000_000)
        #expect(micros(#""2025-01-12T01:26:06.2Z""#) == 1_736_645_166_200_000)
        #expect(micros(#""1970-01-01T00:00:00Z""#) == 0)
        #expect(micros(#""2024-02-29T00:00:00Z""#) == 1_709_164_800_000_000)
        #expect(micros(#""2200-12-31T23:59:59.999999Z""#) == 7_289_654_399_999_999)
        for bad in ["2025-01-12T01:26:06.2910451234Z", "2025-01-12T01:26:06.Z", "2025-01-12T01:26:06",
                    "2025-13-12T01:26:06Z", "2023-02-29T00:00:00Z", "2025-01-12T24:00:00Z", "2025-01-12T01:60:00Z",
                    "2025-01-12T01:26:06+0900", "2025-01-12T01:26:06+09:00:00", "2025-1-12T01:26:06Z", "",
                    "1736645166", "2025-01-12T01:26:06Zjunk"] {
            #expect(logError(log(ts: "\"\(bad)\"")) == RecordError(
                index: 0, field: "timestamp", message: "expected a number or RFC 3339 string", reason: .invalidValue), "\(bad)")
        }
        expectError(log(ts: #""1969-12-31T23:59:59Z""#), "timestamp", "timestamp out of range (years 1970 to 2200)", .invalidValue)
        expectError(log(ts: #""1970-01-01T00:00:00+00:01""#), "timestamp", "timestamp out of range (years 1970 to 2200)", .invalidValue)
        expectError(log(ts: #""2201-01-01T00:00:00Z""#), "timestamp", "timestamp out of range (years 1970 to 2200)", .invalidValue)
    }

    @Test func statusCodeMustBeAnInt32() throws {
        func status(_ v: String) -> Int32? {
            guard let (r, b) = try? readLogs(log(rest: #","metadata":{"status_code":\#(v)}"#)), r.errors.isEmpty else { return nil }
            return b.statusCode[row: 0]
        }
        #expect(status("200") == 200)
        #expect(status("200.0") == 200)
        #expect(status("2e2") == 200)
        #expect(status("2000e-1") == 200)
        #expect(status("-1") == -1)
        #expect(status("2147483647") == Int32.max)
        let m = "metadata.status_code"
        expectError(log(rest: #","metadata":{"status_code":200.5}"#), m, "expected an integer", .invalidValue)
        expectError(log(rest: #","metadata":{"status_code":2e-1}"#), m, "expected an integer", .invalidValue)
        expectError(log(rest: #","metadata":{"status_code":2147483648}"#), m, "out of range for a 32-bit integer", .invalidValue)
        expectError(log(rest: #","metadata":{"status_code":99999999999999999999}"#), m, "out of range for a 32-bit integer", .invalidValue)
        expectError(log(rest: #","metadata":{"status_code":1e400}"#), m, "out of range for a 32-bit integer", .invalidValue)
    }

    @Test func responseTimeMustBeFiniteAndNonNegative() throws {
        let (r, b) = try readLogs([
            log(rest: #","metadata":{"response_time_ms":45}"#), log(rest: #","metadata":{"response_time_ms":0.125}"#),
            log(rest: #","metadata":{"response_time_ms":1.5e3}"#), log(rest: #","metadata":{"response_time_ms":0.1}"#),
            log(rest: #","metadata":{"response_time_ms":123456789.123456789}"#),
        ].joined(separator: "\n"))
        #expect(r.errors.isEmpty)
        #expect(b.responseTimeMs.values == [45, 0.125, 1500, 0.1, 123456789.123456789])
        let m = "metadata.response_time_ms"
        expectError(log(rest: #","metadata":{"response_time_ms":-1}"#), m, "must not be negative", .invalidValue)
        expectError(log(rest: #","metadata":{"response_time_ms":1e400}"#), m, "must be a finite number", .invalidValue)
        #expect(activityError(#"{"event_id":"e","timestamp":1,"user_id":"u","event_type":"X","event_data":{"amount":-1e999}}"#)
            == RecordError(index: 0, field: "event_data.amount", message: "must be a finite number", reason: .invalidValue))
    }

    @Test func duplicateKeysAreRejected() {
        expectError(log(rest: #","level":"WARN""#), "level", "duplicate key", .duplicateKey)
        expectError(log(rest: #","host":null,"host":"h""#), "host", "duplicate key", .duplicateKey)
        expectError(log(rest: #","metadata":{"status_code":1,"status_code":2}"#), "metadata.status_code", "duplicate key", .duplicateKey)
        expectError(log(rest: #","x":1,"x":2"#), "x", "duplicate key", .duplicateKey)
        expectError(log(rest: #","x":1,"\u0078":2"#), "x", "duplicate key", .duplicateKey)
        expectError(log(rest: #","metadata":{"r":1,"r":2}"#), "metadata.r", "duplicate key", .duplicateKey)
        expectError(log(rest: #","x":{"a":1,"b":{"a":1},"a":2}"#), "x", "duplicate key", .duplicateKey)
        // The same key in different objects is fine.
        #expect(logError(log(rest: #","x":{"a":1,"b":{"a":1}},"a":{"x":1},"metadata":{"x":1}"#)) == nil)
    }

    @Test func sizeLimits() {
        let small = RecordLimits(maxRecordBytes: 200, maxStringBytes: 10, maxDepth: 4, maxFieldsPerObject: 6)
        expectError(log(message: #""12345678901""#), "message", "string longer than 10 bytes", .tooLarge, limits: small)
        #expect(logError(log(message: #""1234567890""#), limits: small) == nil)
        // Limits count decoded bytes: ten escaped characters are ten bytes.
        #expect(logError(log(message: #""\u0041\u0041\u0041\u0041\u0041\u0041\u0041\u0041\u0041\u0041""#), limits: small) == nil)
        expectError(log(rest: #","x":"12345678901""#), "x", "string longer than 10 bytes", .tooLarge, limits: small)
        expectError(log(rest: #","a":1,"b":2,"c":3"#), "$", "more than 6 fields in an object", .tooLarge, limits: small)
        expectError(log(rest: #","x":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7}"#), "x",
                    "more than 6 fields in an object", .tooLarge, limits: small)
        // The record is depth 1, so "x" may hold three levels and metadata's members two.
        expectError(log(rest: #","x":[[[{}]]]"#), "x", "nesting deeper than 4 levels", .tooDeep, limits: small)
        #expect(logError(log(rest: #","x":[[[1]]]"#), limits: small) == nil)
        expectError(log(rest: #","metadata":{"y":[[[1]]]}"#), "metadata.y", "nesting deeper than 4 levels", .tooDeep, limits: small)
        #expect(logError(log(rest: #","metadata":{"y":[[1]]}"#), limits: small) == nil)
        let long = log(rest: ",\"x\":\"\(String(repeating: "a", count: 9))\"" + String(repeating: " ", count: 200))
        expectError(long, "$", "record larger than 200 bytes", .tooLarge, limits: small)
        // In an array the record's own text is measured too.
        let (r, b) = try! readLogs("[\(long), \(log())]", limits: small)
        #expect(r.errors == [RecordError(index: 0, field: "$", message: "record larger than 200 bytes", reason: .tooLarge)])
        #expect(b.count == 1)
    }

    @Test func firstProblemInReadingOrderIsReported() {
        expectError(#"{"level":"LOUD","timestamp":"yesterday","message":3}"#, "level", "unknown level 'LOUD': expected one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL (any case)", .invalidValue)
        expectError(#"{"message":3,"level":"LOUD"}"#, "message", "expected a string", .wrongType)
    }

    @Test func mixedBodyCountsAreExact() throws {
        var records: [String] = []
        var invalid: Set<Int> = []
        for i in 0..<40 {
            switch i % 7 {
            case 2: records.append(log(level: #""LOUD""#)); invalid.insert(i)
            case 5: records.append(#"{"timestamp":1}"#); invalid.insert(i)
            case 6 where i % 2 == 0: records.append("42"); invalid.insert(i)
            default: records.append(log(ts: "\(i)", service: "\"s\(i)\""))
            }
        }
        for body in ["[" + records.joined(separator: ",") + "]", records.joined(separator: "\n")] {
            let (result, batch) = try readLogs(body)
            #expect(result.total == 40)
            #expect(result.errors.map(\.index) == invalid.sorted())
            #expect(batch.count == 40 - invalid.count)
            #expect(result.acceptedSpans.count == batch.count && result.rejectedSpans.count == invalid.count)
            let valid = (0..<40).filter { !invalid.contains($0) }
            #expect((0..<batch.count).map { batch.service[row: $0]! } == valid.map { "s\($0)" })
            #expect(result.acceptedSpans.map { text(body, $0) } == valid.map { records[$0] })
            #expect(result.rejectedSpans.map { text(body, $0) } == invalid.sorted().map { records[$0] })
        }
    }

    @Test func rejectedRecordsLeaveTheBatchAsItWas() throws {
        // A record failing late (after strings were decoded into columns) must not leave bytes behind.
        let body = [log(rest: #","host":"h1","metadata":{"user_id":"u1"}"#),
                    log(service: #""doomed""#, rest: #","host":"h2","metadata":{"user_id":"u2","status_code":1.5}"#),
                    log(rest: #","host":"h3""#)].joined(separator: "\n")
        let (result, batch) = try readLogs(body)
        #expect(result.errors.map(\.index) == [1])
        #expect(batch.service.bytes == Array("apiapi".utf8))
        #expect(batch.host.bytes == Array("h1h3".utf8))
        #expect(batch.userId.bytes == Array("u1".utf8) && batch.userId.offsets == [0, 2, 2])
        #expect(batch.statusCode.values.count == 2)
        #expect(batch.extra.offsets == [0, 0, 0] && batch.extra.nullCount == 2)
    }
}
