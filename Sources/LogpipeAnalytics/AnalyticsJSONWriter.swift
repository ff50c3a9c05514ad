/// Analytics output that writes its own JSON, byte for byte what `AnalyticsJSON.encoder()`
/// (Foundation's `JSONEncoder`, sorted keys, non-finite numbers as strings) makes of it.
///
/// Every commit of the stream encodes its publication and every publication its metric
/// rows; through `JSONEncoder` that was a fifth of `logpipe stream`'s time (docs/profile.md).
/// Readers stay Foundation's `JSONDecoder`, pyarrow and DuckDB: the format is unchanged.
public protocol AnalyticsJSONEncodable: Encodable {
    /// Appends this value's JSON to `out`.
    func appendJSON(to out: inout [UInt8])
    /// Appends `rows` as JSON lines: each row's `appendJSON`, then a newline.
    static func appendJSONLines(_ rows: ArraySlice<Self>, to out: inout [UInt8])
}

extension AnalyticsJSONEncodable {
    /// See `AnalyticsJSONEncodable`: row by row.
    public static func appendJSONLines(_ rows: ArraySlice<Self>, to out: inout [UInt8]) {
        for row in rows {
            row.appendJSON(to: &out)
            out.append(UInt8(ascii: "\n"))
        }
    }
}

extension AnalyticsJSON {
    /// `value` as JSON, as `encoder().encode(value)` would write it.
    public static func encode(_ value: some AnalyticsJSONEncodable) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        value.appendJSON(to: &out)
        return out
    }
}

/// The JSON object being written: keys must come in sorted (byte) order, as the encoder's
/// `.sortedKeys` puts them; optional members that are nil are left out, as synthesized
/// `Codable` does.
struct JSONObjectWriter {
    private var first = true

    init(_ out: inout [UInt8]) { out.append(UInt8(ascii: "{")) }

