import Foundation
import LogpipeRecords
import LogpipeTesting

/// JSON as a comparable value. Strings are compared as bytes, so two spellings that
/// Swift's `String ==` would call equal (canonical equivalence) still differ. Numbers
/// are compared within a few ulps, because Foundation's `JSONSerialization` does not
/// round long mantissas with exponents correctly (ours and the standard library's do).
indirect enum J: Equatable {
    static func == (a: J, b: J) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y || abs(x - y) <= 1e-15 * max(abs(x), abs(y))
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { k, v in y[k] == v }
        default: return false
        }
    }

    case null
    case bool(Bool)
    case number(Double)
    case string([UInt8])
    case array([J])
    case object([[UInt8]: J])

    subscript(key: String) -> J? {
        guard case .object(let o) = self else { return nil }
        return o[Array(key.utf8)]
    }

    /// This object without `keys`, and without members that are `null` when `dropNulls` lists them.
    func removing(_ keys: [String], nulls: [String] = []) -> J {
        guard case .object(var o) = self else { return self }
        for k in keys { o[Array(k.utf8)] = nil }
        for k in nulls where o[Array(k.utf8)] == .null { o[Array(k.utf8)] = nil }
        return .object(o)
    }

    var isEmptyObject: Bool { self == .object([:]) }
}

/// Foundation's reading of `bytes`, or nil when it refuses them.
func foundationJSON(_ bytes: [UInt8]) -> J? {
    guard let any = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else { return nil }
    return toJ(any)
}

func toJ(_ v: Any) -> J {
    switch v {
    case is NSNull: return .null
    case let s as String: return .string(Array(s.utf8))
    case let n as NSNumber: return String(cString: n.objCType) == "c" ? .bool(n.boolValue) : .number(n.doubleValue)
    case let a as [Any]: return .array(a.map(toJ))
    case let d as [String: Any]:
        return .object(Dictionary(uniqueKeysWithValues: d.map { (Array($0.key.utf8), toJ($0.value)) }))
    default: fatalError("unexpected Foundation JSON value \(type(of: v))")
    }
}

/// Random contract records as JSON text, with the values the reader must find in them.
/// Key order, whitespace, escapes, number spellings and timestamp forms vary; fields
/// beyond the schema are added at every level.
struct RecordMaker {
    var rng: SplitMix

    init(seed: UInt64) { rng = SplitMix(seed: seed) }

    mutating func ws() -> String { rng.pick(["", "", "", " ", "  ", "\n", "\r\n\t", " \t"]) }

    /// A JSON string literal and its decoded value.
    mutating func string(maxPieces: Int = 6) -> (json: String, value: String) {
        let pieces: [(String, String)] = [
            ("abc", "abc"), ("Hello world", "Hello world"), ("/api/users/42", "/api/users/42"), ("\\n", "\n"),
            ("\\\"", "\""), ("\\\\", "\\"), ("\\/", "/"), ("\\u00e9", "é"), ("é", "é"), ("😀", "😀"),
            ("\\ud83d\\ude00", "😀"), ("\\u0001", "\u{1}"), ("中文", "中文"), ("\\t", "\t"), ("\\u2028", "\u{2028}"),
            ("e\u{301}", "e\u{301}"), ("\\u0000", "\u{0}"), ("10.0.0.1", "10.0.0.1"), ("-", "-"), (" ", " "),
            ("\\b\\f\\r", "\u{8}\u{C}\r"), ("\u{7F}", "\u{7F}"), ("\\uFFFF", "\u{FFFF}"), ("\u{10FFFF}", "\u{10FFFF}"),
        ]
        var json = "\"", value = ""
        for _ in 0..<rng.below(maxPieces + 1) {
            let (j, v) = rng.pick(pieces)
            json += j
            value += v
        }
        return (json + "\"", value)
    }

    /// A number literal a double can hold.
    mutating func numberText(negative: Bool = true) -> String {
        let sign = negative && rng.chance(0.3) ? "-" : ""
        let int = rng.pick(["0", "1", "7", "42", "200", "65535", "123456789", "99999999999999999999"])
        switch rng.below(5) {
        case 0: return sign + int
        case 1: return sign + int + "." + String(rng.below(1000))
        case 2: return sign + int + rng.pick(["e", "E"]) + rng.pick(["", "+", "-"]) + String(rng.below(30))
        case 3: return sign + int + ".5e-3"
        default: return sign + "0.000" + String(rng.below(100) + 1)
        }
    }

