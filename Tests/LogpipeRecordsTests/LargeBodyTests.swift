import Foundation
import LogpipeRecords
import Testing

/// Large bodies: past `JSONBodyReader`'s reservation threshold the reader sizes the batch's
/// columns from the body's first record. Whatever that record looks like, every row must
/// come out exactly as the same record read on its own.
@Suite("Large bodies")
struct LargeBodyTests {
    /// Log records of every shape the reader handles: key orders, nulls, missing optional
    /// fields and groups, escapes, non-ASCII text, unknown fields, RFC 3339 times, and one
    /// invalid record.
    static func logLine(_ i: Int) -> String {
        let ts = "1736645166.\(100_000 + i)"
        switch i % 9 {
        case 0: return #"{"timestamp":\#(ts),"level":"INFO","service":"api","message":"ok"}"#
        case 1:
            return #"{"timestamp":\#(ts),"level":"ERROR","service":"checkout-service","host":"worker-\#(i % 7)","message":"Internal server error: database timeout","metadata":{"request_id":"req-\#(i)","response_time_ms":\#(i % 500).5,"status_code":503,"endpoint":"/api/orders","method":"POST","client_ip":"10.0.\#(i % 200).\#(i % 13)","user_id":"user_\#(i)"}}"#
        case 2:
            return #"{"metadata":{"user_id":null,"status_code":200.0,"client_ip":"192.168.1.\#(i % 250)"},"message":"caf\u00e9 \"quoted\" \\ tab\t","service":"svc-\#(i % 3)","level":"WARN","timestamp":"2026-01-12T01:26:06.\#(100_000 + i)Z"}"#
        case 3:
            return #"{"timestamp":\#(ts),"level":"DEBUG","service":"日本語-service","message":"ünïcödé 🚀","host":null,"trace_id":"t-\#(i)","metadata":{"method":"GET","region":"eu-\#(i % 4)","response_time_ms":0}}"#
        case 4: return #"{"timestamp":\#(ts),"level":"INFO","service":"api","message":"no metadata","metadata":{}}"#
        case 5: return #"{"timestamp":\#(ts),"level":"LOUD","service":"api","message":"invalid level"}"#
        case 6:
            return #"{"timestamp":\#(ts),"level":"CRITICAL","service":"payment-service","message":"\#(String(repeating: "long message ", count: 40 + i % 30))","extra":{"nested":[1,2,{"x":null}],"flag":true}}"#
        case 7: return #"  {"level":"FATAL","timestamp":\#(ts),"message":"","service":"s"}  "#
        default:
            return #"{"timestamp":\#(ts),"level":"INFO","service":"api","message":"m","metadata":{"endpoint":"/api/\u0041","response_time_ms":1e2,"status_code":404}}"#
        }
    }

    /// Reads `lines` as one NDJSON body and checks every row, error and span against the
    /// records read one by one.
    static func checkLogs(_ lines: [String]) throws {
        let body = Array(lines.joined(separator: "\n").utf8)
        #expect(body.count > 64 * 1024 * 2)
        var reader = JSONBodyReader()
        var batch = LogBatch()
        let result = try reader.readLogs(body: body, into: &batch)
        var alone = JSONBodyReader()
        var expected: [LogRecord] = []
        var expectedErrors: [RecordError] = []
        var acceptedLines: [String] = []
        for (index, line) in lines.enumerated() {
            var one = LogBatch()
            let error = Array(line.utf8).withUnsafeBytes { alone.appendLog(json: $0, to: &one) }
            if let error {
                expectedErrors.append(RecordError(index: index, field: error.field, message: error.message, reason: error.reason))
            } else {
                expected.append(one.record(at: 0))
                acceptedLines.append(line.trimmingCharacters(in: .whitespaces))
            }
        }
        #expect(result.total == lines.count)
        #expect(batch.count == expected.count)
        #expect(result.accepted == expected.count)
        #expect(result.errors == expectedErrors)
        for row in 0..<min(batch.count, expected.count) where batch.record(at: row) != expected[row] {
            Issue.record("row \(row) differs: \(batch.record(at: row)) against \(expected[row])")
            break
        }
        let accepted = result.acceptedSpans.map { String(decoding: body[$0], as: UTF8.self) }
        #expect(accepted == acceptedLines)
    }

