import Foundation
import LogpipeRecords
import LogpipeTesting
import Testing

let logKeys = ["timestamp", "level", "service", "host", "message", "metadata"]
let metadataKeys = ["request_id", "response_time_ms", "status_code", "endpoint", "method", "client_ip", "user_id"]
let eventKeys = ["event_id", "timestamp", "user_id", "session_id", "event_type", "event_data", "device"]
let eventDataKeys = ["page", "element", "product_id", "query", "amount"]
let deviceKeys = ["type", "os", "browser"]

/// What `extra` must hold for a record Foundation read as `j`: unknown members, and
/// unknown members of the nested groups under the group's name.
func expectedExtra(_ j: J, known: [String], groups: [(String, [String])]) -> J? {
    guard case .object(var top) = j.removing(known) else { return nil }
    for (name, keys) in groups {
        if let g = j[name], case .object = g, case .object(let rest) = g.removing(keys), !rest.isEmpty {
            top[Array(name.utf8)] = .object(rest)
        }
    }
    return top.isEmpty ? nil : .object(top)
}

/// `j` as the writer should give it back: no timestamp (compared exactly elsewhere),
/// no null known fields.
func normalized(_ j: J, optional: [String], groups: [(String, [String])]) -> J {
    guard case .object(var o) = j.removing(["timestamp"], nulls: optional + groups.map(\.0)) else { return j }
    for (name, keys) in groups {
        if let g = o[Array(name.utf8)] { o[Array(name.utf8)] = g.removing([], nulls: keys) }
    }
    return .object(o)
}

func extraJ(_ s: String?) -> J? { s.flatMap { foundationJSON(Array($0.utf8)) } }

/// Checks every round-trip property for one log record; returns false (after recording
/// issues) when something is off.
@discardableResult
func checkLogRoundTrip(_ json: String, expected: LogRecord? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    var reader = JSONBodyReader()
    let x = Array(json.utf8)
    var b1 = LogBatch()
    let e1 = x.withUnsafeBytes { reader.appendLog(json: $0, to: &b1) }
    guard e1 == nil else {
        Issue.record("rejected: \(e1!) in \(json)", sourceLocation: sourceLocation)
        return false
    }
    let r1 = b1.record(at: 0)
    var ok = true
    if let expected {
        var plain = r1
        plain.extra = nil
        if plain != expected {
            Issue.record("parsed \(plain)\nexpected \(expected)\nfrom \(json)", sourceLocation: sourceLocation)
            ok = false
        }
    }
    guard let jx = foundationJSON(x) else {
        Issue.record("Foundation refuses \(json)", sourceLocation: sourceLocation)
        return false
    }
    let groups = [("metadata", metadataKeys)]
    if extraJ(r1.extra) != expectedExtra(jx, known: logKeys, groups: groups) {
        Issue.record("extra \(r1.extra ?? "nil") does not match \(json)", sourceLocation: sourceLocation)
        ok = false
    }
    var y: [UInt8] = []
    JSONRecordWriter.appendLog(b1, row: 0, to: &y)
    var b2 = LogBatch()
    let e2 = y.withUnsafeBytes { reader.appendLog(json: $0, to: &b2) }
    let ys = String(decoding: y, as: UTF8.self)
    guard e2 == nil else {
        Issue.record("written record rejected: \(e2!) in \(ys)", sourceLocation: sourceLocation)
        return false
    }
    if b2.record(at: 0) != r1 {
        Issue.record("re-read \(b2.record(at: 0)) differs from \(r1)", sourceLocation: sourceLocation)
        ok = false
    }
    var z: [UInt8] = []
    JSONRecordWriter.appendLog(b2, row: 0, to: &z)
    if z != y {
        Issue.record("writing is not stable: \(ys) then \(String(decoding: z, as: UTF8.self))", sourceLocation: sourceLocation)
        ok = false
    }
    let want = normalized(jx, optional: ["host"], groups: groups)
    if foundationJSON(y)?.removing(["timestamp"]) != want {
        Issue.record("written \(ys) is not JSON-equal to \(json)", sourceLocation: sourceLocation)
        ok = false
    }
    return ok
}

