#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses JSON request bodies and bus messages straight into `LogBatch` and
/// `ActivityBatch` columns, validating each record.
///
/// A body is one of:
/// - a JSON array of objects (the seed's generator posts these);
/// - a single object (which may span lines);
/// - NDJSON: one object per line, blank lines skipped, `\r\n` accepted.
///
/// A leading UTF-8 byte order mark is skipped. Each record is validated on its own:
/// valid ones are appended to the batch, invalid ones are reported with their index
/// and field and leave the batch unchanged. A body that cannot be split into records
/// (a malformed array, an empty body) throws `BodyError` and leaves the batch unchanged.
///
/// Rules beyond the data contract, decided here:
/// - Duplicate keys anywhere in a record reject it (`duplicate_key`), so no consumer
///   can read a different value than we validated.
/// - An explicit `null` is the same as an absent field; for a required field it is
///   an error (`must not be null`). `null`s are not written back.
/// - `status_code` must be an integral number (`200` or `200.0`) within Int32;
///   `response_time_ms` any finite number ≥ 0; `event_data.amount` any finite number.
/// - `timestamp` numbers are epoch seconds, converted exactly to microseconds with
///   digits below the microsecond truncated; negative values and years after 2200 are errors.
/// - Strings must be valid UTF-8 without raw control characters; lone surrogates in
///   `\u` escapes are errors. `event_type` must not be empty.
/// - Fields beyond the schema go to `extra` in canonical compact form (no whitespace,
///   strings re-escaped minimally, numbers exactly as written); they are held to the
///   same rules (UTF-8, no duplicate keys, numbers a double can hold) and to
///   `RecordLimits.maxDepth`.
/// - A record with several problems is reported with the first one met in reading order.
///
/// The reader keeps scratch buffers between calls, so reuse one per thread. A batch's
/// string columns hold at most 2 GiB each (32-bit offsets); a body or record that could
/// pass that is refused with a "batch is full" error, so flush batches long before.
public struct JSONBodyReader: Sendable {
    var parser = RecordParser(limits: RecordLimits())

    /// A reader.
    public init() {}

    /// Reads a body of log records into `batch`.
    public mutating func readLogs(body: UnsafeRawBufferPointer, limits: RecordLimits = RecordLimits(),
                                  into batch: inout LogBatch) throws(BodyError) -> BodyReadResult {
        try read(body, limits: limits, into: &batch)
    }