    @Test func shortFirstRecordThenLongerOnes() throws {
        // The first record is the shortest shape: the reservation undershoots and the
        // columns grow as usual.
        try Self.checkLogs((0..<3_000).map(Self.logLine))
    }

    @Test func longFirstRecordThenShorterOnes() throws {
        // The first record is a long one: the reservation overshoots the rows.
        try Self.checkLogs((0..<3_000).map { Self.logLine($0 + 6) })
    }

    @Test func firstRecordWithoutOptionalColumnsThenWithThem() throws {
        // Host, metadata and extra are empty or null in the first record, so those columns
        // reserve no bytes; later rows fill them.
        try Self.checkLogs((0..<3_000).map { Self.logLine($0 == 0 ? 0 : $0 % 2 == 0 ? 3 : 1 + $0 % 9) })
    }

    @Test func batchThatAlreadyHoldsRowsIsAppendedTo() throws {
        // A batch with rows is not reserved for; the body's rows follow the existing ones.
        let lines = (0..<3_000).map(Self.logLine)
        var reader = JSONBodyReader()
        var batch = LogBatch()
        _ = try reader.readLogs(body: Array(Self.logLine(1).utf8), into: &batch)
        let result = try reader.readLogs(body: Array(lines.joined(separator: "\n").utf8), into: &batch)
        let invalid = lines.indices.filter { $0 % 9 == 5 }.count
        #expect(result.accepted == 3_000 - invalid)
        #expect(batch.count == 1 + 3_000 - invalid)
        var again = LogBatch()
        _ = try reader.readLogs(body: Array(lines.joined(separator: "\n").utf8), into: &again)
        for row in 0..<again.count where batch.record(at: row + 1) != again.record(at: row) {
            Issue.record("row \(row) differs")
            break
        }
    }

    @Test func largeActivityBody() throws {
        let lines = (0..<4_000).map { i -> String in
            switch i % 4 {
            case 0: return #"{"event_id":"e\#(i)","timestamp":1736645166.\#(100_000 + i),"user_id":"u\#(i % 50)","event_type":"VIEW"}"#
            case 1:
                return #"{"event_id":"e\#(i)","timestamp":1736645166.5,"user_id":"u","session_id":"s\#(i)","event_type":"PURCHASE","event_data":{"product_id":"p\#(i)","amount":\#(i).25,"coupon":"X"},"device":{"type":"mobile","os":"iOS","browser":"Safari"}}"#
            case 2: return #"{"device":{"browser":"Firefox"},"event_type":"CLICK","user_id":"ü\#(i)","timestamp":"2026-01-12T01:26:06Z","event_id":"e\#(i)","event_data":{"page":"/p/\#(i)","element":"btn","query":null}}"#
            default: return #"{"event_id":"e\#(i)","timestamp":1736645166,"user_id":"u","event_type":""}"#
            }
        }
        let body = Array(lines.joined(separator: "\n").utf8)
        #expect(body.count > 64 * 1024 * 2)
        var reader = JSONBodyReader()
        var batch = ActivityBatch()
        let result = try reader.readActivities(body: body, into: &batch)
        var alone = JSONBodyReader()
        var expected: [ActivityEvent] = []
        for line in lines {
            var one = ActivityBatch()
            if Array(line.utf8).withUnsafeBytes({ alone.appendActivity(json: $0, to: &one) }) == nil {
                expected.append(one.event(at: 0))
            }
        }
        #expect(expected.count == 3_000)
        #expect(batch.count == 3_000)
        #expect(result.errors.count == 1_000)
        #expect((0..<batch.count).map { batch.event(at: $0) } == expected)
    }
}
