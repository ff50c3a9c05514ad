// The fast path for the records nearly every producer sends: known keys only, in any order
// (the schema's usual order guessed first), plain numbers, RFC 3339 timestamps without
// escapes, strings without problems (escapes and non-ASCII decoded on a slower branch). It
// reads a record in one pass with none of the general walk's bookkeeping (unknown-key
// tables, error paths, limit counters) into a stage of raw buffers (FastStage.swift) that
// reaches the batch's columns in bulk.
//
// It never decides a rejection: the moment a record needs anything it does not handle
// (an unknown key, an escaped key, a negative or exponent number, a required null, a bad
// string or timestamp, a limit, a syntax error) it gives up, cuts its unsealed staged
// bytes, and the general walk parses the record from its start (after the staged rows
// went to the batch, so rows keep their order). So every error, and every
// record with unknown fields, comes from the general walk exactly as before; what the
// fast path accepts it must write exactly as the general walk would, which the tests check
// record by record against the general walk alone.

/// A known field where a schema's records usually carry it, with its key as written in
/// JSON: quotes and colon included (`"level":`), so a guess is one comparison.
struct ExpectedMember {
    var quotedKey: StaticString
    var spec: FieldSpec
}

extension RecordParser {
    /// Whether the limits leave room for the fast path: its known keys (at most 16 bytes,
    /// at most 16 per object) never reach them, so it need not count.
    @inline(__always)
    var fastPathFits: Bool { limits.maxStringBytes >= 16 && limits.maxFieldsPerObject >= 16 }

    /// Parses the record whose `{` is at `c.pos` on the fast path into the stage. Returns
    /// false, with the stage and `c` unchanged, when the record needs the general walk.
    @inline(__always)
    mutating func parseFast<B: RecordSchema>(_ c: inout JSONCursor, into batch: inout B, exactEnd: Int?) -> Bool {
        let stage = uniqueStage()
        var f = c
        var row = PendingRow()
        f.pos &+= 1
        guard fastMembers(&f, group: 0, row: &row, stage: stage, B.self) else {
            stage.discardUnsealed(slots: B.stringSlots)
            return false
        }
        if let exactEnd {
            f.skipWhitespace()
            guard f.pos == exactEnd else {
                stage.discardUnsealed(slots: B.stringSlots)
                return false
            }
        }
        guard f.pos &- c.pos <= limits.maxRecordBytes, B.requiredMask & ~row.present == 0 else {
            stage.discardUnsealed(slots: B.stringSlots)
            return false
        }
        if stage.commit(row, slots: B.stringSlots) { flushStaged(into: &batch) }
        c = f
        return true
    }

    /// The parser's stage, its own (a copied parser shares its stage until it uses it).
    @inline(__always)
    mutating func uniqueStage() -> FastStage {
        if !isKnownUniquelyReferenced(&stage) { stage = FastStage() }
        return stage!
    }

    /// Appends the staged rows to `batch`: before a record the general walk reads, when the
    /// stage is full, and before a reader call returns.
    @inline(__always)
    mutating func flushStaged<B: RecordSchema>(into batch: inout B) {
        guard let stage, stage.count > 0 else { return }
        if stage.count == 1 {
            // One record (a lone bus message): sealed as the general walk seals it, which
            // costs less than fourteen bulk appends of one row.
            for s in 0..<B.stringSlots {
                let bytes = stage.slot(s).bytes
                if !bytes.isEmpty { batch.withStringBytes(UInt8(s)) { $0.append(contentsOf: bytes) } }
            }
            batch.extra.appendNull()
            batch.commit(stage.rows[0])
        } else {
            batch.appendStaged(stage)
        }
        stage.removeAll(slots: B.stringSlots)
    }

    /// Drops the staged rows (a body that fails as a whole).
    mutating func discardStaged<B: RecordSchema>(_: B.Type) {
        stage?.removeAll(slots: B.stringSlots)
    }

