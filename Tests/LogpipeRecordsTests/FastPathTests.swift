@testable import LogpipeRecords
import LogpipeTesting
import Testing

// The reader's fast path (RecordFastPath.swift) against its general walk: every body is
// read twice, by a reader with the fast path and by one without, and both must give the
// same columns, the same errors and the same spans. What the fast path cannot take it
// hands to the general walk, so these tests also check that it took what it should.

/// A body read both ways; the columns rendered exactly (every buffer, validity included).
struct BothWays {
    var result: BodyReadResult
    var columns: String
    /// Records the fast path accepted (in the reader that has it).
    var fast: Int
}

/// Reads `body` as logs with and without the fast path, records an issue when they differ,
/// and returns the fast path's reading.
@discardableResult
func logsBothWays(_ body: [UInt8], limits: RecordLimits = RecordLimits(),
                  sourceLocation: SourceLocation = #_sourceLocation) -> BothWays? {
    var fastReader = JSONBodyReader()
    var general = JSONBodyReader()
    general.parser.fastPath = false
    var a = LogBatch(), b = LogBatch()
    let ra = Result { () throws(BodyError) in try fastReader.readLogs(body: body, limits: limits, into: &a) }
    let rb = Result { () throws(BodyError) in try general.readLogs(body: body, limits: limits, into: &b) }
    return compare(ra, rb, String(reflecting: a), String(reflecting: b), fastReader.parser.fastAccepted,
                   general.parser.fastAccepted, body, sourceLocation)
}

/// `logsBothWays` for activity events.
@discardableResult
func activitiesBothWays(_ body: [UInt8], limits: RecordLimits = RecordLimits(),
                        sourceLocation: SourceLocation = #_sourceLocation) -> BothWays? {
    var fastReader = JSONBodyReader()
    var general = JSONBodyReader()
    general.parser.fastPath = false
    var a = ActivityBatch(), b = ActivityBatch()
    let ra = Result { () throws(BodyError) in try fastReader.readActivities(body: body, limits: limits, into: &a) }
    let rb = Result { () throws(BodyError) in try general.readActivities(body: body, limits: limits, into: &b) }
    return compare(ra, rb, String(reflecting: a), String(reflecting: b), fastReader.parser.fastAccepted,
                   general.parser.fastAccepted, body, sourceLocation)
}