@discardableResult
func checkActivityRoundTrip(_ json: String, expected: ActivityEvent? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    var reader = JSONBodyReader()
    let x = Array(json.utf8)
    var b1 = ActivityBatch()
    let e1 = x.withUnsafeBytes { reader.appendActivity(json: $0, to: &b1) }
    guard e1 == nil else {
        Issue.record("rejected: \(e1!) in \(json)", sourceLocation: sourceLocation)
        return false
    }
    let r1 = b1.event(at: 0)
    var ok = true
    if let expected {
        var plain = r1
        plain.extra = nil
        if plain != expected {
            Issue.record("parsed \(plain)\nexpected \(expected)\nfrom \(json)", sourceLocation: sourceLocation)
            ok = false
        }
    }
    guard let jx = foundationJSON(x) else {
        Issue.record("Foundation refuses \(json)", sourceLocation: sourceLocation)
        return false
    }
    let groups = [("event_data", eventDataKeys), ("device", deviceKeys)]
    if extraJ(r1.extra) != expectedExtra(jx, known: eventKeys, groups: groups) {
        Issue.record("extra \(r1.extra ?? "nil") does not match \(json)", sourceLocation: sourceLocation)
        ok = false
    }
    var y: [UInt8] = []
    JSONRecordWriter.appendActivity(b1, row: 0, to: &y)
    var b2 = ActivityBatch()
    let e2 = y.withUnsafeBytes { reader.appendActivity(json: $0, to: &b2) }
    let ys = String(decoding: y, as: UTF8.self)
    guard e2 == nil else {
        Issue.record("written record rejected: \(e2!) in \(ys)", sourceLocation: sourceLocation)
        return false
    }
    if b2.event(at: 0) != r1 {
        Issue.record("re-read \(b2.event(at: 0)) differs from \(r1)", sourceLocation: sourceLocation)
        ok = false
    }
    var z: [UInt8] = []
    JSONRecordWriter.appendActivity(b2, row: 0, to: &z)
    if z != y {
        Issue.record("writing is not stable: \(ys) then \(String(decoding: z, as: UTF8.self))", sourceLocation: sourceLocation)
        ok = false
    }
    if foundationJSON(y)?.removing(["timestamp"]) != normalized(jx, optional: ["session_id"], groups: groups) {
        Issue.record("written \(ys) is not JSON-equal to \(json)", sourceLocation: sourceLocation)
        ok = false
    }
    return ok
}

@Suite("Round trip")
struct RoundTripTests {
    @Test func randomLogs() {
        var maker = RecordMaker(seed: 20_250_112)
        var failures = 0
        for _ in 0..<2000 where failures < 5 {
            let (json, expected) = maker.log()
            if !checkLogRoundTrip(json, expected: expected) { failures += 1 }
        }
    }

    @Test func randomActivities() {
        var maker = RecordMaker(seed: 77)
        var failures = 0
        for _ in 0..<2000 where failures < 5 {
            let (json, expected) = maker.activity()
            if !checkActivityRoundTrip(json, expected: expected) { failures += 1 }
        }
    }

    @Test func randomBatchesWrittenAsNDJSONReadBackColumnForColumn() throws {
        var maker = RecordMaker(seed: 3)
        let records = (0..<500).map { _ in maker.log().json }
        let (r1, b1) = try readLogs("[" + records.joined(separator: ",") + "]")
        #expect(r1.errors.isEmpty && b1.count == 500)
        var out: [UInt8] = []
        JSONRecordWriter.appendLogsNDJSON(b1, to: &out)
        let (r2, b2) = try readLogs(out)
        #expect(r2.errors.isEmpty && b2.count == 500)
        #expect(b2.timestampMicros.values == b1.timestampMicros.values)
        #expect(b2.level.values == b1.level.values)
        #expect(b2.responseTimeMs.values == b1.responseTimeMs.values && b2.responseTimeMs.validity == b1.responseTimeMs.validity)
        #expect(b2.statusCode.values == b1.statusCode.values && b2.statusCode.validity == b1.statusCode.validity)
        #expect(b2.metadataValidity == b1.metadataValidity)
        for (c1, c2) in [(b1.service, b2.service), (b1.host, b2.host), (b1.message, b2.message), (b1.requestId, b2.requestId),
                         (b1.endpoint, b2.endpoint), (b1.method, b2.method), (b1.clientIp, b2.clientIp),
                         (b1.userId, b2.userId), (b1.extra, b2.extra)] {
            #expect(c1.bytes == c2.bytes && c1.offsets == c2.offsets && c1.validity == c2.validity)
        }
    }