    /// A random JSON value for a field beyond the schema.
    mutating func value(depth: Int) -> String {
        let scalarOnly = depth >= 4
        switch rng.below(scalarOnly ? 4 : 6) {
        case 0: return string(maxPieces: 3).json
        case 1: return numberText()
        case 2: return rng.pick(["true", "false", "null"])
        case 3: return numberText(negative: false)
        case 4:
            let items = (0..<rng.below(4)).map { _ in ws() + value(depth: depth + 1) + ws() }
            return "[" + items.joined(separator: ",") + "]"
        default:
            var keys = ["a", "b", "c\\u0064", "é", "x y", "\\\"q\\\"", "", "n1"]
            var members: [String] = []
            for _ in 0..<rng.below(4) {
                let k = keys.remove(at: rng.below(keys.count))
                members.append(ws() + "\"\(k)\"" + ws() + ":" + ws() + value(depth: depth + 1) + ws())
            }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    /// Unknown members (`"key": value`) from `pool`, none repeated.
    mutating func unknownMembers(_ pool: [String], max: Int, depth: Int) -> [String] {
        var keys = pool
        var out: [String] = []
        for _ in 0..<rng.below(max + 1) where !keys.isEmpty {
            let k = keys.remove(at: rng.below(keys.count))
            out.append("\"\(k)\"" + ws() + ":" + ws() + value(depth: depth))
        }
        return out
    }

    mutating func object(_ members: [String]) -> String {
        var m = members
        for i in stride(from: m.count - 1, to: 0, by: -1) { m.swapAt(i, rng.below(i + 1)) }
        return "{" + ws() + m.map { $0 + ws() }.joined(separator: "," + ws()) + "}"
    }

    /// A timestamp in one of the accepted spellings, and the microseconds it stands for.
    mutating func timestamp() -> (json: String, micros: Int64) {
        let micros = rng.chance(0.7)
            ? 1_736_000_000_000_000 + Int64(rng.below(100_000_000_000_000))
            : Int64(rng.below(Int(EventTime.endMicros)))
        let s = micros / 1_000_000, f = micros % 1_000_000
        let f6 = String(repeating: "0", count: 6 - String(f).count) + String(f)
        switch rng.below(5) {
        case 0:
            var frac = f6
            while frac.hasSuffix("0") { frac.removeLast() }
            return (frac.isEmpty ? "\(s)" : "\(s).\(frac)", micros)
        case 1: return ("\(s).\(f6)" + String(repeating: "0", count: rng.below(3)), micros)
        case 2: return ("\(micros)e-6", micros)
        default:
            var offsetMinutes = rng.pick([0, 60, -60, 330, -330, 540, -720, 840])
            if micros + Int64(offsetMinutes) * 60_000_000 < 0 { offsetMinutes = 0 }
            let local = micros / 1_000_000 + Int64(offsetMinutes) * 60
            let (y, m, d) = civil(days: local >= 0 ? local / 86_400 : (local - 86_399) / 86_400)
            let sod = local - (local >= 0 ? local / 86_400 : (local - 86_399) / 86_400) * 86_400
            func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
            var text = "\(String(repeating: "0", count: 4 - String(y).count))\(y)-\(two(m))-\(two(d))"
            text += rng.pick(["T", "t", " "]) + "\(two(sod / 3600)):\(two(sod / 60 % 60)):\(two(sod % 60))"
            let digits = rng.below(10)
            var expected = micros
            if digits > 0 {
                text += "." + (digits <= 6 ? String(f6.prefix(digits)) : f6 + (0..<(digits - 6)).map { _ in String(rng.below(10)) }.joined())
            }
            if digits < 6 {
                var unit: Int64 = 1
                for _ in digits..<6 { unit *= 10 }
                expected = micros / unit * unit
            }
            if offsetMinutes == 0 && rng.chance(0.7) {
                text += rng.pick(["Z", "z"])
            } else {
                let a = abs(offsetMinutes)
                text += (offsetMinutes < 0 ? "-" : "+") + two(Int64(a / 60)) + ":" + two(Int64(a % 60))
            }
            return ("\"\(text)\"", expected)
        }
    }

    func civil(days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// A non-negative (or any) finite double as text and value.
    mutating func double(negative: Bool) -> (json: String, value: Double) {
        let sign = negative && rng.chance(0.3) ? "-" : ""
        let int = String(rng.below(rng.chance(0.9) ? 2000 : 100_000_000))
        let text: String
        switch rng.below(4) {
        case 0: text = sign + int
        case 1: text = sign + int + "." + String(rng.below(1000))
        case 2: text = sign + int + "e" + rng.pick(["-", ""]) + String(rng.below(5))
        default: text = sign + int + "." + String(rng.below(100_000_000)) + "E-2"
        }
        return (text, Double(text)!)
    }

    /// An optional string member: absent, null, or a value.
    mutating func optionalString(_ key: String, into members: inout [String]) -> String? {
        switch rng.below(4) {
        case 0: return nil
        case 1:
            members.append("\"\(key)\"" + ws() + ":" + ws() + "null")
            return nil
        default:
            let s = string()
            members.append("\"\(key)\"" + ws() + ":" + ws() + s.json)
            return s.value
        }
    }

    mutating func log() -> (json: String, expected: LogRecord) {
        var members: [String] = []
        let ts = timestamp()
        members.append(#""timestamp":"# + ws() + ts.json)
        let level = rng.pick(LogLevel.allCases)
        members.append(#""level":"# + ws() + "\"\(level.name)\"")
        let service = string()
        members.append(#""service":"# + service.json)
        let message = string()
        members.append(#""message":"# + message.json)
        let host = optionalString("host", into: &members)
        var metadata: LogRecord.Metadata? = nil
        switch rng.below(5) {
        case 0: break
        case 1: members.append(#""metadata":null"#)
        default:
            var m: [String] = []
            var md = LogRecord.Metadata()
            md.requestId = optionalString("request_id", into: &m)
            md.endpoint = optionalString("endpoint", into: &m)
            md.method = optionalString("method", into: &m)
            md.clientIp = optionalString("client_ip", into: &m)
            md.userId = optionalString("user_id", into: &m)
            if rng.chance(0.8) {
                let d = double(negative: false)
                m.append(#""response_time_ms":"# + d.json)
                md.responseTimeMs = d.value
            }
            if rng.chance(0.8) {
                let v = Int32(rng.pick([200, 201, 204, 301, 400, 404, 500, 503, rng.below(1000)]))
                m.append(#""status_code":"# + ws() + rng.pick(["\(v)", "\(v).0", "\(v)e0", "\(v)0e-1"]))
                md.statusCode = v
            }
            m += unknownMembers(["region", "retries", "cache", "é", "a\\u0062c"], max: 2, depth: 3)
            members.append(#""metadata":"# + ws() + object(m))
            metadata = md
        }
        members += unknownMembers(["trace_id", "env", "k8s", "tags", "x y", "\\u00e9t\\u00e9", "\\\"q\\\""], max: 3, depth: 2)
        let expected = LogRecord(timestampMicros: ts.micros, level: level, service: service.value, host: host,
                                 message: message.value, metadata: metadata)
        return (object(members), expected)
    }

    mutating func activity() -> (json: String, expected: ActivityEvent) {
        var members: [String] = []
        let ts = timestamp()
        members.append(#""timestamp":"# + ts.json)
        let eventId = string()
        members.append(#""event_id":"# + eventId.json)
        let userId = string()
        members.append(#""user_id":"# + userId.json)
        var eventType = string()
        if eventType.value.isEmpty { eventType = ("\"CLICK\"", "CLICK") }
        members.append(#""event_type":"# + eventType.json)
        let sessionId = optionalString("session_id", into: &members)
        var eventData: ActivityEvent.EventData? = nil
        switch rng.below(4) {
        case 0: break
        case 1: members.append(#""event_data":null"#)
        default:
            var m: [String] = []
            var d = ActivityEvent.EventData()
            d.page = optionalString("page", into: &m)
            d.element = optionalString("element", into: &m)
            d.productId = optionalString("product_id", into: &m)
            d.query = optionalString("query", into: &m)
            if rng.chance(0.5) {
                let a = double(negative: true)
                m.append(#""amount":"# + a.json)
                d.amount = a.value
            }
            m += unknownMembers(["color", "position"], max: 2, depth: 3)
            members.append(#""event_data":"# + object(m))
            eventData = d
        }
        var device: ActivityEvent.Device? = nil
        switch rng.below(4) {
        case 0: break
        case 1: members.append(#""device":null"#)
        default:
            var m: [String] = []
            var d = ActivityEvent.Device()
            d.type = optionalString("type", into: &m)
            d.os = optionalString("os", into: &m)
            d.browser = optionalString("browser", into: &m)
            m += unknownMembers(["screen", "model"], max: 2, depth: 3)
            members.append(#""device":"# + object(m))
            device = d
        }
        members += unknownMembers(["ab_test", "referrer", "tags"], max: 2, depth: 2)
        let expected = ActivityEvent(eventId: eventId.value, timestampMicros: ts.micros, userId: userId.value,
                                     sessionId: sessionId, eventType: eventType.value, eventData: eventData,
                                     device: device)
        return (object(members), expected)
    }
}
