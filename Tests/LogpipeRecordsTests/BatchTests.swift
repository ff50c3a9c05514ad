import LogpipeRecords
import Testing

@Suite("Batches")
struct BatchTests {
    func batch(_ records: [String]) throws -> LogBatch {
        let (result, batch) = try readLogs(records.joined(separator: "\n"))
        precondition(result.errors.isEmpty)
        return batch
    }

    @Test func rowRangeCopyKeepsValuesAndNulls() throws {
        let a = try batch([log(rest: #","host":"h0","metadata":{"status_code":1}"#), log(), log(rest: #","host":"h2","x":1"#)])
        var b = try batch([log(service: #""first""#, rest: #","host":"only""#)])
        b.append(contentsOf: a, rows: 1..<3)
        #expect(b.count == 3)
        #expect((0..<3).map { b.record(at: $0) } == [b.record(at: 0), a.record(at: 1), a.record(at: 2)])
        #expect(b.host.validity == [true, false, true])
        #expect(b.metadataValidity == [false, false, false])
        b.append(contentsOf: a)
        #expect(b.count == 6)
        #expect(b.record(at: 3) == a.record(at: 0) && b.metadataValidity == [false, false, false, true, false, false])
        #expect(b.statusCode[row: 3] == 1 && b.statusCode.nullCount == 5)
        #expect(b.extra[row: 2] == #"{"x":1}"# && b.extra[row: 5] == #"{"x":1}"#)
    }

    @Test func truncateDropsRowsAndNormalisesValidity() throws {
        var b = try batch([log(rest: #","host":"h0""#), log(rest: #","host":"h1""#), log()])
        #expect(b.host.validity == [true, true, false])
        b.truncate(toCount: 2)
        #expect(b.count == 2 && b.host.validity == nil && b.host.bytes == Array("h0h1".utf8))
        #expect(b.service.offsets == [0, 3, 6] && b.extra.offsets == [0, 0, 0])
        b.removeAll()
        #expect(b.count == 0 && b.service.offsets == [0] && b.service.bytes.isEmpty)
    }

    @Test func recordValuesRoundTripThroughTheBatch() {
        let r = LogRecord(timestampMicros: 5, level: .critical, service: "s", host: nil, message: "m",
                          metadata: .init(requestId: "r", responseTimeMs: 1.5, statusCode: 503), extra: #"{"k":1}"#)
        var b = LogBatch()
        b.append(r)
        b.append(LogRecord(timestampMicros: 6, level: .trace, service: "t", message: "n"))
        #expect(b.record(at: 0) == r && b.count == 2 && b.metadataValidity == [true, false])
        var e = ActivityBatch()
        let ev = ActivityEvent(eventId: "e", timestampMicros: 1, userId: "u", eventType: "VIEW",
                               eventData: .init(page: "/"), device: nil, extra: nil)
        e.append(ev)
        e.append(contentsOf: e)
        #expect(e.count == 2 && e.event(at: 1) == ev && e.deviceValidity == [false, false])
        e.truncate(toCount: 1)
        #expect(e.count == 1 && e.eventId.offsets == [0, 1])
    }

    @Test func stringsWithSpecialBytesAtEveryOffsetDecode() throws {
        // The scanner reads eight bytes at a time; put each kind of special byte at every
        // position relative to those words.
        let specials: [(String, String)] = [(#"\n"#, "\n"), (#"\""#, "\""), ("é", "é"), ("😀", "😀"), (#"\u0041"#, "A")]
        var records: [String] = []
        var expected: [String] = []
        for k in 0..<20 {
            for (json, value) in specials {
                let pad = String(repeating: "a", count: k)
                records.append(log(message: "\"\(pad)\(json)\(pad)b\""))
                expected.append(pad + value + pad + "b")
            }
        }
        let b = try batch(records)
        #expect((0..<b.count).map { b.message[row: $0]! } == expected)
    }

    @Test func levelNamesAndTimeConstants() {
        for level in LogLevel.allCases {
            #expect(LogLevel(name: level.description) == level)
            #expect(Array(level.nameBytes) == Array(level.description.utf8))
        }
        #expect(LogLevel(name: "Info") == nil)
        #expect(EventTime.endMicros == EventTime.daysFromCivil(year: 2201, month: 1, day: 1) * 86_400_000_000)
        #expect(EventTime.daysFromCivil(year: 1970, month: 1, day: 1) == 0)
        #expect(EventTime.daysFromCivil(year: 2000, month: 3, day: 1) == 11_017)
    }
}
