import LogpipeRecords
import Testing

@Suite("Body forms")
struct BodyFormTests {
    @Test func contractSampleParsesIntoEveryColumn() throws {
        let (result, batch) = try readLogs(sampleLog)
        #expect(result.total == 1 && result.errors.isEmpty && result.acceptedSpans == [0..<sampleLog.utf8.count])
        #expect(batch.count == 1)
        #expect(batch.timestampMicros.values == [1_736_645_166_291_045])
        #expect(batch.logLevel(row: 0) == .info)
        #expect(batch.service[row: 0] == "api-gateway")
        #expect(batch.host[row: 0] == "worker-1")
        #expect(batch.message[row: 0] == "Request processed successfully")
        #expect(batch.hasMetadata(row: 0))
        #expect(batch.requestId[row: 0] == "uuid-1234")
        #expect(batch.responseTimeMs[row: 0] == 45)
        #expect(batch.statusCode[row: 0] == 200)
        #expect(batch.endpoint[row: 0] == "/api/users")
        #expect(batch.method[row: 0] == "GET")
        #expect(batch.clientIp[row: 0] == "10.1.2.3")
        #expect(batch.userId[row: 0] == "user_12345")
        #expect(batch.extra[row: 0] == nil)
    }

    @Test func activitySampleParsesIntoEveryColumn() throws {
        let (result, batch) = try readActivities(sampleEvent)
        #expect(result.total == 1 && result.errors.isEmpty)
        let e = batch.event(at: 0)
        #expect(e == ActivityEvent(
            eventId: "evt-uuid-5678", timestampMicros: 1_736_645_166_456_789, userId: "user_12345",
            sessionId: "sess_abcde", eventType: "CLICK",
            eventData: .init(page: "/products/123", element: "add_to_cart_button"),
            device: .init(type: "mobile", os: "iOS", browser: "Safari")))
    }

    @Test func arrayOfObjects() throws {
        let body = "[\(log()), \n \(log(service: #""b""#))]"
        let (result, batch) = try readLogs(body)
        #expect(result.total == 2 && batch.count == 2 && result.errors.isEmpty)
        #expect(batch.service[row: 1] == "b")
        #expect(result.acceptedSpans.map { text(body, $0) } == [log(), log(service: #""b""#)])
    }

    @Test func emptyArrayHasNoRecords() throws {
        let (result, batch) = try readLogs(" [ ] \n")
        #expect(result.total == 0 && batch.count == 0)
    }

    @Test func ndjsonWithBlankLinesAndCRLF() throws {
        let body = "\(log())\r\n\r\n   \n\(log(service: #""b""#))\r\n\(log(service: #""c""#))"
        let (result, batch) = try readLogs(body)
        #expect(result.total == 3 && batch.count == 3 && result.errors.isEmpty)
        #expect((0..<3).map { batch.service[row: $0]! } == ["api", "b", "c"])
        #expect(result.acceptedSpans.map { text(body, $0) } == [log(), log(service: #""b""#), log(service: #""c""#)])
    }

    @Test func singleObjectSpanningLines() throws {
        let body = "{\n  \"timestamp\": 1,\n  \"level\": \"INFO\",\n  \"service\": \"s\",\n  \"message\": \"m\"\n}\n"
        let (result, batch) = try readLogs(body)
        #expect(result.total == 1 && batch.count == 1 && result.errors.isEmpty)
        #expect(result.acceptedSpans == [0..<(body.utf8.count - 1)])
        #expect(batch.timestampMicros.values == [1_000_000])
    }

    @Test func singleObjectSpanningLinesWithAnInvalidField() throws {
        let body = "{\n \"timestamp\": 1,\n \"level\": \"LOUD\",\n \"service\": \"s\",\n \"message\": \"m\"\n}"
        let (result, batch) = try readLogs(body)
        #expect(result.total == 1 && batch.count == 0)
        #expect(result.errors == [RecordError(index: 0, field: "level", message: "unknown level 'LOUD': expected one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL (any case)", reason: .invalidValue)])
    }

    @Test func byteOrderMarkIsSkipped() throws {
        let (result, batch) = try readLogs([0xEF, 0xBB, 0xBF] + Array("[\(log())]".utf8))
        #expect(result.total == 1 && batch.count == 1)
        #expect(result.acceptedSpans == [4..<(4 + log().utf8.count)])
    }

    @Test func ndjsonBadLineIsOnlyThatRecord() throws {
        let body = "\(log())\n{\"timestamp\": 1, \"level\"\n\(log(service: #""c""#))\n[1]\n\(log()) x\n"
        let (result, batch) = try readLogs(body)
        #expect(result.total == 5)
        #expect(batch.count == 2)
        #expect(result.errors.map(\.index) == [1, 3, 4])
        #expect(result.errors.map(\.reason) == [.syntax, .wrongType, .syntax])
        #expect(result.errors.allSatisfy { $0.field == "$" })
        #expect(text(body, result.rejectedSpans[0]) == "{\"timestamp\": 1, \"level\"")
        #expect(text(body, result.rejectedSpans[1]) == "[1]")
        #expect(text(body, result.rejectedSpans[2]) == "\(log()) x")
    }

    @Test func singleRecordEntryPoint() {
        var reader = JSONBodyReader()
        var batch = LogBatch()
        let good = Array("  \(log())\n".utf8)
        let bad = Array(log(level: #""NOPE""#).utf8)
        let e1 = good.withUnsafeBytes { reader.appendLog(json: $0, to: &batch) }
        let e2 = bad.withUnsafeBytes { reader.appendLog(json: $0, to: &batch) }
        let e3 = Array("\(log()) \(log())".utf8).withUnsafeBytes { reader.appendLog(json: $0, to: &batch) }
        #expect(e1 == nil)
        #expect(e2 == RecordError(index: 0, field: "level", message: "unknown level 'NOPE': expected one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL (any case)", reason: .invalidValue))
        #expect(e3?.reason == .syntax)
        #expect(batch.count == 1)
    }

    @Test func singleRecordEntryPointParsesSlicesOfOneBuffer() {
        // A fetched bus batch: many records back to back in one buffer, parsed by range.
        let records = (0..<50).map { log(ts: "\($0)", service: "\"s\($0)\"") }
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for r in records {
            let start = buffer.count
            buffer += Array(r.utf8)
            ranges.append(start..<buffer.count)
        }
        var reader = JSONBodyReader()
        var batch = LogBatch()
        buffer.withUnsafeBytes { all in
            for r in ranges {
                #expect(reader.appendLog(json: UnsafeRawBufferPointer(rebasing: all[r]), to: &batch) == nil)
            }
        }
        #expect(batch.count == 50)
        #expect(batch.service[row: 49] == "s49")
        #expect(batch.timestampMicros.values[7] == 7_000_000)
    }
}
