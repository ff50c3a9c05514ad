/// The raw access-log formats the collector reads from `text/plain` bodies (seed 004's
/// LogProcessor): Apache common and combined, Nginx combined, and, in `auto`, JSON lines.
public enum AccessLogFormat: String, Sendable, CaseIterable {
    /// Apache common (`%h %l %u %t "%r" %>s %b`) or combined (plus `"%{Referer}i" "%{User-agent}i"`).
    case apache
    /// Nginx's `combined`: the referrer and user agent are required.
    case nginx
    /// Either access-log form, or a JSON log record, decided line by line.
    case auto
}

/// What `AccessLogReader` read: the body's records and which accepted rows were JSON lines.
public struct AccessLogReadResult: Sendable, Equatable {
    /// Records seen, accepted and rejected. `index` in each error is the 0-based line
    /// (blank lines counted), so line number = index + 1; spans are the lines' bytes.
    public var body = BodyReadResult()
    /// For each accepted row: whether it was a JSON line (its bytes are the record as sent)
    /// rather than an access-log line (whose record is what the batch row holds).
    public var isJSONLine: [Bool] = []

    /// An empty result.
    public init() {}
}

/// Parses access-log lines straight into `LogBatch` columns, in the log contract:
/// `client_ip`, time, method, path → `endpoint`, status, the authenticated user →
/// `user_id`, the level from the status (5xx ERROR, 4xx WARN, else INFO), the request line
/// as `message`, and `bytes`, `protocol`, `query`, `referrer`, `user_agent` in `metadata`
/// (kept in `extra`). A `-` field is absent. Lines that do not parse are rejected one by one.
public struct AccessLogReader: Sendable {
    /// Which lines are accepted.
    public var format: AccessLogFormat
    /// The `service` of every access-log line (they do not carry one); nil rejects them.
    public var service: String?
    /// The `host` of every access-log line, if known.
    public var host: String?

    private var json = JSONBodyReader()
    private var scratch: [UInt8] = []
    private var extra: [UInt8] = []

    /// A reader of `format` lines from `service` on `host`.
    public init(format: AccessLogFormat, service: String?, host: String? = nil) {
        self.format = format
        self.service = service
        self.host = host
    }