    @Test func handWrittenLogEdgeCases() {
        let cases = [
            sampleLog,
            #"{"timestamp":0,"level":"TRACE","service":"","message":""}"#,
            #"{"timestamp":"2025-01-12T10:26:06.291045+09:00","level":"WARNING","service":"s","message":"m"}"#,
            #"{"timestamp":1.5,"level":"CRITICAL","service":"s","message":"m","metadata":{}}"#,
            #"{"timestamp":1,"level":"FATAL","service":"s","message":"m","metadata":null,"host":null}"#,
            #"{"timestamp":1,"level":"WARN","service":"s","message":"m","metadata":{"region":"eu"}}"#,
            #"{"trace":"x","metadata":{"region":"eu","status_code":200.0},"timestamp":1,"level":"DEBUG","service":"s","message":"m"}"#,
            #"{"timestamp":1,"level":"INFO","service":"\u0000\u001f\"\\/","message":"\ud83d\ude00\u00e9"}"#,
            #"{"timestamp":1,"level":"INFO","service":"s","message":"m","metadata":{"response_time_ms":0.1,"status_code":-5}}"#,
            #"{"timestamp":1,"level":"INFO","service":"s","message":"m","metadata":{"response_time_ms":1e300}}"#,
            #"{"timestamp":1,"level":"INFO","service":"s","message":"m","metadata":{"response_time_ms":5e-324}}"#,
            #"{"timestamp":1,"level":"INFO","service":"s","message":"m","metadata":{"response_time_ms":123456789012345678}}"#,
            #"{"timestamp":1,"level":"INFO","service":"s","message":"m","extra":{"extra":[[],{},[{}]]},"metadata":{"metadata":{}}}"#,
            #"{"timestamp":7289654399.999999,"level":"INFO","service":"s","message":"m","n":-0.0,"big":99999999999999999999}"#,
            #"{"timestamp":1,"level":"INFO","service":"s","message":"m","":"","metadata":{"":null}}"#,
        ]
        for json in cases { checkLogRoundTrip(json) }
    }

    @Test func handWrittenActivityEdgeCases() {
        let cases = [
            sampleEvent,
            #"{"event_id":"e","timestamp":1,"user_id":"u","event_type":"PURCHASE","event_data":{"product_id":"p1","amount":-19.99}}"#,
            #"{"event_id":"e","timestamp":1,"user_id":"u","event_type":"x","event_data":{},"device":{}}"#,
            #"{"event_id":"e","timestamp":1,"user_id":"u","event_type":"x","event_data":{"q":1},"device":{"dpi":2}}"#,
            #"{"event_id":"e","timestamp":1,"user_id":"u","event_type":"x","device":{"type":null,"os":"Linux"},"event_data":null}"#,
        ]
        for json in cases { checkActivityRoundTrip(json) }
    }

