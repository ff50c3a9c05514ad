/// Log records as columns: one buffer per field of the log contract (DESIGN.md).
///
/// Every column has exactly `count` rows. Nested `metadata` fields are flattened into
/// their own columns; `metadataValidity` says whether the record had a `metadata`
/// object at all (a record with `"metadata": {}` has it, with every field null).
public struct LogBatch: Sendable {
    /// Event time in microseconds since the Unix epoch (UTC). Never null.
    public var timestampMicros = PrimitiveColumn<Int64>()
    /// `LogLevel.rawValue`. Never null.
    public var level = PrimitiveColumn<UInt8>()
    /// The emitting service. Never null.
    public var service = StringColumn()
    /// The host; optional.
    public var host = StringColumn()
    /// The message. Never null.
    public var message = StringColumn()
    /// `nil` when every row has a `metadata` object, otherwise one flag per row.
    public var metadataValidity: [Bool]? = nil
    /// `metadata.request_id`
    public var requestId = StringColumn()
    /// `metadata.response_time_ms`, finite and ≥ 0.
    public var responseTimeMs = PrimitiveColumn<Double>()
    /// `metadata.status_code`
    public var statusCode = PrimitiveColumn<Int32>()
    /// `metadata.endpoint`
    public var endpoint = StringColumn()
    /// `metadata.method`
    public var method = StringColumn()
    /// `metadata.client_ip`
    public var clientIp = StringColumn()
    /// `metadata.user_id`
    public var userId = StringColumn()
    /// Fields beyond the schema as one compact JSON object, or null when there are none.
    /// Unknown top-level fields appear as they are; unknown keys of `metadata` appear
    /// inside a `"metadata"` member, e.g. `{"trace":"x","metadata":{"region":"eu"}}`.
    public var extra = StringColumn()

    /// An empty batch.
    public init() {}

    /// The number of rows.
    public var count: Int { timestampMicros.count }

    /// Whether row `i` has a `metadata` object.
    public func hasMetadata(row i: Int) -> Bool { metadataValidity?[i] ?? true }

    /// The level of row `i`.
    public func logLevel(row i: Int) -> LogLevel { LogLevel(rawValue: level.values[i]) ?? .info }

    /// Removes every row.
    public mutating func removeAll(keepingCapacity: Bool = true) {
        if keepingCapacity {
            timestampMicros.removeAll(); level.removeAll()
            service.removeAll(); host.removeAll(); message.removeAll()
            metadataValidity = nil
            requestId.removeAll(); responseTimeMs.removeAll(); statusCode.removeAll()
            endpoint.removeAll(); method.removeAll(); clientIp.removeAll(); userId.removeAll()
            extra.removeAll()
        } else {
            self = LogBatch()
        }
    }

    /// Keeps the first `rows` rows.
    public mutating func truncate(toCount rows: Int) {
        timestampMicros.truncate(toCount: rows); level.truncate(toCount: rows)
        service.truncate(toCount: rows); host.truncate(toCount: rows); message.truncate(toCount: rows)
        truncateValidity(&metadataValidity, rows)
        requestId.truncate(toCount: rows); responseTimeMs.truncate(toCount: rows)
        statusCode.truncate(toCount: rows); endpoint.truncate(toCount: rows)
        method.truncate(toCount: rows); clientIp.truncate(toCount: rows); userId.truncate(toCount: rows)
        extra.truncate(toCount: rows)
    }

    /// Appends rows `rows` of `other`, column by column.
    public mutating func append(contentsOf other: LogBatch, rows: Range<Int>) {
        let before = count
        timestampMicros.append(contentsOf: other.timestampMicros, rows: rows)
        level.append(contentsOf: other.level, rows: rows)
        service.append(contentsOf: other.service, rows: rows)
        host.append(contentsOf: other.host, rows: rows)
        message.append(contentsOf: other.message, rows: rows)
        appendValidity(&metadataValidity, before: before, other.metadataValidity, rows: rows)
        requestId.append(contentsOf: other.requestId, rows: rows)
        responseTimeMs.append(contentsOf: other.responseTimeMs, rows: rows)
        statusCode.append(contentsOf: other.statusCode, rows: rows)
        endpoint.append(contentsOf: other.endpoint, rows: rows)
        method.append(contentsOf: other.method, rows: rows)
        clientIp.append(contentsOf: other.clientIp, rows: rows)
        userId.append(contentsOf: other.userId, rows: rows)
        extra.append(contentsOf: other.extra, rows: rows)
    }

    /// Appends every row of `other`.
    public mutating func append(contentsOf other: LogBatch) {
        append(contentsOf: other, rows: 0..<other.count)
    }