    /// Reads every line of `body` into `batch`.
    public mutating func readLogs(body: UnsafeRawBufferPointer, limits: RecordLimits = RecordLimits(),
                                  into batch: inout LogBatch) -> AccessLogReadResult {
        var result = AccessLogReadResult()
        guard let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return result }
        var start = 0
        var line = 0
        while start < body.count {
            var end = start
            while end < body.count && base[end] != 0x0A { end += 1 }
            let next = end + 1
            var s = start, e = end
            while s < e && (base[s] == 0x20 || base[s] == 0x09) { s += 1 }
            while e > s && (base[e - 1] == 0x20 || base[e - 1] == 0x09 || base[e - 1] == 0x0D) { e -= 1 }
            if s < e {
                result.body.total += 1
                let error: RecordError?
                let isJSON = base[s] == UInt8(ascii: "{")
                if isJSON && format == .auto {
                    error = json.appendLog(json: UnsafeRawBufferPointer(start: base + s, count: e - s), to: &batch, limits: limits)
                } else if e - s > limits.maxRecordBytes {
                    error = RecordError(index: 0, field: "$", message: "line longer than \(limits.maxRecordBytes) bytes", reason: .tooLarge)
                } else {
                    error = appendAccessLine(base, s, e, limits: limits, into: &batch)
                }
                if var error {
                    error.index = line
                    error.message = "line \(line + 1): \(error.message)"
                    result.body.errors.append(error)
                    result.body.rejectedSpans.append(s..<e)
                } else {
                    result.body.acceptedSpans.append(s..<e)
                    result.isJSONLine.append(isJSON && format == .auto)
                }
            }
            line += 1
            start = next
        }
        return result
    }

    // MARK: One line

    /// The fields of one access-log line, as ranges into the line or decoded strings.
    private struct Fields {
        var client: Range<Int> = 0..<0
        var user: Range<Int>? = nil
        var micros: Int64 = 0
        var request: [UInt8] = []
        var status: Int32 = 0
        var bytes: Int64? = nil
        var referrer: [UInt8]? = nil
        var agent: [UInt8]? = nil
    }

    private mutating func appendAccessLine(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, limits: RecordLimits,
                                           into batch: inout LogBatch) -> RecordError? {
        var f = Fields()
        var i = start
        func fail(_ field: String, _ message: String, _ reason: RejectReason = .syntax) -> RecordError {
            RecordError(index: 0, field: field, message: message, reason: reason)
        }
        func token() -> Range<Int>? {
            let s = i
            while i < end && p[i] != 0x20 { i += 1 }
            guard i > s else { return nil }
            let r = s..<i
            while i < end && p[i] == 0x20 { i += 1 }
            return r
        }
        guard let client = token() else { return fail("metadata.client_ip", "expected the client address") }
        f.client = client
        guard token() != nil, let user = token() else { return fail("$", "not an access log line: expected ident and user after the client address") }
        f.user = isDash(p, user) ? nil : user
        guard i < end, p[i] == UInt8(ascii: "[") else { return fail("timestamp", "expected [dd/Mon/yyyy:HH:MM:SS +zzzz]") }
        guard let micros = Self.parseTime(p, i + 1, end) else { return fail("timestamp", "expected [dd/Mon/yyyy:HH:MM:SS +zzzz]", .invalidValue) }
        f.micros = micros
        i += 28
        while i < end && p[i] == 0x20 { i += 1 }
        guard quoted(p, &i, end, into: &f.request) else { return fail("message", "expected the quoted request line") }
        guard i + 3 <= end, let status = Self.threeDigits(p, i), i + 3 == end || p[i + 3] == 0x20 else {
            return fail("metadata.status_code", "expected a three-digit status")
        }
        f.status = status
        i += 3
        while i < end && p[i] == 0x20 { i += 1 }
        guard let bytes = token() else { return fail("metadata.bytes", "expected the response size") }
        if !isDash(p, bytes) {
            var n: Int64 = 0
            for k in bytes {
                guard p[k] >= 0x30 && p[k] <= 0x39, n < Int64.max / 10 - 10 else { return fail("metadata.bytes", "the response size is not a number", .invalidValue) }
                n = n * 10 + Int64(p[k] - 0x30)
            }
            f.bytes = n
        }
        if i < end {
            var referrer: [UInt8] = [], agent: [UInt8] = []
            guard quoted(p, &i, end, into: &referrer), quoted(p, &i, end, into: &agent) else {
                return fail("$", "expected the quoted referrer and user agent after the size")
            }
            guard i == end else { return fail("$", "unexpected text after the user agent") }
            f.referrer = referrer == [UInt8(ascii: "-")] ? nil : referrer
            f.agent = agent == [UInt8(ascii: "-")] ? nil : agent
        } else if format == .nginx {
            return fail("$", "not Nginx combined: the referrer and user agent are missing")
        }
        for (field, value) in [("message", f.request), ("metadata.referrer", f.referrer ?? []), ("metadata.user_agent", f.agent ?? [])] {
            if value.count > limits.maxStringBytes { return fail(field, "longer than \(limits.maxStringBytes) bytes", .tooLarge) }
            if value.contains(where: { $0 >= 0x80 }), String(validating: value, as: UTF8.self) == nil {
                return fail(field, "not valid UTF-8", .encoding)
            }
        }
        // Unquoted fields too: a byte ≥ 0x80 in the client or user must be UTF-8 (found by fuzzing).
        for (field, range) in [("metadata.client_ip", f.client), ("metadata.user_id", f.user ?? 0..<0)]
        where range.contains(where: { p[$0] >= 0x80 }) {
            if String(validating: UnsafeBufferPointer(start: p + range.lowerBound, count: range.count), as: UTF8.self) == nil {
                return fail(field, "not valid UTF-8", .encoding)
            }
        }
        guard let service else {
            return fail("service", "access log lines need a service: ?service=NAME or the X-Logpipe-Service header", .missingField)
        }
        append(f, p, service: service, into: &batch)
        return nil
    }

    private mutating func append(_ f: Fields, _ p: UnsafePointer<UInt8>, service: String, into batch: inout LogBatch) {
        let before = batch.count
        batch.timestampMicros.append(f.micros)
        batch.level.append(f.status >= 500 ? LogLevel.error.rawValue : f.status >= 400 ? LogLevel.warn.rawValue : LogLevel.info.rawValue)
        batch.service.append(service)
        if let host { batch.host.append(host) } else { batch.host.appendNull() }
        batch.message.append(utf8: f.request)
        [Bool].appendPresence(true, to: &batch.metadataValidity, rowsBefore: before)
        batch.requestId.appendNull()
        batch.responseTimeMs.append(nil, zero: 0)
        batch.statusCode.append(f.status)
        // "GET /path?query HTTP/1.1": method, endpoint and protocol; anything else ("-",
        // a probe's garbage) stays the message alone.
        let parts = f.request.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: true)
        var query: ArraySlice<UInt8>? = nil
        var protocolName: ArraySlice<UInt8>? = nil
        if parts.count >= 2 {
            let target = parts[1]
            let question = target.firstIndex(of: UInt8(ascii: "?"))
            batch.endpoint.append(utf8: target[..<(question ?? target.endIndex)])
            batch.method.append(utf8: parts[0])
            if let question { query = target[(question + 1)...] }
            if parts.count == 3 { protocolName = parts[2] }
        } else {
            batch.endpoint.appendNull()
            batch.method.appendNull()
        }
        batch.clientIp.append(utf8: UnsafeBufferPointer(start: p + f.client.lowerBound, count: f.client.count))
        if let user = f.user {
            batch.userId.append(utf8: UnsafeBufferPointer(start: p + user.lowerBound, count: user.count))
        } else {
            batch.userId.appendNull()
        }
        extra.removeAll(keepingCapacity: true)
        var first = true
        func key(_ name: StaticString) {
            extra.append(contentsOf: first ? #"{"metadata":{""#.utf8 : #",""#.utf8)
            first = false
            extra.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            extra.append(contentsOf: #"":"#.utf8)
        }
        func string(_ name: StaticString, _ value: some Collection<UInt8>) {
            key(name)
            Array(value).withUnsafeBytes { appendJSONString($0, to: &extra) }
        }
        if let bytes = f.bytes {
            key("bytes")
            extra.append(contentsOf: String(bytes).utf8)
        }
        if let protocolName { string("protocol", protocolName) }
        if let query { string("query", query) }
        if let referrer = f.referrer { string("referrer", referrer) }
        if let agent = f.agent { string("user_agent", agent) }
        if first {
            batch.extra.appendNull()
        } else {
            extra.append(contentsOf: "}}".utf8)
            batch.extra.append(utf8: extra)
        }
    }

    private func isDash(_ p: UnsafePointer<UInt8>, _ r: Range<Int>) -> Bool {
        r.count == 1 && p[r.lowerBound] == UInt8(ascii: "-")
    }

    /// Reads a `"…"` field at `i` into `out`, undoing Apache's and Nginx's escapes (`\"`,
    /// `\\`, `\xHH` for ASCII; other `\xHH` stay as written, so the text stays UTF-8).
    private func quoted(_ p: UnsafePointer<UInt8>, _ i: inout Int, _ end: Int, into out: inout [UInt8]) -> Bool {
        guard i < end, p[i] == 0x22 else { return false }
        var k = i + 1
        out.removeAll(keepingCapacity: true)
        while k < end {
            let b = p[k]
            if b == 0x22 {
                i = k + 1
                guard i == end || p[i] == 0x20 else { return false }
                while i < end && p[i] == 0x20 { i += 1 }
                return true
            }
            if b == 0x5C, k + 1 < end {
                let n = p[k + 1]
                if n == 0x22 || n == 0x5C {
                    out.append(n)
                    k += 2
                    continue
                }
                if n == UInt8(ascii: "x"), k + 3 < end, let hi = hexValue(p[k + 2]), let lo = hexValue(p[k + 3]), hi < 8 {
                    out.append(hi << 4 | lo)
                    k += 4
                    continue
                }
            }
            out.append(b)
            k += 1
        }
        return false
    }

    private func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    private static func threeDigits(_ p: UnsafePointer<UInt8>, _ i: Int) -> Int32? {
        var n: Int32 = 0
        for k in i..<i + 3 {
            guard p[k] >= 0x30 && p[k] <= 0x39 else { return nil }
            n = n * 10 + Int32(p[k] - 0x30)
        }
        return n >= 100 ? n : nil
    }

    /// `dd/Mon/yyyy:HH:MM:SS +zzzz]` at `s`, as microseconds since the epoch (UTC).
    static func parseTime(_ p: UnsafePointer<UInt8>, _ s: Int, _ end: Int) -> Int64? {
        guard s + 27 <= end, p[s + 2] == 0x2F, p[s + 6] == 0x2F, p[s + 11] == 0x3A, p[s + 14] == 0x3A,
              p[s + 17] == 0x3A, p[s + 20] == 0x20, p[s + 26] == UInt8(ascii: "]")
        else { return nil }
        func digits(_ at: Int, _ count: Int) -> Int64? {
            var n: Int64 = 0
            for k in at..<at + count {
                guard p[k] >= 0x30 && p[k] <= 0x39 else { return nil }
                n = n * 10 + Int64(p[k] - 0x30)
            }
            return n
        }
        let months: [UInt32] = [0x4A616E, 0x466562, 0x4D6172, 0x417072, 0x4D6179, 0x4A756E,
                                0x4A756C, 0x417567, 0x536570, 0x4F6374, 0x4E6F76, 0x446563]
        let code = UInt32(p[s + 3]) << 16 | UInt32(p[s + 4]) << 8 | UInt32(p[s + 5])
        guard let monthIndex = months.firstIndex(of: code), let day = digits(s, 2), let year = digits(s + 7, 4),
              let hour = digits(s + 12, 2), let minute = digits(s + 15, 2), let second = digits(s + 18, 2),
              let zh = digits(s + 22, 2), let zm = digits(s + 24, 2), p[s + 21] == 0x2B || p[s + 21] == 0x2D
        else { return nil }
        let month = Int64(monthIndex + 1)
        guard day >= 1, day <= EventTime.daysInMonth(year: year, month: month), hour < 24, minute < 60, second < 61,
              zh < 24, zm < 60 else { return nil }
        let days = EventTime.daysFromCivil(year: year, month: month, day: day)
        let offset = (zh * 3600 + zm * 60) * (p[s + 21] == 0x2D ? -1 : 1)
        let micros = (days * 86_400 + hour * 3600 + minute * 60 + second - offset) * 1_000_000
        // The contract's range (years 1970 to 2200), as for JSON timestamps; found by fuzzing.
        return micros >= EventTime.minMicros && micros < EventTime.endMicros ? micros : nil
    }
}