    @Test func timestampsAreWrittenAsTrimmedEpochSeconds() {
        var batch = LogBatch()
        for micros: Int64 in [1_736_645_166_291_045, 1_736_645_166_500_000, 1_736_645_166_000_000, 1, 0, 10] {
            batch.append(LogRecord(timestampMicros: micros, level: .info, service: "s", message: "m"))
        }
        let written = (0..<batch.count).map { i -> String in
            var out: [UInt8] = []
            JSONRecordWriter.appendLog(batch, row: i, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(written.map { $0.split(separator: ",")[0] } == [
            #"{"timestamp":1736645166.291045"#, #"{"timestamp":1736645166.5"#, #"{"timestamp":1736645166"#,
            #"{"timestamp":0.000001"#, #"{"timestamp":0"#, #"{"timestamp":0.00001"#,
        ])
        #expect(written[0] == #"{"timestamp":1736645166.291045,"level":"INFO","service":"s","message":"m"}"#)
    }

    @Test func writerFollowsTheContractFieldOrder() throws {
        let (_, b) = try readLogs(#"{"z":1,"metadata":{"user_id":"u","q":2,"request_id":"r"},"message":"m","host":"h","service":"s","level":"ERROR","timestamp":2}"#)
        var out: [UInt8] = []
        JSONRecordWriter.appendLog(b, row: 0, to: &out)
        #expect(String(decoding: out, as: UTF8.self)
            == #"{"timestamp":2,"level":"ERROR","service":"s","host":"h","message":"m","metadata":{"request_id":"r","user_id":"u","q":2},"z":1}"#)
        let (_, e) = try readActivities(#"{"x":[1],"device":{"os":"iOS","type":"mobile"},"event_data":{"element":"b","page":"/p"},"event_type":"CLICK","session_id":"s","user_id":"u","timestamp":1.25,"event_id":"e"}"#)
        out = []
        JSONRecordWriter.appendActivity(e, row: 0, to: &out)
        #expect(String(decoding: out, as: UTF8.self)
            == #"{"event_id":"e","timestamp":1.25,"user_id":"u","session_id":"s","event_type":"CLICK","event_data":{"page":"/p","element":"b"},"device":{"type":"mobile","os":"iOS"},"x":[1]}"#)
    }
}

@Suite("Cross-check with Foundation")
struct FoundationCrossCheckTests {
    /// Valid records with random damage: whatever we accept, Foundation reads the same
    /// way; whatever Foundation refuses, we refuse; whatever it reads, we never call malformed.
    @Test func acceptanceAndValuesAgreeOnDamagedRecords() {
        var maker = RecordMaker(seed: 4242)
        var rng = SplitMix(seed: 11)
        var reader = JSONBodyReader()
        let alphabet = Array("{}[]\",:\\ 0123456789.eE-+tfnul\t\n".utf8) + [0x00, 0x1F, 0x7F, 0xFF, 0xC3, 0xA9, 0xED]
        var accepted = 0, refusedByBoth = 0
        for round in 0..<4000 {
            var x = Array((round % 2 == 0 ? maker.log().json : maker.activity().json).utf8)
            for _ in 0..<(round % 3) {
                let at = rng.below(x.count)
                switch rng.below(4) {
                case 0: x[at] = rng.pick(alphabet)
                case 1: x.remove(at: at)
                case 2: x.insert(rng.pick(alphabet), at: at)
                default: x.removeSubrange(at...)
                }
                if x.isEmpty { x = [0x20] }
            }
            let error: RecordError?
            var logs = LogBatch()
            var events = ActivityBatch()
            if round % 2 == 0 {
                error = x.withUnsafeBytes { reader.appendLog(json: $0, to: &logs) }
            } else {
                error = x.withUnsafeBytes { reader.appendActivity(json: $0, to: &events) }
            }
            let f = foundationJSON(x)
            let text = String(decoding: x, as: UTF8.self)
            if f == nil {
                #expect(error != nil, "accepted what Foundation refuses: \(text)")
                refusedByBoth += error == nil ? 0 : 1
                continue
            }
            if let error {
                #expect(error.reason != .syntax, "called malformed what Foundation reads: \(error) in \(text)")
                continue
            }
            accepted += 1
            guard let f, case .object = f else {
                Issue.record("accepted a non-object: \(text)")
                continue
            }
            if round % 2 == 0 {
                let r = logs.record(at: 0)
                #expect(f["service"] == .string(Array(r.service.utf8)))
                #expect(f["message"] == .string(Array(r.message.utf8)))
                #expect(f["level"] == .string(Array(r.level.description.utf8)))
                #expect((f["host"] ?? .null) == (r.host.map { .string(Array($0.utf8)) } ?? .null))
                if let ms = f["metadata"]?["response_time_ms"] { #expect(r.metadata?.responseTimeMs.map(J.number) == ms) }
                if let code = f["metadata"]?["status_code"] { #expect(r.metadata?.statusCode.map { J.number(Double($0)) } == code) }
                #expect(extraJ(r.extra) == expectedExtra(f, known: logKeys, groups: [("metadata", metadataKeys)]), "\(text)")
            } else {
                let e = events.event(at: 0)
                #expect(f["event_id"] == .string(Array(e.eventId.utf8)))
                #expect(f["event_type"] == .string(Array(e.eventType.utf8)))
                #expect(extraJ(e.extra) == expectedExtra(f, known: eventKeys,
                                                         groups: [("event_data", eventDataKeys), ("device", deviceKeys)]))
            }
        }
        // The damage must have exercised both sides.
        #expect(accepted > 1000 && refusedByBoth > 500)
    }
}
