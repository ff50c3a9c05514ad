import LogpipeRecords
import LogpipeTesting
import Testing

@Suite("Bad input corpus")
struct BadInputTests {
    func bodyError(_ bytes: [UInt8]) -> BodyError? {
        do {
            _ = try readLogs(bytes)
            return nil
        } catch {
            return error
        }
    }

    func bodyError(_ text: String) -> BodyError? { bodyError(Array(text.utf8)) }

    @Test func bodiesThatCannotBeSplitIntoRecords() {
        #expect(bodyError("") == BodyError(offset: 0, message: "empty body"))
        #expect(bodyError(" \r\n\t ") == BodyError(offset: 5, message: "empty body"))
        #expect(bodyError([0xEF, 0xBB, 0xBF]) == BodyError(offset: 3, message: "empty body"))
        #expect(bodyError("hello")?.offset == 0)
        #expect(bodyError("42")?.offset == 0)
        #expect(bodyError("\"x\"")?.offset == 0)
        let truncated = "[\(log()), {\"timestamp\": 17"
        #expect(bodyError(truncated)?.offset == truncated.utf8.count)
        #expect(bodyError("[\(log())")?.offset == log().utf8.count + 1)
        #expect(bodyError("[\(log()),]")?.offset == log().utf8.count + 2)
        #expect(bodyError("[\(log())] x")?.offset == log().utf8.count + 3)
        #expect(bodyError("[\(log())][]")?.offset == log().utf8.count + 2)
        #expect(bodyError("[\(log()) \(log())]")?.offset == log().utf8.count + 2)
        #expect(bodyError("[1, 2")?.offset == 5)
        #expect(bodyError("[{\"a\" 1}]")?.offset == 6)
        #expect(bodyError("[") != nil)
        // A byte order mark anywhere but the start is just a bad byte.
        #expect(bodyError([0x20, 0xEF, 0xBB, 0xBF] + Array("[]".utf8))?.offset == 1)
    }