    /// Reads a body of log records into `batch`.
    public mutating func readLogs(body: [UInt8], limits: RecordLimits = RecordLimits(),
                                  into batch: inout LogBatch) throws(BodyError) -> BodyReadResult {
        let result: Result<BodyReadResult, BodyError> = body.withUnsafeBytes { bytes in
            do throws(BodyError) { return .success(try read(bytes, limits: limits, into: &batch)) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Reads a body of activity events into `batch`.
    public mutating func readActivities(body: UnsafeRawBufferPointer, limits: RecordLimits = RecordLimits(),
                                        into batch: inout ActivityBatch) throws(BodyError) -> BodyReadResult {
        try read(body, limits: limits, into: &batch)
    }

    /// Reads a body of activity events into `batch`.
    public mutating func readActivities(body: [UInt8], limits: RecordLimits = RecordLimits(),
                                        into batch: inout ActivityBatch) throws(BodyError) -> BodyReadResult {
        let result: Result<BodyReadResult, BodyError> = body.withUnsafeBytes { bytes in
            do throws(BodyError) { return .success(try read(bytes, limits: limits, into: &batch)) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses one log record (a bus message: one JSON object, whitespace around it
    /// allowed) and appends it to `batch`. Returns the error (index 0) when it is
    /// rejected, leaving the batch unchanged.
    public mutating func appendLog(json: UnsafeRawBufferPointer, to batch: inout LogBatch,
                                   limits: RecordLimits = RecordLimits()) -> RecordError? {
        appendOne(json, limits: limits, into: &batch)
    }

    /// Parses one activity event (a bus message) and appends it to `batch`.
    /// Returns the error (index 0) when it is rejected, leaving the batch unchanged.
    public mutating func appendActivity(json: UnsafeRawBufferPointer, to batch: inout ActivityBatch,
                                        limits: RecordLimits = RecordLimits()) -> RecordError? {
        appendOne(json, limits: limits, into: &batch)
    }

    /// Parses bus messages, one log record each, into `batch`: what `appendLog(json:to:limits:)`
    /// on each in turn does, with the rows appended to the columns in bulk. `message(i)` is
    /// message `i` of `0..<count`; `outcome(i, error)` is called for every message in order,
    /// with its error when it is rejected (the batch then holds the accepted ones only).
    public mutating func appendLogs(count: Int, limits: RecordLimits = RecordLimits(), to batch: inout LogBatch,
                                    message: (Int) -> UnsafeRawBufferPointer, outcome: (Int, RecordError?) -> Void) {
        appendMany(count, limits: limits, into: &batch, message: message, outcome: outcome)
    }

    /// Parses bus messages, one activity event each, into `batch`, as `appendLogs` does logs.
    public mutating func appendActivities(count: Int, limits: RecordLimits = RecordLimits(), to batch: inout ActivityBatch,
                                          message: (Int) -> UnsafeRawBufferPointer,
                                          outcome: (Int, RecordError?) -> Void) {
        appendMany(count, limits: limits, into: &batch, message: message, outcome: outcome)
    }

    /// Bodies longer than this (after their first record) get their columns reserved.
    static let reserveAbove = 64 * 1024

    static let batchFull = "the batch is full (a string column would pass 2 GiB); read into a fresh batch"

    // MARK: Framing

    mutating func appendOne<B: RecordSchema>(_ json: UnsafeRawBufferPointer, limits: RecordLimits,
                                             into batch: inout B) -> RecordError? {
        parser.limits = limits
        if let error = messageError(json, limits: limits) { return error }
        // A record's column bytes never exceed its text, so this keeps 32-bit offsets exact.
        if batch.largestStringColumnBytes + json.count > Int(Int32.max) {
            return RecordError(index: 0, field: "$", message: Self.batchFull, reason: .tooLarge)
        }
        let error = parseMessage(json, into: &batch)
        parser.flushStaged(into: &batch)
        return error
    }

    mutating func appendMany<B: RecordSchema>(_ count: Int, limits: RecordLimits, into batch: inout B,
                                              message: (Int) -> UnsafeRawBufferPointer,
                                              outcome: (Int, RecordError?) -> Void) {
        parser.limits = limits
        // The 2 GiB check of `appendOne`, against a bound (the columns at the last flush plus
        // every message since) that is exact again after a flush whenever it would refuse.
        var largest = batch.largestStringColumnBytes
        var held = 0
        for i in 0..<count {
            let json = message(i)
            if let error = messageError(json, limits: limits) {
                outcome(i, error)
                continue
            }
            if largest &+ held &+ json.count > Int(Int32.max) {
                parser.flushStaged(into: &batch)
                largest = batch.largestStringColumnBytes
                held = 0
                if largest &+ json.count > Int(Int32.max) {
                    outcome(i, RecordError(index: 0, field: "$", message: Self.batchFull, reason: .tooLarge))
                    continue
                }
            }
            held &+= json.count
            outcome(i, parseMessage(json, into: &batch))
        }
        parser.flushStaged(into: &batch)
    }

    /// A bus message's error before it is parsed: empty, or over the record limit.
    @inline(__always)
    func messageError(_ json: UnsafeRawBufferPointer, limits: RecordLimits) -> RecordError? {
        if json.isEmpty { return RecordError(index: 0, field: "$", message: "empty record", reason: .syntax) }
        if json.count > limits.maxRecordBytes {
            return RecordError(index: 0, field: "$", message: "record larger than \(limits.maxRecordBytes) bytes",
                               reason: .tooLarge)
        }
        return nil
    }

    /// One bus message that passed `messageError`; its row may stay staged.
    @inline(__always)
    mutating func parseMessage<B: RecordSchema>(_ json: UnsafeRawBufferPointer, into batch: inout B) -> RecordError? {
        let base = json.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var c = JSONCursor(base: base, pos: 0, end: json.count)
        c.skipWhitespace()
        let end = trimmedEnd(base, c.pos, json.count)
        return parseOne(&c, index: 0, end: end, into: &batch).1
    }

    /// Parses the record at `c.pos`, which must end (up to whitespace) exactly at `end`.
    mutating func parseOne<B: RecordSchema>(_ c: inout JSONCursor, index: Int, end: Int,
                                            into batch: inout B) -> (accepted: Bool, error: RecordError?) {
        guard c.peek() == UInt8(ascii: "{") else {
            var probe = c
            probe.end = end
            let isValue = c.pos < end && parser.skipValue(&probe) && probe.pos == end
            let error = isValue
                ? RecordError(index: index, field: "$", message: "expected an object", reason: .wrongType)
                : RecordError(index: index, field: "$", message: c.pos < end
                                  ? "not a JSON object" : "empty record", reason: .syntax)
            return (false, error)
        }
        c.end = end
        switch parser.parseRecord(&c, into: &batch, exactEnd: end) {
        case .accepted:
            return (true, nil)
        case .rejected(let field, let message, let reason):
            return (false, RecordError(index: index, field: field, message: message, reason: reason))
        case .syntax(let offset, let message):
            return (false, RecordError(index: index, field: "$", message: "\(message) at byte \(offset)",
                                       reason: .syntax))
        }
    }

    mutating func read<B: RecordSchema>(_ body: UnsafeRawBufferPointer, limits: RecordLimits,
                                        into batch: inout B) throws(BodyError) -> BodyReadResult {
        parser.limits = limits
        guard body.count > 0, let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw BodyError(offset: 0, message: "empty body")
        }
        var c = JSONCursor(base: base, pos: 0, end: body.count)
        if body.count >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { c.pos = 3 }
        let bodyStart = c.pos
        c.skipWhitespace()
        guard c.pos < c.end else { throw BodyError(offset: c.pos, message: "empty body") }
        // A record's column bytes never exceed its text, so this keeps 32-bit offsets exact.
        if batch.largestStringColumnBytes + body.count > Int(Int32.max) {
            throw BodyError(offset: 0, message: Self.batchFull)
        }
        let rowsBefore = batch.count
        switch c.peek() {
        case UInt8(ascii: "["):
            do throws(BodyError) {
                let result = try readArray(&c, into: &batch)
                parser.flushStaged(into: &batch)
                return result
            } catch {
                parser.discardStaged(B.self)
                batch.truncate(toCount: rowsBefore)
                throw error
            }
        case UInt8(ascii: "{"):
            let result = readLines(base, from: bodyStart, end: body.count, into: &batch)
            parser.flushStaged(into: &batch)
            return result
        default:
            throw BodyError(offset: c.pos, message: c.syntaxMessage(expected: "a JSON array, an object or NDJSON"))
        }
    }

    mutating func readArray<B: RecordSchema>(_ c: inout JSONCursor, into batch: inout B) throws(BodyError) -> BodyReadResult {
        var result = BodyReadResult()
        c.pos &+= 1
        c.skipWhitespace()
        if c.peek() == UInt8(ascii: "]") {
            c.pos &+= 1
        } else {
            while true {
                c.skipWhitespace()
                let start = c.pos
                let index = result.total
                result.total &+= 1
                if c.peek() == UInt8(ascii: "{") {
                    switch parser.parseRecord(&c, into: &batch) {
                    case .accepted:
                        result.acceptedSpans.append(start..<c.pos)
                    case .rejected(let field, let message, let reason):
                        result.errors.append(RecordError(index: index, field: field, message: message, reason: reason))
                        result.rejectedSpans.append(start..<c.pos)
                    case .syntax(let offset, let message):
                        throw BodyError(offset: offset, message: "record \(index): \(message)")
                    }
                } else {
                    guard parser.skipValue(&c) else {
                        throw BodyError(offset: c.pos, message: "record \(index): \(parser.syntaxMessage)")
                    }
                    result.errors.append(RecordError(index: index, field: "$", message: "expected an object",
                                                     reason: .wrongType))
                    result.rejectedSpans.append(start..<c.pos)
                }
                c.skipWhitespace()
                let b = c.peek()
                if b == UInt8(ascii: ",") {
                    c.pos &+= 1
                    continue
                }
                if b == UInt8(ascii: "]") {
                    c.pos &+= 1
                    break
                }
                throw BodyError(offset: c.pos, message: c.syntaxMessage(expected: "',' or ']'"))
            }
        }
        c.skipWhitespace()
        guard c.pos == c.end else {
            throw BodyError(offset: c.pos, message: c.syntaxMessage(expected: "the end of the body after the array"))
        }
        return result
    }

    /// NDJSON, or one object that may span lines.
    mutating func readLines<B: RecordSchema>(_ base: UnsafePointer<UInt8>, from bodyStart: Int, end: Int,
                                             into batch: inout B) -> BodyReadResult {
        var result = BodyReadResult()
        var lineStart = bodyStart
        let maxRecord = parser.limits.maxRecordBytes
        while lineStart < end {
            let lineEnd: Int
            if let nl = memchr(base + lineStart, 0x0A, end &- lineStart) {
                lineEnd = UnsafeRawPointer(nl) - UnsafeRawPointer(base)
            } else {
                lineEnd = end
            }
            var c = JSONCursor(base: base, pos: lineStart, end: lineEnd)
            c.skipWhitespace()
            let s = c.pos
            guard s < lineEnd else {
                lineStart = lineEnd &+ 1
                continue
            }
            let e = trimmedEnd(base, s, lineEnd)
            let index = result.total
            result.total &+= 1
            var outcome: (accepted: Bool, error: RecordError?)
            if e &- s > maxRecord {
                outcome = (false, RecordError(index: index, field: "$", message: "record larger than \(maxRecord) bytes",
                                              reason: .tooLarge))
            } else {
                outcome = parseOne(&c, index: index, end: e, into: &batch)
            }
            if index == 0, let error = outcome.error, error.reason == .syntax, lineEnd < end,
               base[s] == UInt8(ascii: "{"), let single = readSingleObject(base, s, end, into: &batch) {
                return single
            }
            if outcome.accepted {
                if index == 0 && end &- lineEnd > Self.reserveAbove {
                    // The first record of a large body into an empty batch: size the columns
                    // for the lines to come from it, once, instead of doubling them (the
                    // record leaves the stage first, so the batch shows it).
                    parser.flushStaged(into: &batch)
                }
                if index == 0 && batch.count == 1 && end &- lineEnd > Self.reserveAbove {
                    let rows = (end &- bodyStart) / max(64, lineEnd &- lineStart &+ 1) &+ 16
                    batch.reserveLikeHeld(rows: rows)
                    result.acceptedSpans.reserveCapacity(rows)
                }
                result.acceptedSpans.append(s..<e)
            } else {
                result.errors.append(outcome.error!)
                result.rejectedSpans.append(s..<e)
            }
            lineStart = lineEnd &+ 1
        }
        return result
    }

    /// The body as one object spanning lines, when it is exactly that; nil otherwise
    /// (the batch is then unchanged).
    mutating func readSingleObject<B: RecordSchema>(_ base: UnsafePointer<UInt8>, _ s: Int, _ end: Int,
                                                    into batch: inout B) -> BodyReadResult? {
        let e = trimmedEnd(base, s, end)
        var c = JSONCursor(base: base, pos: s, end: e)
        var result = BodyReadResult()
        result.total = 1
        switch parser.parseRecord(&c, into: &batch, exactEnd: e) {
        case .accepted:
            result.acceptedSpans.append(s..<e)
        case .rejected(let field, let message, let reason):
            result.errors.append(RecordError(index: 0, field: field, message: message, reason: reason))
            result.rejectedSpans.append(s..<e)
        case .syntax:
            return nil
        }
        return result
    }
}

/// The end of `base[start..<end]` without trailing JSON whitespace.
@inline(__always)
func trimmedEnd(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int {
    var e = end
    while e > start {
        let b = base[e &- 1]
        if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { e &-= 1 } else { break }
    }
    return e
}