    /// The members of an object of `group` whose `{` has been consumed, up to and including
    /// its `}`; false when the record needs the general walk.
    mutating func fastMembers<B: RecordSchema>(_ c: inout JSONCursor, group: Int, row: inout PendingRow,
                                               stage: FastStage, _ schema: B.Type) -> Bool {
        let base = c.base
        let end = c.end
        c.skipWhitespace()
        if c.peek() == UInt8(ascii: "}") {
            c.pos &+= 1
            return true
        }
        var next = 0
        while true {
            c.skipWhitespace()
            var spec: FieldSpec
            if let guess = B.expectedMember(group: group, index: next),
               c.pos &+ guess.quotedKey.utf8CodeUnitCount <= end,
               memoryEqual(base + c.pos, guess.quotedKey.utf8Start, guess.quotedKey.utf8CodeUnitCount) {
                spec = guess.spec
                c.pos &+= guess.quotedKey.utf8CodeUnitCount
                next &+= 1
            } else {
                // Another known key, or the same one with whitespace before its colon.
                guard c.peek() == 0x22 else { return false }
                let keyStart = c.pos &+ 1
                let p = c.plainRunEnd(from: keyStart)
                guard p < end, base[p] == 0x22,
                      let found = B.field(group: group, key: UnsafeRawBufferPointer(start: base + keyStart, count: p &- keyStart))
                else { return false }
                spec = found
                c.pos = p &+ 1
                guard c.consume(UInt8(ascii: ":")) else { return false }
                next = Self.expectedIndex(after: found, group: group, B.self)
            }
            let bit: UInt64 = 1 << UInt64(spec.bit)
            guard row.keys & bit == 0 else { return false }
            row.keys |= bit
            c.skipWhitespace()
            guard fastValue(&c, spec, row: &row, stage: stage, B.self) else { return false }
            c.skipWhitespace()
            let b = c.peek()
            if b == UInt8(ascii: ",") {
                c.pos &+= 1
                continue
            }
            if b == UInt8(ascii: "}") {
                c.pos &+= 1
                return true
            }
            return false
        }
    }

    /// The index of the member after `spec` in the schema's usual order, so a record that
    /// skips an optional field goes back to guessing right after it.
    static func expectedIndex<B: RecordSchema>(after spec: FieldSpec, group: Int, _: B.Type) -> Int {
        var i = 0
        while let m = B.expectedMember(group: group, index: i) {
            if m.spec.bit == spec.bit { return i &+ 1 }
            i &+= 1
        }
        return i
    }