    @Test func aFailedArrayLeavesTheCallersBatchUnchanged() {
        var reader = JSONBodyReader()
        var batch = LogBatch()
        _ = try? reader.readLogs(body: Array(log().utf8), into: &batch)
        #expect(batch.count == 1)
        #expect(throws: BodyError.self) {
            try reader.readLogs(body: Array("[\(log()), \(log()), {".utf8), into: &batch)
        }
        #expect(batch.count == 1 && batch.service.bytes == Array("api".utf8))
    }

    @Test func nonObjectElementsAreRecordErrors() throws {
        let (result, batch) = try readLogs("[1, \"x\", null, [], {}, \(log())]")
        #expect(result.total == 6 && batch.count == 1)
        #expect(result.errors.map(\.index) == [0, 1, 2, 3, 4])
        #expect(result.errors.prefix(4).allSatisfy { $0.field == "$" && $0.message == "expected an object" })
        #expect(result.errors[4] == RecordError(index: 4, field: "timestamp", message: "required field missing", reason: .missingField))
    }

    @Test func deepNestingNeverOverflowsTheStack() throws {
        let depth = 10_000
        let deepArray = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let deepObject = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        // As an array element: not an object, but well-formed, so only that record fails.
        let (r1, b1) = try readLogs("[\(deepArray), \(log())]")
        #expect(r1.total == 2 && b1.count == 1 && r1.errors.map(\.index) == [0])
        // Inside a record: too deep.
        let (r2, _) = try readLogs("[\(log(rest: ",\"x\":\(deepArray)")), \(log(rest: ",\"y\":\(deepObject)"))]")
        #expect(r2.errors == [
            RecordError(index: 0, field: "x", message: "nesting deeper than 32 levels", reason: .tooDeep),
            RecordError(index: 1, field: "y", message: "nesting deeper than 32 levels", reason: .tooDeep),
        ])
        // Unbalanced: the array body is rejected, the NDJSON line alone.
        let open = String(repeating: "[", count: 100_000)
        #expect(bodyError("[\(open)") != nil)
        let (r3, b3) = try readLogs("\(log(rest: ",\"x\":\(open)"))\n\(log())")
        #expect(r3.errors.map(\.reason) == [.syntax] && b3.count == 1)
        let (r4, _) = try readLogs(String(repeating: #"{"a":"#, count: 50_000))
        #expect(r4.errors.map(\.reason) == [.syntax])
    }

    @Test func invalidUTF8() {
        func withBytes(_ bytes: [UInt8], in field: String = "message") -> RecordError? {
            var body = Array(#"{"timestamp":1,"level":"INFO","service":"s","message":"ok","#.utf8)
            body += Array("\"\(field)\":\"a".utf8) + bytes + Array("b\"}".utf8)
            guard let (result, batch) = try? readLogs(body) else { return nil }
            #expect(result.total == 1 && batch.count == 0 || result.errors.isEmpty)
            return result.errors.first
        }
        let cases: [[UInt8]] = [
            [0xFF], [0x80], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF],  // stray, overlong
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],  // surrogates encoded directly
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],  // beyond U+10FFFF
            [0xE2, 0x82], [0xF0, 0x9F, 0x98],  // truncated sequences
        ]
        for bytes in cases {
            #expect(withBytes(bytes, in: "host") == RecordError(index: 0, field: "host", message: "invalid UTF-8 in string",
                                                               reason: .encoding), "\(bytes)")
            #expect(withBytes(bytes, in: "extra_field") == RecordError(index: 0, field: "extra_field",
                                                                       message: "invalid UTF-8 in string", reason: .encoding))
        }
        // Valid multi-byte sequences pass: é, €, 😀, U+10FFFF.
        for bytes: [UInt8] in [[0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xF4, 0x8F, 0xBF, 0xBF]] {
            #expect(withBytes(bytes, in: "host") == nil)
        }
        // In a key.
        var body = Array(log().utf8.dropLast())
        body += Array(",\"k".utf8) + [0xFF] + Array("\":1}".utf8)
        #expect((try? readLogs(body))?.0.errors.first?.reason == .encoding)
    }

    @Test func escapesAndSurrogates() throws {
        let (result, batch) = try readLogs(log(message: #""a\nb\"c\\d\/e\tf\rg\bh\fi\u00e9\u20AC\ud83d\ude00\u0000z""#))
        #expect(result.errors.isEmpty)
        #expect(batch.message.bytes == Array("a\nb\"c\\d/e\tf\rg\u{8}h\u{C}ié€😀\u{0}z".utf8))
        let m = "message"
        for (escape, message) in [(#"\ud800"#, "lone surrogate in \\u escape"), (#"\udc00"#, "lone surrogate in \\u escape"),
                                  (#"\ud800\u0041"#, "lone surrogate in \\u escape"), (#"\ud800x"#, "lone surrogate in \\u escape"),
                                  (#"\ude00\ud83d"#, "lone surrogate in \\u escape"),
                                  (#"\x"#, "invalid escape in string"), (#"\u12"#, "invalid escape in string"),
                                  (#"\u12G4"#, "invalid escape in string"), (#"\'"#, "invalid escape in string")] {
            #expect(logError(log(message: "\"a\(escape)b\"")) == RecordError(index: 0, field: m, message: message, reason: .encoding),
                    "\(escape)")
        }
        #expect(logError(log(message: "\"a\\\"")).map(\.reason) == .syntax)  // the escaped quote leaves it open
    }

    @Test func controlCharactersInStrings() throws {
        for c in [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F] as [UInt8] {
            let body = Array("[\(log(message: "\"a").dropLast())".utf8) + [c] + Array("b\"}]".utf8)
            let (result, _) = try readLogs(body)
            #expect(result.errors == [RecordError(index: 0, field: "message", message: "unescaped control character in string",
                                                  reason: .encoding)], "\(c)")
        }
        // DEL (0x7F) is not a control character for JSON.
        #expect(logError(log(message: "\"a\u{7F}b\"")) == nil)
    }

    @Test func malformedNumbersAndLiterals() {
        for bad in ["01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "1.2.3", "--1", "tru", "nul", "True", "1_000"] {
            #expect(logError(log(ts: bad))?.reason == .syntax, "\(bad)")
            #expect(logError(log(rest: ",\"x\":\(bad)"))?.reason == .syntax, "\(bad)")
        }
        #expect(logError(log(rest: #","x":1e400"#)) == RecordError(index: 0, field: "x", message: "number out of range", reason: .invalidValue))
        #expect(logError(log(rest: ",\"x\":1\(String(repeating: "0", count: 400))")).map(\.message) == "number out of range")
        // Long but representable numbers are kept as written.
        let (r, b) = try! readLogs(log(rest: #","x":99999999999999999999,"y":1e-400,"z":-0.0"#))
        #expect(r.errors.isEmpty && b.extra[row: 0] == #"{"x":99999999999999999999,"y":1e-400,"z":-0.0}"#)
    }

    @Test func garbageAroundRecords() throws {
        let (result, batch) = try readLogs("\(log())\nnot json\n{\"a\":}\n\u{0}\n\(log())\n}")
        #expect(result.total == 6 && batch.count == 2)
        #expect(result.errors.map(\.index) == [1, 2, 3, 5])
        #expect(result.errors.allSatisfy { $0.reason == .syntax && $0.field == "$" })
    }

    @Test func randomBytesNeverCrash() {
        // Mutations of valid records (byte flips, cuts, insertions of JSON punctuation):
        // every outcome is a result or a body error, and the batch only grows by accepted rows.
        var rng = SplitMix(seed: 7)
        let alphabet = Array("{}[]\",:\\ 0123456789.eE-+tfnulrsa\n\u{0}".utf8) + [0xFF, 0xC3, 0xE2]
        var reader = JSONBodyReader()
        var batch = LogBatch()
        for _ in 0..<3000 {
            var body = Array((rng.chance(0.5) ? "[\(sampleLog),\(log())]" : "\(sampleLog)\n\(log())").utf8)
            for _ in 0..<(1 + rng.below(4)) {
                let at = rng.below(body.count)
                switch rng.below(3) {
                case 0: body[at] = rng.pick(alphabet)
                case 1: body.removeSubrange(at...)
                default: body.insert(rng.pick(alphabet), at: at)
                }
                if body.isEmpty { break }
            }
            let before = batch.count
            if let result = try? reader.readLogs(body: body, into: &batch) {
                #expect(batch.count == before + result.accepted)
                #expect(result.accepted + result.errors.count == result.total)
            } else {
                #expect(batch.count == before)
            }
        }
    }
}

@Suite("Extra fields")
struct ExtraFieldTests {
    @Test func unknownFieldsAreKeptCompactAndCanonical() throws {
        let (r, b) = try readLogs(log(rest: #", "trace" : "x", "metadata": {"region": "eu", "status_code": 200, "tags" : [ 1, 2.50, -3e2, true, false, null, { "k" : "\u0041\n" } ] }, "n": {}"#))
        #expect(r.errors.isEmpty)
        #expect(b.extra[row: 0] == #"{"trace":"x","n":{},"metadata":{"region":"eu","tags":[1,2.50,-3e2,true,false,null,{"k":"A\n"}]}}"#)
        #expect(b.statusCode[row: 0] == 200)
    }

    @Test func unknownMetadataKeysAloneStillMarkMetadataPresent() throws {
        let (r, b) = try readLogs(log(rest: #","metadata":{"region":"eu"}"#))
        #expect(r.errors.isEmpty && b.hasMetadata(row: 0))
        #expect(b.extra[row: 0] == #"{"metadata":{"region":"eu"}}"#)
    }

    @Test func activityGroupsKeepTheirUnknownKeys() throws {
        let (r, b) = try readActivities(#"{"event_id":"e","timestamp":1,"user_id":"u","event_type":"X","event_data":{"page":"/","color":"red"},"device":{"type":"tv","screen":[1920,1080]},"ab_test":"B"}"#)
        #expect(r.errors.isEmpty)
        #expect(b.extra[row: 0] == #"{"ab_test":"B","event_data":{"color":"red"},"device":{"screen":[1920,1080]}}"#)
    }

    @Test func keysNeedingEscapesAreEscapedAgain() throws {
        let (r, b) = try readLogs(log(rest: #","a\"b\\c\u0001":"\u2028","é":1"#))
        #expect(r.errors.isEmpty)
        #expect(b.extra[row: 0] == "{\"a\\\"b\\\\c\\u0001\":\"\u{2028}\",\"é\":1}")
    }
}