private func compare(_ ra: Result<BodyReadResult, BodyError>, _ rb: Result<BodyReadResult, BodyError>,
                     _ ca: String, _ cb: String, _ fast: Int, _ generalFast: Int, _ body: [UInt8],
                     _ sourceLocation: SourceLocation) -> BothWays? {
    let text = String(decoding: body.prefix(400), as: UTF8.self)
    #expect(generalFast == 0, "the general reader took the fast path", sourceLocation: sourceLocation)
    switch (ra, rb) {
    case (.success(let x), .success(let y)):
        #expect(x.errors == y.errors, "errors differ for \(text)", sourceLocation: sourceLocation)
        #expect(x.acceptedSpans == y.acceptedSpans && x.rejectedSpans == y.rejectedSpans && x.total == y.total,
                "spans differ for \(text)", sourceLocation: sourceLocation)
        #expect(ca == cb, "columns differ for \(text)", sourceLocation: sourceLocation)
        return BothWays(result: x, columns: ca, fast: fast)
    case (.failure(let x), .failure(let y)):
        #expect(x.offset == y.offset && x.message == y.message, "body errors differ for \(text)", sourceLocation: sourceLocation)
        #expect(ca == cb, "columns differ after a body error for \(text)", sourceLocation: sourceLocation)
        return nil
    default:
        Issue.record("one reader failed the body, the other did not: \(ra) / \(rb) for \(text)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A log record as the seed's generator writes it (its key order, no whitespace), with
/// fields drawn from `rng`; `members` has the same members as text, for reordering.
func generatorLog(_ rng: inout SplitMix) -> (line: String, members: [String], metadata: [String]) {
    let levels = ["INFO", "WARN", "ERROR", "DEBUG"]
    let seconds = 1_768_183_100 + rng.below(200_000)
    let fraction = rng.chance(0.5) ? "." + String(rng.below(1_000_000)) : ""
    let metadata = [
        #""request_id":"\#(String(rng.next(), radix: 16))-4b1c-9f0e""#,
        #""response_time_ms":\#(rng.below(3000))"#,
        #""status_code":\#(rng.pick([200, 201, 404, 500, 503]))"#,
        #""endpoint":"/api/\#(rng.pick(["users", "orders", "cart"]))/\#(rng.below(100))""#,
        #""method":"\#(rng.pick(["GET", "POST", "DELETE"]))""#,
        #""client_ip":"10.\#(rng.below(256)).\#(rng.below(256)).\#(rng.below(256))""#,
        #""user_id":"user_\#(rng.below(99999))""#,
    ]
    let members = [
        #""timestamp":\#(seconds)\#(fraction)"#,
        #""level":"\#(rng.pick(levels))""#,
        #""service":"\#(rng.pick(["api-gateway", "payment-service", "auth"]))""#,
        #""host":"worker-\#(rng.below(9))""#,
        #""message":"\#(rng.pick(["Request processed successfully", "Client error: Not Found", "Slow request"]))""#,
    ]
    let line = "{" + members.joined(separator: ",") + #","metadata":{"# + metadata.joined(separator: ",") + "}}"
    return (line, members, metadata)
}

/// `members` in a random order, each `"key":value` spelled with whitespace around the colon
/// when `spaced` (as Python's `json.dumps` writes them).
func shuffled(_ members: [String], _ rng: inout SplitMix, spaced: Bool) -> String {
    var m = members
    for i in stride(from: m.count - 1, to: 0, by: -1) { m.swapAt(i, rng.below(i + 1)) }
    if spaced {
        m = m.map { member in
            let colon = member.firstIndex(of: ":")!
            return String(member[..<colon]) + " : " + String(member[member.index(after: colon)...])
        }
    }
    return "{" + m.joined(separator: spaced ? ", " : ",") + "}"
}

@Suite("JSON reader fast path")
struct FastPathTests {
    @Test("generator-order records take the fast path; the same records shuffled or spaced give the same columns")
    func generatorOrderAndShuffled() throws {
        var rng = SplitMix(seed: 14)
        var ordered = "", shuffledBody = "", spacedBody = ""
        for _ in 0..<500 {
            let (line, members, metadata) = generatorLog(&rng)
            ordered += line + "\n"
            let meta = shuffled(metadata, &rng, spaced: false)
            shuffledBody += shuffled(members + [#""metadata":"# + meta], &rng, spaced: false) + "\n"
            spacedBody += shuffled(members + [#""metadata":"# + meta], &rng, spaced: true) + "\n"
        }
        let a = try #require(logsBothWays(Array(ordered.utf8)))
        let b = try #require(logsBothWays(Array(shuffledBody.utf8)))
        let c = try #require(logsBothWays(Array(spacedBody.utf8)))
        #expect(a.result.accepted == 500 && b.result.accepted == 500 && c.result.accepted == 500)
        #expect(a.fast == 500 && b.fast == 500 && c.fast == 500)
        #expect(a.columns == b.columns)
        #expect(a.columns == c.columns)
    }

    @Test("activity events in the generator's order and shuffled give the same columns, all on the fast path")
    func activitiesOrderedAndShuffled() throws {
        var rng = SplitMix(seed: 15)
        var ordered = "", mixed = ""
        for i in 0..<300 {
            let data = [#""page":"/products/\#(i)""#, #""element":"add_to_cart""#, #""amount":\#(rng.below(10000)).\#(rng.below(100))"#]
            let device = [#""type":"mobile""#, #""os":"iOS""#, #""browser":"Safari""#]
            let top = [#""event_id":"evt-\#(i)""#, #""timestamp":\#(1_768_183_100 + i).25"#, #""user_id":"user_\#(i % 37)""#,
                       #""session_id":"sess_\#(i % 11)""#, #""event_type":"CLICK""#]
            ordered += "{" + top.joined(separator: ",") + #","event_data":{"# + data.joined(separator: ",") + #"},"device":{"#
                + device.joined(separator: ",") + "}}\n"
            mixed += shuffled(top + [#""event_data":"# + shuffled(data, &rng, spaced: false),
                                     #""device":"# + shuffled(device, &rng, spaced: true)], &rng, spaced: i % 2 == 0) + "\n"
        }
        let a = try #require(activitiesBothWays(Array(ordered.utf8)))
        let b = try #require(activitiesBothWays(Array(mixed.utf8)))
        #expect(a.result.accepted == 300 && b.result.accepted == 300)
        #expect(a.fast == 300 && b.fast == 300)
        #expect(a.columns == b.columns)
    }

    @Test("a string with an escape or non-ASCII at every offset around the 8-byte scan boundary")
    func escapesAtScanBoundaries() throws {
        let specials: [(json: String, value: String)] = [
            (#"\""#, "\""), (#"\\"#, "\\"), (#"\n"#, "\n"), (#"\u00e9"#, "é"), ("é", "é"), (#"\ud83d\ude00"#, "😀"), ("😀", "😀"),
        ]
        var body = ""
        var expected: [String] = []
        for prefix in 0..<18 {
            for (json, value) in specials {
                let head = String(repeating: "a", count: prefix)
                body += #"{"timestamp":1768183100,"level":"INFO","service":"\#(head)\#(json)z","message":"m"}"# + "\n"
                expected.append(head + value + "z")
            }
        }
        // The last record ends the body right after the escape's string: no newline to stop a scan.
        body += #"{"timestamp":1,"level":"INFO","service":"s","message":"x\"y"}"#
        expected.append("s")
        let r = try #require(logsBothWays(Array(body.utf8)))
        #expect(r.result.accepted == expected.count)
        #expect(r.fast == expected.count)
        let (_, batch) = try readLogs(body)
        #expect((0..<batch.count).map { batch.service[row: $0]! } == expected)
        #expect(batch.message[row: batch.count - 1] == "x\"y")
    }

    @Test("nulls, missing optional fields and values the fast path leaves to the general walk")
    func fallbacks() throws {
        let head = #""timestamp":1768183100.5,"level":"INFO","service":"s","message":"m""#
        // (record, whether the fast path takes it)
        let cases: [(String, Bool)] = [
            ("{\(head)}", true),
            ("{\(head),\"host\":null,\"metadata\":null}", true),
            ("{\(head),\"metadata\":{}}", true),
            ("{\(head),\"metadata\":{\"status_code\":null,\"user_id\":\"u\"}}", true),
            (#"{"message":"m","service":"s","level":"WARN","timestamp":0}"#, true),
            ("{\(head),\"metadata\":{\"response_time_ms\":0.125,\"status_code\":0}}", true),
            (#"{"timestamp":1768183100.1234567,"level":"INFO","service":"","message":""}"#, true),
            // Timestamps: RFC 3339, exponent, negative, too many digits, too far.
            (#"{"timestamp":"2026-01-12T01:26:06.291045Z","level":"INFO","service":"s","message":"m"}"#, true),
            (#"{"timestamp":"2026-01-12 10:26:06+09:00","level":"INFO","service":"s","message":"m"}"#, true),
            (#"{"timestamp":"2026-02-30T01:26:06Z","level":"INFO","service":"s","message":"m"}"#, false),
            (#"{"timestamp":"1969-12-31T23:59:59Z","level":"INFO","service":"s","message":"m"}"#, false),
            (#"{"timestamp":"2026-01-12T01:26:06\u005a","level":"INFO","service":"s","message":"m"}"#, false),
            (#"{"timestamp":1768183100e0,"level":"INFO","service":"s","message":"m"}"#, false),
            (#"{"timestamp":-1,"level":"INFO","service":"s","message":"m"}"#, false),
            (#"{"timestamp":-0.0,"level":"INFO","service":"s","message":"m"}"#, false),
            (#"{"timestamp":17681831000,"level":"INFO","service":"s","message":"m"}"#, false),
            (#"{"timestamp":7289654400,"level":"INFO","service":"s","message":"m"}"#, false),
            (#"{"timestamp":7289654399.999999,"level":"INFO","service":"s","message":"m"}"#, true),
            (#"{"timestamp":01,"level":"INFO","service":"s","message":"m"}"#, false),
            (#"{"timestamp":1.,"level":"INFO","service":"s","message":"m"}"#, false),
            // Numbers in metadata.
            ("{\(head),\"metadata\":{\"status_code\":200.0}}", false),
            ("{\(head),\"metadata\":{\"status_code\":2147483648}}", false),
            ("{\(head),\"metadata\":{\"status_code\":-1}}", false),
            ("{\(head),\"metadata\":{\"status_code\":007}}", false),
            ("{\(head),\"metadata\":{\"response_time_ms\":1e3}}", false),
            ("{\(head),\"metadata\":{\"response_time_ms\":-0}}", false),
            ("{\(head),\"metadata\":{\"response_time_ms\":1234567890.1234567}}", false),
            ("{\(head),\"metadata\":{\"response_time_ms\":\"5\"}}", false),
            // Level, required null, duplicates, unknown keys, escaped keys, syntax.
            (#"{"timestamp":1,"level":"info","service":"s","message":"m"}"#, true),
            (#"{"timestamp":1,"level":"IN\u0046O","service":"s","message":"m"}"#, false),
            (#"{"timestamp":1,"level":"INFO","service":null,"message":"m"}"#, false),
            (#"{"timestamp":1,"level":"INFO","service":"s","message":"m","service":"t"}"#, false),
            (#"{"timestamp":1,"level":"INFO","service":"s","message":"m","trace":"t"}"#, false),
            (#"{"timestamp":1,"level":"INFO","service":"s","message":"m","metadata":{"region":"eu"}}"#, false),
            (#"{"timestamp":1,"level":"INFO","serv\u0069ce":"s","message":"m"}"#, false),
            (#"{"timestamp":1,"level":"INFO","service":"s","message":"m"} x"#, false),
            (#"{"timestamp":1,"level":"INFO","service":"s","message":"m",}"#, false),
            (#"{"timestamp":1,"level":"INFO","service":"s","message":"bad \u12"}"#, false),
            (#"{"timestamp":1,"level":"INFO","service":"s","message":"lone \ud800"}"#, false),
            ("{\"timestamp\":1,\"level\":\"INFO\",\"service\":\"s\",\"message\":\"tab\t\"}", false),
            (#"{"timestamp":1,"level":"INFO","service":"s","message":"m","metadata":[]}"#, false),
        ]
        for (record, fast) in cases {
            let r = try #require(logsBothWays(Array(record.utf8)))
            #expect(r.fast == (fast ? 1 : 0), "fast path \(fast ? "not taken" : "taken") for \(record)")
        }
        // Invalid UTF-8 in a string.
        var bytes = Array(#"{"timestamp":1,"level":"INFO","service":"s","message":"x"#.utf8)
        bytes += [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(logsBothWays(bytes)?.fast == 0)
        // Activities: an empty event_type is the general walk's to reject.
        let empty = #"{"event_id":"e","timestamp":1,"user_id":"u","event_type":""}"#
        let r = try #require(activitiesBothWays(Array(empty.utf8)))
        #expect(r.fast == 0 && r.result.errors.map(\.field) == ["event_type"])
    }

    @Test("limits below the fast path's keys, and records past a limit, go to the general walk")
    func limits() throws {
        let record = #"{"timestamp":1,"level":"INFO","service":"abcdefghijklmnopqrstuvwxyz","message":"m","metadata":{"user_id":"u"}}"#
        for limits in [RecordLimits(maxStringBytes: 8), RecordLimits(maxStringBytes: 20), RecordLimits(maxFieldsPerObject: 3),
                       RecordLimits(maxRecordBytes: 60), RecordLimits(maxDepth: 1)] {
            logsBothWays(Array(record.utf8), limits: limits)
        }
        #expect(logsBothWays(Array(record.utf8), limits: RecordLimits(maxStringBytes: 20))?.fast == 0)
        #expect(logsBothWays(Array(record.utf8), limits: RecordLimits(maxStringBytes: 26))?.fast == 1)
    }

    @Test("random records, and random damage to them, read the same with and without the fast path")
    func randomAndDamaged() {
        var maker = RecordMaker(seed: 1414)
        var rng = SplitMix(seed: 99)
        var fast = 0
        for i in 0..<1500 {
            var line = Array((i % 3 == 2 ? maker.activity().json : maker.log().json).utf8)
            if i % 2 == 1 {
                // Damage: cut it, change a byte, or drop one.
                let at = rng.below(line.count)
                switch rng.below(3) {
                case 0: line.removeSubrange(at...)
                case 1: line[at] = rng.pick(Array(#"{}[]":,"\ 0-.eEnx"#.utf8) + [0x80, 0xFF, 0x0A])
                default: line.remove(at: at)
                }
            }
            let r = i % 3 == 2 ? activitiesBothWays(line) : logsBothWays(line)
            fast += r?.fast ?? 0
        }
        // Some of the undamaged records have no unknown members and took the fast path.
        #expect(fast > 20)
    }

    @Test("bus messages, one by one and in bulk, take the fast path and reject like the general walk")
    func messages() {
        var rng = SplitMix(seed: 16)
        var lines: [[UInt8]] = []
        for i in 0..<3000 {
            var line = Array(generatorLog(&rng).line.utf8)
            if i % 4 == 3 { line.insert(UInt8(ascii: "x"), at: rng.below(line.count)) }
            if i % 50 == 7 { line = Array(#"{"timestamp":1,"level":"INFO","service":"s","message":"m","extra":[1]}"#.utf8) }
            lines.append(line)
        }
        var one = JSONBodyReader()
        var general = JSONBodyReader()
        general.parser.fastPath = false
        var bulk = JSONBodyReader()
        var a = LogBatch(), b = LogBatch(), c = LogBatch()
        var errorsOne: [RecordError?] = [], errorsGeneral: [RecordError?] = [], errorsBulk: [RecordError?] = []
        for line in lines {
            errorsOne.append(line.withUnsafeBytes { one.appendLog(json: $0, to: &a) })
            errorsGeneral.append(line.withUnsafeBytes { general.appendLog(json: $0, to: &b) })
        }
        // The messages back to back in one buffer, as a fetched bus batch holds them.
        let buffer = lines.flatMap { $0 }
        var ranges: [Range<Int>] = []
        for line in lines { ranges.append((ranges.last?.upperBound ?? 0)..<((ranges.last?.upperBound ?? 0) + line.count)) }
        var seen: [Int] = []
        buffer.withUnsafeBytes { bytes in
            bulk.appendLogs(count: lines.count, to: &c, message: { UnsafeRawBufferPointer(rebasing: bytes[ranges[$0]]) },
                            outcome: { i, error in
                                seen.append(i)
                                errorsBulk.append(error)
                            })
        }
        #expect(seen == Array(lines.indices))
        #expect(errorsOne == errorsGeneral)
        #expect(errorsBulk == errorsGeneral)
        #expect(String(reflecting: a) == String(reflecting: b))
        #expect(String(reflecting: c) == String(reflecting: b))
        let accepted = errorsGeneral.count(where: { $0 == nil })
        #expect(a.count == accepted && accepted > 2000)
        #expect(one.parser.fastAccepted == bulk.parser.fastAccepted && one.parser.fastAccepted > 2000)
    }
}