    /// Writes `"key":`; `key` needs no escaping.
    mutating func key(_ key: StaticString, _ out: inout [UInt8]) {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        out.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    mutating func field(_ key: StaticString, _ value: Int64, _ out: inout [UInt8]) {
        self.key(key, &out)
        JSONValues.append(value, to: &out)
    }

    mutating func field(_ key: StaticString, _ value: Double, _ out: inout [UInt8]) {
        self.key(key, &out)
        JSONValues.append(value, to: &out)
    }

    mutating func field(_ key: StaticString, _ value: Double?, _ out: inout [UInt8]) {
        guard let value else { return }
        field(key, value, &out)
    }

    mutating func field(_ key: StaticString, _ value: Bool, _ out: inout [UInt8]) {
        self.key(key, &out)
        JSONValues.append(value, to: &out)
    }

    mutating func field(_ key: StaticString, _ value: String, _ out: inout [UInt8]) {
        self.key(key, &out)
        JSONValues.append(value, to: &out)
    }

    mutating func field(_ key: StaticString, _ value: some AnalyticsJSONEncodable, _ out: inout [UInt8]) {
        self.key(key, &out)
        value.appendJSON(to: &out)
    }

    mutating func field(_ key: StaticString, _ values: [some AnalyticsJSONEncodable], _ out: inout [UInt8]) {
        self.key(key, &out)
        out.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            v.appendJSON(to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    mutating func field(_ key: StaticString, _ values: [String], _ out: inout [UInt8]) {
        self.key(key, &out)
        out.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValues.append(v, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    mutating func field(_ key: StaticString, _ values: [Int], _ out: inout [UInt8]) {
        self.key(key, &out)
        out.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValues.append(Int64(v), to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// A dictionary keyed by data (device names, detector figures): sorted by UTF-8 bytes,
    /// as the encoder sorts them.
    mutating func field<V>(_ key: StaticString, _ values: [String: V], _ out: inout [UInt8],
                           value: (V, inout [UInt8]) -> Void) {
        self.key(key, &out)
        out.append(UInt8(ascii: "{"))
        let keys = values.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for (i, k) in keys.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValues.append(k, to: &out)
            out.append(UInt8(ascii: ":"))
            value(values[k]!, &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    func end(_ out: inout [UInt8]) { out.append(UInt8(ascii: "}")) }
}

/// Scalars as Foundation's `JSONEncoder` writes them.
enum JSONValues {
    static func append(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var i = buffer.count
            repeat {
                i -= 1
                buffer[i] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            out.append(contentsOf: buffer[i...])
        }
    }

    /// Finite numbers as `description` without a trailing `.0` (so `100`, `0.1`, `1e-05`,
    /// `1e+16`); non-finite ones as the strings `AnalyticsJSON.encoder()` is told to use.
    static func append(_ value: Double, to out: inout [UInt8]) {
        if value.isNaN { return append("nan", to: &out) }
        if value.isInfinite { return append(value > 0 ? "inf" : "-inf", to: &out) }
        // Integral values below 2^53 print positionally: skip formatting a String for them.
        if value == value.rounded(.towardZero), value.magnitude < 9_007_199_254_740_992 {
            if value == 0, value.sign == .minus { out.append(UInt8(ascii: "-")) }
            return append(Int64(value), to: &out)
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
    }

    static func append(_ value: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// Escapes as the encoder does: `"`, `\`, `/`, the named controls, other controls as
    /// `\u00XX`; everything else as its UTF-8 bytes.
    static func append(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            for (i, b) in bytes.enumerated() {
                let escape: UInt8
                switch b {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): escape = b
                case 0x0A: escape = UInt8(ascii: "n")
                case 0x0D: escape = UInt8(ascii: "r")
                case 0x09: escape = UInt8(ascii: "t")
                case 0x08: escape = UInt8(ascii: "b")
                case 0x0C: escape = UInt8(ascii: "f")
                case 0..<0x20: escape = UInt8(ascii: "u")
                default: continue
                }
                out.append(contentsOf: bytes[start..<i])
                out.append(UInt8(ascii: "\\"))
                out.append(escape)
                if escape == UInt8(ascii: "u") {
                    out.append(contentsOf: [UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 15)]])
                }
                start = i + 1
            }
            out.append(contentsOf: bytes[start...])
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension TimeWindow: AnalyticsJSONEncodable {
    /// See `AnalyticsJSONEncodable`.
    public func appendJSON(to out: inout [UInt8]) {
        var o = JSONObjectWriter(&out)
        o.field("end_micros", endMicros, &out)
        o.field("start_micros", startMicros, &out)
        o.end(&out)
    }
}

extension ServiceMetrics: AnalyticsJSONEncodable {
    /// See `AnalyticsJSONEncodable`.
    public func appendJSON(to out: inout [UInt8]) {
        var o = JSONObjectWriter(&out)
        o.field("availability", availability, &out)
        o.field("avg_response_time", avgResponseTime, &out)
        o.field("error_count", errorCount, &out)
        o.field("error_rate", errorRate, &out)
        o.field("fast_count", fastCount, &out)
        o.field("is_final", isFinal, &out)
        o.field("max_response_time", maxResponseTime, &out)
        o.field("min_response_time", minResponseTime, &out)
        o.field("p50_response_time", p50ResponseTime, &out)
        o.field("p95_response_time", p95ResponseTime, &out)
        o.field("p99_response_time", p99ResponseTime, &out)
        o.field("performance", performance, &out)
        o.field("request_count", requestCount, &out)
        o.field("response_time_count", responseTimeCount, &out)
        o.field("response_time_sum", responseTimeSum, &out)
        o.field("service", service, &out)
        o.field("stddev_response_time", stddevResponseTime, &out)
        o.field("success_count", successCount, &out)
        o.field("window", window, &out)
        o.end(&out)
    }
}

extension ClientMetrics: AnalyticsJSONEncodable {
    /// See `AnalyticsJSONEncodable`.
    public func appendJSON(to out: inout [UInt8]) {
        var o = JSONObjectWriter(&out)
        o.field("client_ip", clientIp, &out)
        o.field("distinct_users", distinctUsers, &out)
        o.field("is_final", isFinal, &out)
        o.field("request_count", requestCount, &out)
        o.field("services_used", servicesUsed, &out)
        o.field("window", window, &out)
        o.end(&out)
    }
}

extension ClientMetrics {
    /// See `AnalyticsJSONEncodable`. The same bytes as row by row, made with less work: a
    /// backfill publishes one client-IP row per IP and five minutes (762 thousand per million
    /// records), mostly runs of one window and a few service sets, so the JSON of the
    /// window and of the service list is made once per run, and each row's own values are
    /// written between constant fragments into a scratch buffer, appended to `out` at once.
    public static func appendJSONLines(_ rows: ArraySlice<ClientMetrics>, to out: inout [UInt8]) {
        out.reserveCapacity(out.count + rows.count * 192)
        var window: TimeWindow?
        var services: [String] = []
        // `,"services_used":[…]` and `,"window":{…}}` with the newline: every row's tail.
        var servicesJSON: [UInt8] = []
        var windowJSON: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 256)
        for i in rows.indices {
            if rows[i].window != window {
                window = rows[i].window
                windowJSON.removeAll(keepingCapacity: true)
                windowJSON.append(contentsOf: #","window":"#.utf8)
                rows[i].window.appendJSON(to: &windowJSON)
                windowJSON.append(contentsOf: "}\n".utf8)
            }
            // Equal arrays sharing storage (the coordinator makes each service set's once)
            // compare without looking at their strings.
            if servicesJSON.isEmpty || rows[i].servicesUsed != services {
                services = rows[i].servicesUsed
                servicesJSON.removeAll(keepingCapacity: true)
                servicesJSON.append(contentsOf: #","services_used":["#.utf8)
                for (j, name) in services.enumerated() {
                    if j > 0 { servicesJSON.append(UInt8(ascii: ",")) }
                    JSONValues.append(name, to: &servicesJSON)
                }
                servicesJSON.append(UInt8(ascii: "]"))
            }
            var ip = rows[i].clientIp
            let written: Bool = ip.withUTF8 { ipBytes in
                // Escaped IPs (none a collector accepts need it) go the general way.
                guard !ipBytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "/") })
                else { return false }
                let needed = ipBytes.count + 128
                if scratch.count < needed { scratch = [UInt8](repeating: 0, count: needed * 2) }
                scratch.withUnsafeMutableBufferPointer { p in
                    var n = 0
                    func put(_ bytes: StaticString) {
                        bytes.withUTF8Buffer { b in
                            UnsafeMutableRawPointer(p.baseAddress! + n).copyMemory(from: b.baseAddress!, byteCount: b.count)
                            n += b.count
                        }
                    }
                    func put(_ value: Int64) {
                        if value < 0 { p[n] = UInt8(ascii: "-"); n += 1 }
                        var m = value.magnitude
                        var digits = 1
                        var t = m
                        while t >= 10 { t /= 10; digits += 1 }
                        var k = n + digits
                        n = k
                        repeat {
                            k -= 1
                            p[k] = UInt8(ascii: "0") + UInt8(m % 10)
                            m /= 10
                        } while m > 0
                    }
                    put(#"{"client_ip":""#)
                    UnsafeMutableRawPointer(p.baseAddress! + n).copyMemory(from: ipBytes.baseAddress!, byteCount: ipBytes.count)
                    n += ipBytes.count
                    put(#"","distinct_users":"#)
                    put(rows[i].distinctUsers)
                    put(rows[i].isFinal ? #","is_final":true,"request_count":"# : #","is_final":false,"request_count":"#)
                    put(rows[i].requestCount)
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: p[..<n]))
                }
                return true
            }
            if !written {
                out.append(contentsOf: #"{"client_ip":"#.utf8)
                JSONValues.append(ip, to: &out)
                out.append(contentsOf: #","distinct_users":"#.utf8)
                JSONValues.append(rows[i].distinctUsers, to: &out)
                out.append(contentsOf: (rows[i].isFinal ? #","is_final":true,"request_count":"# : #","is_final":false,"request_count":"#).utf8)
                JSONValues.append(rows[i].requestCount, to: &out)
            }
            out.append(contentsOf: servicesJSON)
            out.append(contentsOf: windowJSON)
        }
    }
}

extension SystemMetrics: AnalyticsJSONEncodable {
    /// See `AnalyticsJSONEncodable`.
    public func appendJSON(to out: inout [UInt8]) {
        var o = JSONObjectWriter(&out)
        o.field("active_services", activeServices, &out)
        o.field("active_users", activeUsers, &out)
        o.field("avg_response_time", avgResponseTime, &out)
        o.field("error_count", errorCount, &out)
        o.field("error_rate", errorRate, &out)
        o.field("health_score", Int64(healthScore), &out)
        o.field("is_final", isFinal, &out)
        o.field("request_count", requestCount, &out)
        o.field("window", window, &out)
        o.end(&out)
    }
}

extension ActivityMetrics: AnalyticsJSONEncodable {
    /// See `AnalyticsJSONEncodable`.
    public func appendJSON(to out: inout [UInt8]) {
        var o = JSONObjectWriter(&out)
        o.field("browsers", browsers, &out) { JSONValues.append($0, to: &$1) }
        o.field("device_types", deviceTypes, &out) { JSONValues.append($0, to: &$1) }
        o.field("distinct_sessions", distinctSessions, &out)
        o.field("distinct_users", distinctUsers, &out)
        o.field("event_count", eventCount, &out)
        o.field("event_type", eventType, &out)
        o.field("is_final", isFinal, &out)
        o.field("operating_systems", operatingSystems, &out) { JSONValues.append($0, to: &$1) }
        o.field("window", window, &out)
        o.end(&out)
    }
}

extension LateCount: AnalyticsJSONEncodable {
    /// See `AnalyticsJSONEncodable`.
    public func appendJSON(to out: inout [UInt8]) {
        var o = JSONObjectWriter(&out)
        o.field("count", count, &out)
        o.field("key", key, &out)
        o.field("reason", reason.rawValue, &out)
        o.field("stream", stream.rawValue, &out)
        o.field("window", window, &out)
        o.end(&out)
    }
}

extension Alert: AnalyticsJSONEncodable {
    /// See `AnalyticsJSONEncodable`.
    public func appendJSON(to out: inout [UInt8]) {
        var o = JSONObjectWriter(&out)
        o.field("message", message, &out)
        o.field("observed", observed, &out) { JSONValues.append($0, to: &$1) }
        o.field("subject", subject, &out)
        o.field("thresholds", thresholds, &out) { JSONValues.append($0, to: &$1) }
        o.field("type", type.rawValue, &out)
        o.field("window", window, &out)
        o.end(&out)
    }
}

extension AnalyticsOutput: AnalyticsJSONEncodable {
    /// See `AnalyticsJSONEncodable`. (Its keys are the property names: it has no `CodingKeys`.)
    public func appendJSON(to out: inout [UInt8]) {
        var o = JSONObjectWriter(&out)
        o.field("activities", activities, &out)
        o.field("alerts", alerts, &out)
        o.field("clients", clients, &out)
        o.field("futureRows", futureRows, &out)
        o.field("lateCounts", lateCounts, &out)
        o.field("lateRows", lateRows, &out)
        o.field("services", services, &out)
        o.field("system", system, &out)
        o.end(&out)
    }
}

extension AnalyticsPublication: AnalyticsJSONEncodable {
    /// See `AnalyticsJSONEncodable`.
    public func appendJSON(to out: inout [UInt8]) {
        var o = JSONObjectWriter(&out)
        o.field("output", output, &out)
        o.field("partition", Int64(partition), &out)
        o.field("sequence", sequence, &out)
        if let through { o.field("through", through, &out) }
        o.field("topic", topic, &out)
        o.end(&out)
    }
}