    /// Reserves room for `rows` rows of about `bytesPerRow` string bytes each.
    public mutating func reserveCapacity(rows: Int, bytesPerRow: Int = 200) {
        timestampMicros.reserveCapacity(rows); level.reserveCapacity(rows)
        service.reserveCapacity(rows: rows, bytes: rows * 16)
        host.reserveCapacity(rows: rows, bytes: rows * 10)
        message.reserveCapacity(rows: rows, bytes: rows * max(16, bytesPerRow / 4))
        requestId.reserveCapacity(rows: rows, bytes: rows * 36)
        responseTimeMs.reserveCapacity(rows); statusCode.reserveCapacity(rows)
        endpoint.reserveCapacity(rows: rows, bytes: rows * 16)
        method.reserveCapacity(rows: rows, bytes: rows * 4)
        clientIp.reserveCapacity(rows: rows, bytes: rows * 12)
        userId.reserveCapacity(rows: rows, bytes: rows * 12)
        extra.reserveCapacity(rows: rows, bytes: 0)
    }

    /// Row `i` as a value (allocates; for code off the hot path).
    public func record(at i: Int) -> LogRecord {
        LogRecord(
            timestampMicros: timestampMicros.values[i], level: logLevel(row: i),
            service: service[row: i] ?? "", host: host[row: i], message: message[row: i] ?? "",
            metadata: hasMetadata(row: i)
                ? LogRecord.Metadata(
                    requestId: requestId[row: i], responseTimeMs: responseTimeMs[row: i],
                    statusCode: statusCode[row: i], endpoint: endpoint[row: i], method: method[row: i],
                    clientIp: clientIp[row: i], userId: userId[row: i])
                : nil,
            extra: extra[row: i])
    }

    /// Appends a record given as a value. `extra` must be a JSON object the reader
    /// could have produced (compact, unknown keys only) or `nil`.
    public mutating func append(_ r: LogRecord) {
        let before = count
        timestampMicros.append(r.timestampMicros)
        level.append(r.level.rawValue)
        service.append(r.service)
        if let h = r.host { host.append(h) } else { host.appendNull() }
        message.append(r.message)
        [Bool].appendPresence(r.metadata != nil, to: &metadataValidity, rowsBefore: before)
        let m = r.metadata
        appendOptional(&requestId, m?.requestId)
        responseTimeMs.append(m?.responseTimeMs, zero: 0)
        statusCode.append(m?.statusCode, zero: 0)
        appendOptional(&endpoint, m?.endpoint)
        appendOptional(&method, m?.method)
        appendOptional(&clientIp, m?.clientIp)
        appendOptional(&userId, m?.userId)
        appendOptional(&extra, r.extra)
    }
}

/// One log record as a value (tests, generators, tools; the hot path uses `LogBatch`).
public struct LogRecord: Sendable, Equatable {
    /// The `metadata` object of a log record.
    public struct Metadata: Sendable, Equatable {
        /// `request_id`
        public var requestId: String?
        /// `response_time_ms`
        public var responseTimeMs: Double?
        /// `status_code`
        public var statusCode: Int32?
        /// `endpoint`
        public var endpoint: String?
        /// `method`
        public var method: String?
        /// `client_ip`
        public var clientIp: String?
        /// `user_id`
        public var userId: String?

        /// A metadata object; every field defaults to absent.
        public init(requestId: String? = nil, responseTimeMs: Double? = nil, statusCode: Int32? = nil,
                    endpoint: String? = nil, method: String? = nil, clientIp: String? = nil,
                    userId: String? = nil) {
            self.requestId = requestId
            self.responseTimeMs = responseTimeMs
            self.statusCode = statusCode
            self.endpoint = endpoint
            self.method = method
            self.clientIp = clientIp
            self.userId = userId
        }
    }

    /// Event time, microseconds since the Unix epoch.
    public var timestampMicros: Int64
    /// The level.
    public var level: LogLevel
    /// The service.
    public var service: String
    /// The host.
    public var host: String?
    /// The message.
    public var message: String
    /// The metadata object, if the record has one.
    public var metadata: Metadata?
    /// Fields beyond the schema, as in `LogBatch.extra`.
    public var extra: String?

    /// A log record.
    public init(timestampMicros: Int64, level: LogLevel, service: String, host: String? = nil,
                message: String, metadata: Metadata? = nil, extra: String? = nil) {
        self.timestampMicros = timestampMicros
        self.level = level
        self.service = service
        self.host = host
        self.message = message
        self.metadata = metadata
        self.extra = extra
    }
}

@inline(__always)
func appendOptional(_ column: inout StringColumn, _ value: String?) {
    if let value { column.append(value) } else { column.appendNull() }
}

/// Appends `rows` of a group validity vector to another.
func appendValidity(_ mine: inout [Bool]?, before: Int, _ theirs: [Bool]?, rows: Range<Int>) {
    if let theirs, theirs[rows].contains(false) {
        if mine == nil { mine = Array(repeating: true, count: before) }
        mine!.append(contentsOf: theirs[rows])
    } else if mine != nil {
        mine!.append(contentsOf: repeatElement(true, count: rows.count))
    }
}