    /// A known field's value; false when the record needs the general walk.
    @inline(__always)
    mutating func fastValue<B: RecordSchema>(_ c: inout JSONCursor, _ spec: FieldSpec, row: inout PendingRow,
                                             stage: FastStage, _ schema: B.Type) -> Bool {
        let base = c.base
        let end = c.end
        guard c.pos < end else { return false }
        let b = base[c.pos]
        let bit: UInt64 = 1 << UInt64(spec.bit)
        if b == UInt8(ascii: "n") {
            // null: absent; a required one is left to the general walk by the final mask check.
            guard c.pos &+ 4 <= end, memoryEqual(base + c.pos, StaticString("null").utf8Start, 4) else { return false }
            c.pos &+= 4
            return true
        }
        switch spec.kind {
        case .string, .nonEmptyString:
            guard b == 0x22 else { return false }
            let start = c.pos &+ 1
            let p = c.plainRunEnd(from: start)
            var length: Int
            if p < end && base[p] == 0x22 {
                length = p &- start
                stage.append(spec.slot, base + start, length)
                c.pos = p &+ 1
            } else {
                // Escapes or non-ASCII: the general decoder, then into the stage.
                scratch.removeAll(keepingCapacity: true)
                var problem: UInt8 = 0
                guard c.readString(into: &scratch, problem: &problem), problem == 0 else { return false }
                length = scratch.count
                scratch.withUnsafeBytes { stage.append(spec.slot, $0.baseAddress ?? UnsafeRawPointer(base), length) }
            }
            guard length <= limits.maxStringBytes, length > 0 || spec.kind == .string else { return false }
        case .timestamp:
            if b == 0x22 {
                // An RFC 3339 string without escapes, read where it lies.
                let start = c.pos &+ 1
                let p = c.plainRunEnd(from: start)
                guard p < end && base[p] == 0x22, p &- start <= limits.maxStringBytes,
                      let micros = EventTime.parseRFC3339(UnsafeRawBufferPointer(start: base + start, count: p &- start)),
                      micros >= EventTime.minMicros && micros < EventTime.endMicros
                else { return false }
                row.timestamp = micros
                c.pos = p &+ 1
                break
            }
            // Epoch seconds, digits and an optional fraction: the microseconds exactly, digits
            // below them truncated (as `scaledInteger` does); anything else is the general walk's.
            var p = c.pos
            var seconds: Int64 = 0
            accumulateDigits(base, &p, end, into: &seconds)
            let digits = p &- c.pos
            guard digits >= 1 && digits <= 10, digits == 1 || b != UInt8(ascii: "0") else { return false }
            var micros = seconds &* 1_000_000
            if p < end && base[p] == UInt8(ascii: ".") {
                p &+= 1
                let fracStart = p
                var fraction: Int64 = 0
                while p < end {
                    let d = base[p] &- UInt8(ascii: "0")
                    if d >= 10 { break }
                    if p &- fracStart < 6 { fraction = fraction &* 10 &+ Int64(d) }
                    p &+= 1
                }
                let kept = p &- fracStart
                guard kept > 0 else { return false }
                micros &+= fraction &* microsScale(kept)
            }
            guard p >= end || base[p] | 0x20 != UInt8(ascii: "e"), micros < EventTime.endMicros else { return false }
            row.timestamp = micros
            c.pos = p
        case .level:
            guard b == 0x22 else { return false }
            let start = c.pos &+ 1
            var p = start
            while p < end && p &- start < 9 {
                let x = base[p]
                if x == 0x22 || x == 0x5C || (x &- 0x20) >= 0x60 { break }
                p &+= 1
            }
            let name = UnsafeRawBufferPointer(start: base + start, count: p &- start)
            guard p < end && base[p] == 0x22, let level = LogLevel(nameBytes: name) ?? LogLevel(anyCaseNameBytes: name)
            else { return false }
            row.level = level.rawValue
            c.pos = p &+ 1
        case .nonNegativeDouble, .double:
            // Up to 15 digits without an exponent: exactly the general walk's exact fast case
            // (`doubleValue`): the digits as an integer divided by a power of ten.
            var p = c.pos
            var acc: Int64 = 0
            accumulateDigits(base, &p, end, into: &acc)
            let intDigits = p &- c.pos
            guard intDigits >= 1, intDigits == 1 || b != UInt8(ascii: "0") else { return false }
            var fracDigits = 0
            if p < end && base[p] == UInt8(ascii: ".") {
                p &+= 1
                let fracStart = p
                accumulateDigits(base, &p, end, into: &acc)
                fracDigits = p &- fracStart
                guard fracDigits > 0 else { return false }
            }
            guard intDigits &+ fracDigits <= 15, p >= end || base[p] | 0x20 != UInt8(ascii: "e") else { return false }
            var v = Double(acc)
            if fracDigits > 0 { v /= exactPowerOfTen(fracDigits) }
            row.double = v
            c.pos = p
        case .int32:
            var p = c.pos
            var acc: Int64 = 0
            accumulateDigits(base, &p, end, into: &acc)
            let digits = p &- c.pos
            guard digits >= 1 && digits <= 9, digits == 1 || b != UInt8(ascii: "0") else { return false }
            if p < end {
                let x = base[p]
                guard x != UInt8(ascii: "."), x | 0x20 != UInt8(ascii: "e") else { return false }
            }
            row.int32 = Int32(truncatingIfNeeded: acc)
            c.pos = p
        case .object:
            guard b == UInt8(ascii: "{") else { return false }
            c.pos &+= 1
            guard fastMembers(&c, group: Int(spec.slot), row: &row, stage: stage, B.self) else { return false }
        }
        row.present |= bit
        return true
    }
}

/// Adds the decimal digits from `p` to `acc` (`acc * 10 + digit` each, wrapping: callers
/// bound the digit count afterwards) and moves `p` past them.
@inline(__always)
func accumulateDigits(_ base: UnsafePointer<UInt8>, _ p: inout Int, _ end: Int, into acc: inout Int64) {
    while p < end {
        let d = base[p] &- UInt8(ascii: "0")
        if d >= 10 { return }
        acc = acc &* 10 &+ Int64(d)
        p &+= 1
    }
}

/// 10^(6 − `digits`) for 1 ≤ `digits`, the factor that brings a fraction's first
/// `min(digits, 6)` digits to microseconds.
@inline(__always)
func microsScale(_ digits: Int) -> Int64 {
    switch digits {
    case 1: 100_000
    case 2: 10_000
    case 3: 1_000
    case 4: 100
    case 5: 10
    default: 1
    }
}
