// One record's JSON object, parsed straight into a batch's columns. The walk over the
// record is generic over a `RecordSchema` (logs, activities) that names the known
// fields and owns the columns; everything else (validation, unknown fields kept in
// `extra`, limits, recovery to the end of a bad record) is shared.
//
// Rollback is cheap by construction: string bytes are decoded straight into each
// column's byte buffer but sealed (offset, validity) only when the whole record has
// passed, and numbers wait in a `PendingRow`. A rejected record therefore only needs
// its unsealed bytes cut off.

/// How the parser reads a known field's value.
enum FieldKind: UInt8 {
    case string, nonEmptyString, timestamp, level, nonNegativeDouble, double, int32, object
}

/// A known field of a schema.
struct FieldSpec {
    /// The field's bit in `PendingRow.present` and `PendingRow.keys`.
    var bit: UInt8
    var kind: FieldKind
    /// The string column (string kinds) or the nested group (objects); unused otherwise.
    var slot: UInt8
    /// The dotted path used in errors.
    var path: StaticString
}

/// A record's non-string values and which fields it had, until it is committed.
struct PendingRow {
    /// Fields with a non-null value.
    var present: UInt64 = 0
    /// Keys seen (null or not), to reject duplicates.
    var keys: UInt64 = 0
    var timestamp: Int64 = 0
    var level: UInt8 = 0
    var int32: Int32 = 0
    var double: Double = 0

    @inline(__always) func has(_ bit: UInt8) -> Bool { present & (1 << UInt64(bit)) != 0 }
}

/// A batch the parser can fill: its known fields and its columns.
protocol RecordSchema {
    /// The known field `key` names in `group` (0 is the record, 1 and up its nested objects).
    static func field(group: Int, key: UnsafeRawBufferPointer) -> FieldSpec?
    /// Fields that must be present and non-null.
    static var requiredMask: UInt64 { get }
    /// The path of the field with bit `bit`, for errors.
    static func path(ofBit bit: Int) -> StaticString
    /// The nested object's key for group `group` (≥ 1): `metadata`, `event_data`, `device`.
    static func groupName(_ group: Int) -> StaticString
    /// The number of nested groups.
    static var groupCount: Int { get }

    /// The known field at position `index` of `group` in the order the seed's generators
    /// write them (the fast path's guess for the next key), or nil past the last.
    static func expectedMember(group: Int, index: Int) -> ExpectedMember?

    /// Runs `body` on the byte buffer of string column `slot`.
    mutating func withStringBytes<R>(_ slot: UInt8, _ body: (inout [UInt8]) -> R) -> R
    /// The number of string columns (`slot` values) besides `extra`.
    static var stringSlots: Int { get }
    /// Appends the fast path's staged rows, each as `commit` would have sealed it, with a
    /// null `extra`.
    mutating func appendStaged(_ stage: FastStage)
    /// Cuts bytes appended to string columns since the last sealed row.
    mutating func discardUnsealedBytes()
    /// Seals the row: string offsets, numbers, validity. `extra` has been sealed already.
    mutating func commit(_ row: PendingRow)
    /// The `extra` column.
    var extra: StringColumn { get set }
    /// The number of rows.
    var count: Int { get }
    /// Keeps the first `rows` rows.
    mutating func truncate(toCount rows: Int)
    /// The byte count of the fullest string column (`extra` included): offsets are
    /// 32-bit, so a column must stay under 2 GiB.
    var largestStringColumnBytes: Int { get }
    /// Reserves room for `rows` rows in all, each string column sized in proportion to
    /// what the rows held so far take, so a large body fills its columns without
    /// growing (copying) them again and again.
    mutating func reserveLikeHeld(rows: Int)
}

/// Why a record failed.
enum RecordOutcome {
    case accepted
    /// Well-formed JSON, but not a valid record; the cursor is past the object.
    case rejected(field: String, message: String, reason: RejectReason)
    /// Not well-formed JSON; the cursor is where reading stopped.
    case syntax(offset: Int, message: String)
}

