/// Bounds the reader enforces on every record, so a hostile body costs bounded work
/// and memory and never crashes a process.
public struct RecordLimits: Sendable, Equatable {
    /// The largest record, in bytes of its JSON text.
    public var maxRecordBytes: Int
    /// The longest string value or key, in bytes after unescaping.
    public var maxStringBytes: Int
    /// The deepest nesting of objects and arrays in a record (the record itself is depth 1).
    public var maxDepth: Int
    /// The most members any one object of a record may have.
    public var maxFieldsPerObject: Int

    /// Limits; the defaults suit the collector.
    public init(maxRecordBytes: Int = 1 << 20, maxStringBytes: Int = 64 << 10, maxDepth: Int = 32,
                maxFieldsPerObject: Int = 256) {
        self.maxRecordBytes = maxRecordBytes
        self.maxStringBytes = maxStringBytes
        self.maxDepth = maxDepth
        self.maxFieldsPerObject = maxFieldsPerObject
    }
}

/// Why a record was rejected: one of a few stable reasons, for metrics labels.
public enum RejectReason: String, Sendable, CaseIterable {
    /// The record is not well-formed JSON (or not an object).
    case syntax
    /// A required field is absent or null.
    case missingField = "missing_field"
    /// A field has the wrong JSON type.
    case wrongType = "wrong_type"
    /// A field has the right type but a value the contract does not allow.
    case invalidValue = "invalid_value"
    /// A string is not valid UTF-8, has a bad escape or a raw control character.
    case encoding
    /// The record, a string or an object is larger than `RecordLimits` allow.
    case tooLarge = "too_large"
    /// Objects and arrays nest deeper than `RecordLimits.maxDepth`.
    case tooDeep = "too_deep"
    /// An object has the same key twice.
    case duplicateKey = "duplicate_key"
}

/// Why one record of a body was rejected.
public struct RecordError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The record's 0-based position in the body: array element, or non-blank NDJSON line.
    public var index: Int
    /// The field at fault as a dotted path (`timestamp`, `metadata.status_code`),
    /// or `$` for the record as a whole (not an object, malformed, too large).
    public var field: String
    /// What is wrong, for people (`required field missing`, `unknown level 'VERBOSE'`).
    public var message: String
    /// What is wrong, for metrics.
    public var reason: RejectReason

    /// A record error.
    public init(index: Int, field: String, message: String, reason: RejectReason) {
        self.index = index
        self.field = field
        self.message = message
        self.reason = reason
    }

    /// `record <index>: <field>: <message>`.
    public var description: String { "record \(index): \(field): \(message)" }
}

/// Why a whole body was rejected: it cannot be split into records.
public struct BodyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The byte offset in the body where reading stopped.
    public var offset: Int
    /// What is wrong.
    public var message: String

    /// A body error.
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// `at byte <offset>: <message>`.
    public var description: String { "at byte \(offset): \(message)" }
}

/// What a body held: how many records, which were accepted (appended to the batch)
/// and which were rejected, with where each sits in the body.
public struct BodyReadResult: Sendable, Equatable {
    /// Records seen, accepted and rejected.
    public var total: Int = 0
    /// One error per rejected record, in body order.
    public var errors: [RecordError] = []
    /// The JSON object text of each accepted record, in batch-row order: the bytes
    /// the collector puts on the bus as they are.
    public var acceptedSpans: [Range<Int>] = []
    /// The text of each rejected record, parallel to `errors` (for the dead-letter topic).
    /// For an NDJSON line it is the line without surrounding whitespace.
    public var rejectedSpans: [Range<Int>] = []

    /// An empty result.
    public init() {}

    /// The number of accepted records.
    public var accepted: Int { acceptedSpans.count }
}
