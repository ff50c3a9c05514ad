/// Writes batch rows back as contract JSON (DESIGN.md), one compact object per row.
///
/// Fields come in the contract's order; null fields are left out; `timestamp` is epoch
/// seconds with up to six decimals (trailing zeros trimmed); numbers that are whole
/// are written without a fraction. Fields from `extra` are merged back: its top-level
/// members after the known fields, its `metadata` / `event_data` / `device` members
/// inside those objects. So for any record the reader accepts, reading the written
/// row gives the same columns, and the written JSON equals the original up to member
/// order, whitespace, escapes, nulls and RFC 3339 timestamps (written as numbers).
///
/// `extra` must hold what the reader puts there (a JSON object); anything else is
/// left out. A `level` that is not a `LogLevel` raw value is written as `INFO`.
public enum JSONRecordWriter {
    /// Appends row `row` of `batch` as one JSON object (no newline).
    public static func appendLog(_ batch: LogBatch, row i: Int, to out: inout [UInt8]) {
        var extra = ExtraMembers()
        if batch.extra.isPresent(row: i) {
            batch.extra.withBytes(ofRow: i) { extra.split($0, groups: ("metadata", "")) }
        }
        out.append(contentsOf: #"{"timestamp":"#.utf8)
        EventTime.appendEpochSeconds(batch.timestampMicros.values[i], to: &out)
        out.append(contentsOf: #","level":""#.utf8)
        out.append(contentsOf: batch.logLevel(row: i).nameBytes)
        out.append(0x22)
        var w = MemberWriter(first: false)
        w.string("service", batch.service, i, &out)
        w.string("host", batch.host, i, &out)
        w.string("message", batch.message, i, &out)
        if batch.hasMetadata(row: i) || extra.group1 != nil {
            w.key("metadata", &out)
            out.append(UInt8(ascii: "{"))
            var m = MemberWriter(first: true)
            m.string("request_id", batch.requestId, i, &out)
            m.double("response_time_ms", batch.responseTimeMs, i, &out)
            if let status = batch.statusCode[row: i] {
                m.key("status_code", &out)
                appendDecimal(Int64(status), to: &out)
            }
            m.string("endpoint", batch.endpoint, i, &out)
            m.string("method", batch.method, i, &out)
            m.string("client_ip", batch.clientIp, i, &out)
            m.string("user_id", batch.userId, i, &out)
            extra.appendGroup1(&m, &out)
            out.append(UInt8(ascii: "}"))
        }
        extra.appendTop(&w, &out)
        out.append(UInt8(ascii: "}"))
    }

    /// Appends row `row` of `batch` as one JSON object (no newline).
    public static func appendActivity(_ batch: ActivityBatch, row i: Int, to out: inout [UInt8]) {
        var extra = ExtraMembers()
        if batch.extra.isPresent(row: i) {
            batch.extra.withBytes(ofRow: i) { extra.split($0, groups: ("event_data", "device")) }
        }
        out.append(UInt8(ascii: "{"))
        var w = MemberWriter(first: true)
        w.string("event_id", batch.eventId, i, &out)
        w.key("timestamp", &out)
        EventTime.appendEpochSeconds(batch.timestampMicros.values[i], to: &out)
        w.string("user_id", batch.userId, i, &out)
        w.string("session_id", batch.sessionId, i, &out)
        w.string("event_type", batch.eventType, i, &out)
        if batch.hasEventData(row: i) || extra.group1 != nil {
            w.key("event_data", &out)
            out.append(UInt8(ascii: "{"))
            var m = MemberWriter(first: true)
            m.string("page", batch.page, i, &out)
            m.string("element", batch.element, i, &out)
            m.string("product_id", batch.productId, i, &out)
            m.string("query", batch.query, i, &out)
            m.double("amount", batch.amount, i, &out)
            extra.appendGroup1(&m, &out)
            out.append(UInt8(ascii: "}"))
        }
        if batch.hasDevice(row: i) || extra.group2 != nil {
            w.key("device", &out)
            out.append(UInt8(ascii: "{"))
            var m = MemberWriter(first: true)
            m.string("type", batch.deviceType, i, &out)
            m.string("os", batch.os, i, &out)
            m.string("browser", batch.browser, i, &out)
            extra.appendGroup2(&m, &out)
            out.append(UInt8(ascii: "}"))
        }
        extra.appendTop(&w, &out)
        out.append(UInt8(ascii: "}"))
    }

    /// Appends every row of `batch` as NDJSON (one object and a newline per row).
    public static func appendLogsNDJSON(_ batch: LogBatch, to out: inout [UInt8]) {
        for i in 0..<batch.count {
            appendLog(batch, row: i, to: &out)
            out.append(0x0A)
        }
    }

    /// Appends every row of `batch` as NDJSON (one object and a newline per row).
    public static func appendActivitiesNDJSON(_ batch: ActivityBatch, to out: inout [UInt8]) {
        for i in 0..<batch.count {
            appendActivity(batch, row: i, to: &out)
            out.append(0x0A)
        }
    }
}

/// Writes `"key":value` members with commas between them.
struct MemberWriter {
    var first: Bool

    @inline(__always)
    mutating func key(_ name: StaticString, _ out: inout [UInt8]) {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        out.append(0x22)
        out.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        out.append(contentsOf: #"":"#.utf8)
    }

    @inline(__always)
    mutating func string(_ name: StaticString, _ column: StringColumn, _ i: Int, _ out: inout [UInt8]) {
        guard column.isPresent(row: i) else { return }
        key(name, &out)
        column.withBytes(ofRow: i) { appendJSONString($0, to: &out) }
    }

    mutating func double(_ name: StaticString, _ column: PrimitiveColumn<Double>, _ i: Int, _ out: inout [UInt8]) {
        guard let v = column[row: i], v.isFinite else { return }
        key(name, &out)
        if v == v.rounded(.towardZero) && abs(v) < 1e15 {
            appendDecimal(Int64(v), to: &out)
        } else {
            out.append(contentsOf: v.description.utf8)
        }
    }

    /// Appends raw member text (`"k":v,...`) from `extra`.
    mutating func raw(_ text: ArraySlice<UInt8>, _ out: inout [UInt8]) {
        guard !text.isEmpty else { return }
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        out.append(contentsOf: text)
    }
}

/// `extra` split into its top-level members and the inner members of its group objects.
struct ExtraMembers {
    var top: [UInt8] = []
    var group1: ArraySlice<UInt8>? = nil
    var group2: ArraySlice<UInt8>? = nil
    var bytes: [UInt8] = []

    mutating func split(_ extra: UnsafeRawBufferPointer, groups: (StaticString, StaticString)) {
        bytes = Array(extra)
        var parser = RecordParser(limits: RecordLimits(maxRecordBytes: .max, maxStringBytes: .max,
                                                       maxDepth: .max, maxFieldsPerObject: .max))
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var c = JSONCursor(base: base, pos: 0, end: buffer.count)
            guard c.consume(UInt8(ascii: "{")) else { return }
            if c.consume(UInt8(ascii: "}")) { return }
            var members: [UInt8] = []
            while true {
                c.skipWhitespace()
                let memberStart = c.pos
                guard c.peek() == 0x22, c.skipString() else { return }
                let keyRange = (memberStart + 1)..<(c.pos - 1)
                guard c.consume(UInt8(ascii: ":")) else { return }
                c.skipWhitespace()
                let valueStart = c.pos
                guard parser.skipValue(&c) else { return }
                let valueRange = valueStart..<c.pos
                let key = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[keyRange])
                let isObject = base[valueStart] == UInt8(ascii: "{")
                if isObject && keyIs(key, groups.0) {
                    group1 = inner(valueRange)
                } else if isObject && groups.1.utf8CodeUnitCount > 0 && keyIs(key, groups.1) {
                    group2 = inner(valueRange)
                } else {
                    if !members.isEmpty { members.append(UInt8(ascii: ",")) }
                    members.append(contentsOf: UnsafeRawBufferPointer(buffer)[memberStart..<c.pos])
                }
                if c.consume(UInt8(ascii: ",")) { continue }
                guard c.consume(UInt8(ascii: "}")) else { return }
                c.skipWhitespace()
                if c.pos == c.end { top = members }
                return
            }
        }
        if top.isEmpty && group1 == nil && group2 == nil { bytes = [] }
    }

    /// The text between an object's braces (empty for `{}`).
    func inner(_ range: Range<Int>) -> ArraySlice<UInt8> {
        bytes[(range.lowerBound + 1)..<(range.upperBound - 1)]
    }

    func appendTop(_ w: inout MemberWriter, _ out: inout [UInt8]) { w.raw(top[...], &out) }
    func appendGroup1(_ w: inout MemberWriter, _ out: inout [UInt8]) { if let group1 { w.raw(group1, &out) } }
    func appendGroup2(_ w: inout MemberWriter, _ out: inout [UInt8]) { if let group2 { w.raw(group2, &out) } }
}