/// The parser's reusable state: scratch buffers and stacks, so a record allocates nothing
/// once they have grown.
struct RecordParser {
    var limits: RecordLimits
    /// Whether records are tried on the fast path (RecordFastPath.swift) first; tests turn it
    /// off to compare the two.
    var fastPath = true
    /// Records the fast path accepted, so tests can tell which path read a record.
    var fastAccepted = 0
    /// The fast path's rows not yet in the batch (FastStage.swift); empty between reader calls.
    var stage: FastStage? = nil
    /// Decoded keys and strings that need inspection (level, RFC 3339, unknown values).
    var scratch: [UInt8] = []
    /// Unknown members of the record (index 0) and of each nested group, as `,"k":v` runs.
    var extras: [[UInt8]] = [[], [], []]
    /// Decoded keys of unknown members per open object, for duplicate detection.
    var keyBytes: [UInt8] = []
    var keyRanges: [Range<Int>] = []
    /// A hash of each key in `keyRanges`, so duplicate checks compare bytes only on a match.
    var keyHashes: [UInt64] = []
    /// Open containers of an unknown value while it is copied into `extra`.
    var levels: [EmitLevel] = []
    /// Kinds of open containers (bit set = object), for syntax checks at any depth.
    var kinds: [UInt64] = []

    /// The record's first error.
    var errorField: String? = nil
    var errorMessage = ""
    var errorReason = RejectReason.syntax
    /// Set while a syntax error is being returned.
    var syntaxMessage = ""

    /// Where an unknown member started in `keyBytes`, for error paths.
    var unknownKey: Range<Int> = 0..<0
    var unknownGroup = 0

    struct EmitLevel {
        var members: Int
        var keyStart: Int
    }

    init(limits: RecordLimits) {
        self.limits = limits
    }

    @inline(__always)
    var failed: Bool { errorField != nil }

    mutating func fail(_ field: String, _ message: String, _ reason: RejectReason) {
        if errorField == nil {
            errorField = field
            errorMessage = message
            errorReason = reason
        }
    }

    mutating func fail(_ field: StaticString, _ message: String, _ reason: RejectReason) {
        if errorField == nil { fail(field.description, message, reason) }
    }

    // MARK: Records

    /// Parses the object whose `{` is at `c.pos` into `batch`: appended on success,
    /// batch unchanged otherwise. With `exactEnd`, only whitespace may follow the object
    /// up to that position (an NDJSON line, a bus message).
    mutating func parseRecord<B: RecordSchema>(_ c: inout JSONCursor, into batch: inout B,
                                               exactEnd: Int? = nil) -> RecordOutcome {
        if fastPath && fastPathFits && parseFast(&c, into: &batch, exactEnd: exactEnd) {
            fastAccepted &+= 1
            return .accepted
        }
        flushStaged(into: &batch)
        let start = c.pos
        errorField = nil
        groupNames = (B.groupName(0), B.groupName(1), B.groupCount >= 2 ? B.groupName(2) : "")
        for g in 0...B.groupCount where !extras[g].isEmpty { extras[g].removeAll(keepingCapacity: true) }
        if !keyBytes.isEmpty { keyBytes.removeAll(keepingCapacity: true) }
        if !keyRanges.isEmpty { dropKeys(from: 0) }
        var row = PendingRow()
        c.pos &+= 1
        if !parseMembers(&c, group: 0, depth: 1, row: &row, batch: &batch) {
            batch.discardUnsealedBytes()
            return .syntax(offset: c.pos, message: syntaxMessage)
        }
        if let exactEnd {
            c.skipWhitespace()
            if c.pos != exactEnd {
                batch.discardUnsealedBytes()
                return .syntax(offset: c.pos, message: c.syntaxMessage(expected: "the end of the record"))
            }
        }
        if c.pos &- start > limits.maxRecordBytes {
            fail("$", "record larger than \(limits.maxRecordBytes) bytes", .tooLarge)
        }
        if !failed {
            let missing = B.requiredMask & ~row.present
            if missing != 0 {
                let bit = missing.trailingZeroBitCount
                let wasNull = row.keys & (1 << UInt64(bit)) != 0
                fail(B.path(ofBit: bit), wasNull ? "must not be null" : "required field missing", .missingField)
            }
        }
        if failed {
            batch.discardUnsealedBytes()
            return .rejected(field: errorField!, message: errorMessage, reason: errorReason)
        }
        sealExtra(into: &batch)
        batch.commit(row)
        return .accepted
    }

    /// Writes the record's unknown members as one JSON object into `extra`, or a null.
    mutating func sealExtra<B: RecordSchema>(into batch: inout B) {
        var any = !extras[0].isEmpty
        for g in 1...B.groupCount where !extras[g].isEmpty { any = true }
        guard any else {
            batch.extra.appendNull()
            return
        }
        var out = batch.extra.bytes
        batch.extra.bytes = []
        out.append(UInt8(ascii: "{"))
        let first = out.count
        if !extras[0].isEmpty { out.append(contentsOf: extras[0][1...]) }
        for g in 1...B.groupCount where !extras[g].isEmpty {
            if out.count > first { out.append(UInt8(ascii: ",")) }
            out.append(0x22)
            let name = B.groupName(g)
            out.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: #"":{"#.utf8)
            out.append(contentsOf: extras[g][1...])
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "}"))
        batch.extra.bytes = out
        batch.extra.sealAppendedBytes()
    }

    /// Parses the members of an object whose `{` has been consumed, up to and
    /// including its `}`. Returns false on a syntax error (`syntaxMessage` says which).
    mutating func parseMembers<B: RecordSchema>(_ c: inout JSONCursor, group: Int, depth: Int,
                                                row: inout PendingRow, batch: inout B) -> Bool {
        c.skipWhitespace()
        if c.peek() == UInt8(ascii: "}") {
            c.pos &+= 1
            return true
        }
        let levelKeys = keyRanges.count
        var members = 0
        while true {
            c.skipWhitespace()
            guard c.peek() == 0x22 else { return syntax(c, "a key") }
            // The key: straight from the body when plain ASCII, else decoded into scratch.
            let keyStart = c.pos &+ 1
            let p = c.plainRunEnd(from: keyStart)
            var keyInScratch = false
            var keyLength = p &- keyStart
            if p < c.end && c.base[p] == 0x22 {
                c.pos = p &+ 1
            } else {
                scratch.removeAll(keepingCapacity: true)
                var problem: UInt8 = 0
                guard c.readString(into: &scratch, problem: &problem) else { return syntax(c, "'\"'") }
                if problem != 0 { fail(groupPath(group, "$"), StringProblem.message(problem) + " (key)", .encoding) }
                keyInScratch = true
                keyLength = scratch.count
            }
            guard c.consume(UInt8(ascii: ":")) else { return syntax(c, "':'") }
            c.skipWhitespace()
            members &+= 1
            if members > limits.maxFieldsPerObject {
                fail(groupPath(group, "$"), "more than \(limits.maxFieldsPerObject) fields in an object", .tooLarge)
            }
            if keyLength > limits.maxStringBytes {
                fail(groupPath(group, "$"), "key longer than \(limits.maxStringBytes) bytes", .tooLarge)
            }
            if failed {
                guard skipValue(&c) else { return false }
            } else {
                let spec: FieldSpec?
                if keyInScratch {
                    spec = scratch.withUnsafeBytes { B.field(group: group, key: $0) }
                } else {
                    spec = B.field(group: group, key: UnsafeRawBufferPointer(start: c.base + keyStart, count: keyLength))
                }
                if let spec {
                    let bit: UInt64 = 1 << UInt64(spec.bit)
                    if row.keys & bit != 0 {
                        fail(spec.path, "duplicate key", .duplicateKey)
                        guard skipValue(&c) else { return false }
                    } else {
                        row.keys |= bit
                        guard parseKnown(&c, spec, depth: depth, row: &row, batch: &batch) else { return false }
                    }
                } else {
                    // An unknown member: kept, canonicalised, in this group's extra run.
                    let start = keyBytes.count
                    if keyInScratch {
                        keyBytes.append(contentsOf: scratch)
                    } else {
                        keyBytes.append(contentsOf: UnsafeBufferPointer(start: c.base + keyStart, count: keyLength))
                    }
                    let key = start..<keyBytes.count
                    if !addKey(key, level: levelKeys) {
                        fail(unknownPath(group, key), "duplicate key", .duplicateKey)
                        guard skipValue(&c) else { return false }
                    } else {
                        unknownKey = key
                        unknownGroup = group
                        var out = extras[group]
                        extras[group] = []
                        out.append(UInt8(ascii: ","))
                        keyBytes.withUnsafeBytes { appendJSONString(UnsafeRawBufferPointer(rebasing: $0[key]), to: &out) }
                        out.append(UInt8(ascii: ":"))
                        let ok = scanValue(&c, emit: true, into: &out, depth: depth &+ 1)
                        extras[group] = out
                        guard ok else { return false }
                    }
                }
            }
            c.skipWhitespace()
            let b = c.peek()
            if b == UInt8(ascii: ",") {
                c.pos &+= 1
                continue
            }
            if b == UInt8(ascii: "}") {
                c.pos &+= 1
                dropKeys(from: levelKeys)
                return true
            }
            return syntax(c, "',' or '}'")
        }
    }

    /// Reads a known field's value into the batch or the pending row.
    @inline(__always)
    mutating func parseKnown<B: RecordSchema>(_ c: inout JSONCursor, _ spec: FieldSpec, depth: Int,
                                              row: inout PendingRow, batch: inout B) -> Bool {
        let b = c.peek()
        let bit: UInt64 = 1 << UInt64(spec.bit)
        if b == UInt8(ascii: "n") {
            // null: the field is absent (required fields are checked at the end).
            return literal(&c, "null")
        }
        switch spec.kind {
        case .string, .nonEmptyString:
            guard b == 0x22 else { return wrongType(&c, spec, "expected a string") }
            var problem: UInt8 = 0
            let limit = limits.maxStringBytes
            var length = 0
            let ok = batch.withStringBytes(spec.slot) { bytes -> Bool in
                let before = bytes.count
                let ok = c.readString(into: &bytes, problem: &problem)
                length = bytes.count &- before
                return ok
            }
            guard ok else { return syntax(c, "'\"'") }
            if problem != 0 {
                fail(spec.path, StringProblem.message(problem), .encoding)
            } else if length > limit {
                fail(spec.path, "string longer than \(limit) bytes", .tooLarge)
            } else if length == 0 && spec.kind == .nonEmptyString {
                fail(spec.path, "must not be empty", .invalidValue)
            }
            row.present |= bit
        case .timestamp:
            if b == 0x22 {
                guard let ok = readScratchString(&c, spec) else { return false }
                if !ok { return true }
                guard let micros = scratch.withUnsafeBytes({ EventTime.parseRFC3339($0) }) else {
                    fail(spec.path, "expected a number or RFC 3339 string", .invalidValue)
                    return true
                }
                guard micros >= EventTime.minMicros && micros < EventTime.endMicros else {
                    fail(spec.path, "timestamp out of range (years 1970 to 2200)", .invalidValue)
                    return true
                }
                row.timestamp = micros
            } else if b == UInt8(ascii: "-") || b &- UInt8(ascii: "0") < 10 {
                guard let lx = c.readNumber() else { return syntax(c, "a number") }
                let v = c.scaledInteger(lx, scale: 6, limit: EventTime.endMicros - 1, truncate: true)
                guard case .value(let micros) = v, !(lx.negative && hasNonZeroDigit(c, lx)) else {
                    // Epoch milliseconds (13 digits today) and microseconds (16) are the usual
                    // mistake: a number here is seconds.
                    let unit = lx.negative || lx.exponent != 0 ? nil
                        : lx.intCount == 13 ? "milliseconds" : lx.intCount == 16 ? "microseconds" : nil
                    fail(spec.path, "timestamp out of range (years 1970 to 2200)"
                         + (unit.map { "; a number is epoch seconds and this one looks like \($0)" } ?? ""), .invalidValue)
                    return true
                }
                row.timestamp = micros
            } else {
                return wrongType(&c, spec, "expected a number or RFC 3339 string")
            }
            row.present |= bit
        case .level:
            guard b == 0x22 else { return wrongType(&c, spec, "expected a string") }
            // Level names are plain ASCII: match them in the body when the string has no escapes.
            let start = c.pos &+ 1
            var p = start
            while p < c.end && p &- start < 9 {
                let x = c.base[p]
                if x == 0x22 || x == 0x5C || (x &- 0x20) >= 0x60 { break }
                p &+= 1
            }
            if p < c.end && c.base[p] == 0x22,
               let level = LogLevel(nameBytes: UnsafeRawBufferPointer(start: c.base + start, count: p &- start)) {
                c.pos = p &+ 1
                row.level = level.rawValue
            } else {
                guard let ok = readScratchString(&c, spec) else { return false }
                if !ok { return true }
                // Many loggers write `info` or `Warn`: the name is matched without regard to case
                // and kept in capitals, as the lake and the detectors know it.
                guard let level = scratch.withUnsafeBytes({ LogLevel(nameBytes: $0) ?? LogLevel(anyCaseNameBytes: $0) }) else {
                    let shown = String(decoding: scratch.prefix(64), as: UTF8.self)
                    fail(spec.path, "unknown level '\(shown)': expected one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL (any case)", .invalidValue)
                    return true
                }
                row.level = level.rawValue
            }
            row.present |= bit
        case .nonNegativeDouble, .double:
            guard b == UInt8(ascii: "-") || b &- UInt8(ascii: "0") < 10 else {
                return wrongType(&c, spec, "expected a number")
            }
            guard let lx = c.readNumber() else { return syntax(c, "a number") }
            let v = c.doubleValue(lx)
            if !v.isFinite {
                fail(spec.path, "must be a finite number", .invalidValue)
            } else if spec.kind == .nonNegativeDouble && v < 0 {
                fail(spec.path, "must not be negative", .invalidValue)
            }
            row.double = v
            row.present |= bit
        case .int32:
            guard b == UInt8(ascii: "-") || b &- UInt8(ascii: "0") < 10 else {
                return wrongType(&c, spec, "expected an integer")
            }
            guard let lx = c.readNumber() else { return syntax(c, "a number") }
            switch c.scaledInteger(lx, scale: 0, limit: Int64(Int32.max), truncate: false) {
            case .value(let v): row.int32 = Int32(v)
            case .notIntegral: fail(spec.path, "expected an integer", .invalidValue)
            case .outOfRange: fail(spec.path, "out of range for a 32-bit integer", .invalidValue)
            }
            row.present |= bit
        case .object:
            guard b == UInt8(ascii: "{") else { return wrongType(&c, spec, "expected an object") }
            c.pos &+= 1
            guard parseMembers(&c, group: Int(spec.slot), depth: depth &+ 1, row: &row, batch: &batch) else {
                return false
            }
            row.present |= bit
        }
        return true
    }

    /// Whether a negative number has a nonzero digit (so `-0.0` is zero, `-0.5` is not).
    func hasNonZeroDigit(_ c: JSONCursor, _ lx: NumberLexeme) -> Bool {
        for k in 0..<(lx.intCount + lx.fracCount) where c.digit(lx, k) != 0 { return true }
        return false
    }

    /// Decodes a string value into `scratch`. nil: syntax error; false: the string was
    /// rejected (error noted); true: `scratch` holds it.
    mutating func readScratchString(_ c: inout JSONCursor, _ spec: FieldSpec) -> Bool? {
        scratch.removeAll(keepingCapacity: true)
        var problem: UInt8 = 0
        guard c.readString(into: &scratch, problem: &problem) else {
            _ = syntax(c, "'\"'")
            return nil
        }
        if problem != 0 {
            fail(spec.path, StringProblem.message(problem), .encoding)
            return false
        }
        if scratch.count > limits.maxStringBytes {
            fail(spec.path, "string longer than \(limits.maxStringBytes) bytes", .tooLarge)
            return false
        }
        return true
    }

    mutating func wrongType(_ c: inout JSONCursor, _ spec: FieldSpec, _ message: String) -> Bool {
        fail(spec.path, message, .wrongType)
        return skipValue(&c)
    }

    @inline(__always)
    mutating func syntax(_ c: JSONCursor, _ expected: String) -> Bool {
        syntaxMessage = c.syntaxMessage(expected: expected)
        return false
    }

    /// Consumes the literal `word` at `c.pos`.
    mutating func literal(_ c: inout JSONCursor, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard c.pos &+ n <= c.end, memoryEqual(c.base + c.pos, word.utf8Start, n) else {
            return syntax(c, "a value")
        }
        c.pos &+= n
        return true
    }

    /// The names of the current schema's nested groups, for error paths.
    var groupNames: (StaticString, StaticString, StaticString) = ("", "", "")

    func groupName(_ group: Int) -> String {
        switch group {
        case 1: groupNames.1.description
        case 2: groupNames.2.description
        default: groupNames.0.description
        }
    }

    func groupPath(_ group: Int, _ fallback: String) -> String {
        group == 0 ? fallback : groupName(group)
    }

    func unknownPath(_ group: Int, _ key: Range<Int>) -> String {
        let name = String(decoding: keyBytes[key], as: UTF8.self)
        return group == 0 ? name : groupName(group) + "." + name
    }

    /// Adds `key` (a range of `keyBytes`) to the keys of the object whose keys start at
    /// index `first`; false when that object already has it. Hashes keep the scan to one
    /// integer compare per key, so even an object at `maxFieldsPerObject` stays cheap.
    mutating func addKey(_ key: Range<Int>, level first: Int) -> Bool {
        let duplicate = keyBytes.withUnsafeBytes { kb -> (Bool, UInt64) in
            let k = kb.baseAddress! + key.lowerBound
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for i in 0..<key.count { hash = (hash ^ UInt64(k.load(fromByteOffset: i, as: UInt8.self))) &* 0x100_0000_01B3 }
            let found = keyHashes.withUnsafeBufferPointer { hashes in
                var i = first
                while i < hashes.count {
                    if hashes[i] == hash {
                        let other = keyRanges[i]
                        if other.count == key.count && memoryEqual(kb.baseAddress! + other.lowerBound, k, key.count) {
                            return true
                        }
                    }
                    i &+= 1
                }
                return false
            }
            return (found, hash)
        }
        if duplicate.0 { return false }
        keyRanges.append(key)
        keyHashes.append(duplicate.1)
        return true
    }

    /// Forgets the keys from index `first` on (an object has closed).
    mutating func dropKeys(from first: Int) {
        // Most objects have no unknown keys: skip the (not inlined) range removal.
        guard first < keyRanges.count else { return }
        keyRanges.removeSubrange(first...)
        keyHashes.removeSubrange(first...)
    }

    // MARK: Any value

    /// Moves past one value, checking only its syntax.
    mutating func skipValue(_ c: inout JSONCursor) -> Bool {
        var none: [UInt8] = []
        return scanValue(&c, emit: false, into: &none, depth: 1)
    }

    /// Scans one JSON value at `c.pos`. With `emit`, appends it to `out` in canonical
    /// compact form (no whitespace, strings re-escaped minimally, numbers as written)
    /// and enforces the limits, noting the record's error and going on without emitting
    /// on the first violation. Iterative, so any nesting depth only costs a bit per level.
    /// Returns false on a syntax error.
    mutating func scanValue(_ c: inout JSONCursor, emit emitRequested: Bool, into out: inout [UInt8],
                            depth: Int) -> Bool {
        var emit = emitRequested && !failed
        var open = 0
        levels.removeAll(keepingCapacity: true)
        var expectKey = false

        @inline(__always) func isObject(_ level: Int) -> Bool {
            kinds[level >> 6] & (1 << UInt64(level & 63)) != 0
        }

        while true {
            if expectKey {
                // A member key inside an object of an unknown value.
                c.skipWhitespace()
                guard c.peek() == 0x22 else { return syntax(c, "a key") }
                if emit {
                    let keyStart = keyBytes.count
                    var problem: UInt8 = 0
                    guard c.readString(into: &keyBytes, problem: &problem) else { return syntax(c, "'\"'") }
                    let key = keyStart..<keyBytes.count
                    levels[open - 1].members += 1
                    if problem != 0 {
                        fail(unknownPath(unknownGroup, unknownKey), StringProblem.message(problem), .encoding)
                    } else if key.count > limits.maxStringBytes {
                        fail(unknownPath(unknownGroup, unknownKey), "key longer than \(limits.maxStringBytes) bytes", .tooLarge)
                    } else if levels[open - 1].members > limits.maxFieldsPerObject {
                        fail(unknownPath(unknownGroup, unknownKey),
                             "more than \(limits.maxFieldsPerObject) fields in an object", .tooLarge)
                    } else if !addKey(key, level: levels[open - 1].keyStart) {
                        fail(unknownPath(unknownGroup, unknownKey), "duplicate key", .duplicateKey)
                    }
                    if failed {
                        emit = false
                    } else {
                        keyBytes.withUnsafeBytes { appendJSONString(UnsafeRawBufferPointer(rebasing: $0[key]), to: &out) }
                        out.append(UInt8(ascii: ":"))
                    }
                } else {
                    guard c.skipString() else { return syntax(c, "'\"'") }
                }
                guard c.consume(UInt8(ascii: ":")) else { return syntax(c, "':'") }
                expectKey = false
            }

            // A value.
            c.skipWhitespace()
            let b = c.peek()
            switch b {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let object = b == UInt8(ascii: "{")
                c.pos &+= 1
                if open >> 6 >= kinds.count { kinds.append(0) }
                if object {
                    kinds[open >> 6] |= 1 << UInt64(open & 63)
                } else {
                    kinds[open >> 6] &= ~(1 << UInt64(open & 63))
                }
                open &+= 1
                if emit && depth &+ open &- 1 > limits.maxDepth {
                    fail(unknownPath(unknownGroup, unknownKey), "nesting deeper than \(limits.maxDepth) levels", .tooDeep)
                    emit = false
                }
                if emit {
                    out.append(b)
                    levels.append(EmitLevel(members: 0, keyStart: keyRanges.count))
                }
                c.skipWhitespace()
                let close: UInt8 = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if c.peek() == close {
                    c.pos &+= 1
                    open &-= 1
                    if emit {
                        out.append(close)
                        levels.removeLast()
                    }
                } else {
                    expectKey = object
                    continue
                }
            case 0x22:
                if emit {
                    scratch.removeAll(keepingCapacity: true)
                    var problem: UInt8 = 0
                    guard c.readString(into: &scratch, problem: &problem) else { return syntax(c, "'\"'") }
                    if problem != 0 {
                        fail(unknownPath(unknownGroup, unknownKey), StringProblem.message(problem), .encoding)
                        emit = false
                    } else if scratch.count > limits.maxStringBytes {
                        fail(unknownPath(unknownGroup, unknownKey), "string longer than \(limits.maxStringBytes) bytes", .tooLarge)
                        emit = false
                    } else {
                        scratch.withUnsafeBytes { appendJSONString($0, to: &out) }
                    }
                } else {
                    guard c.skipString() else { return syntax(c, "'\"'") }
                }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard let lx = c.readNumber() else { return syntax(c, "a digit") }
                if emit {
                    // Kept as written, but only if a double can hold it, as most JSON readers require.
                    if lx.intCount &+ lx.exponent > 300 && !c.doubleValue(lx).isFinite {
                        fail(unknownPath(unknownGroup, unknownKey), "number out of range", .invalidValue)
                        emit = false
                    } else {
                        out.append(contentsOf: UnsafeBufferPointer(start: c.base + lx.start, count: lx.end &- lx.start))
                    }
                }
            case UInt8(ascii: "t"):
                guard literal(&c, "true") else { return false }
                if emit { out.append(contentsOf: "true".utf8) }
            case UInt8(ascii: "f"):
                guard literal(&c, "false") else { return false }
                if emit { out.append(contentsOf: "false".utf8) }
            case UInt8(ascii: "n"):
                guard literal(&c, "null") else { return false }
                if emit { out.append(contentsOf: "null".utf8) }
            default:
                return syntax(c, "a value")
            }

            // After a value: close containers or move to the next element.
            while true {
                if open == 0 { return true }
                c.skipWhitespace()
                let object = isObject(open - 1)
                let d = c.peek()
                if d == UInt8(ascii: ",") {
                    c.pos &+= 1
                    if emit { out.append(d) }
                    expectKey = object
                    break
                }
                if (object && d == UInt8(ascii: "}")) || (!object && d == UInt8(ascii: "]")) {
                    c.pos &+= 1
                    open &-= 1
                    if emit {
                        out.append(d)
                        let level = levels.removeLast()
                        dropKeys(from: level.keyStart)
                    }
                    continue
                }
                return syntax(c, object ? "',' or '}'" : "',' or ']'")
            }
        }
    }
}
