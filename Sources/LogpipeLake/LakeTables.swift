import LogpipeParquet
import LogpipeRecords

/// Rows a lake dataset holds: the columnar batches of LogpipeRecords, with their Parquet
/// schema and a zero-copy view as Parquet columns.
///
/// The schema is what Spark's `partitionBy("year","month","day","hour")` writes from a
/// DataFrame of the contract: every field nullable (as Spark's `from_json` makes them),
/// `timestamp` a UTC `TIMESTAMP(MICROS)`, nested objects as groups, fields beyond the schema
/// as one JSON string `extra`, and the partition columns only in the path.
public protocol LakeRows: Sendable {
    /// The dataset these rows belong to.
    static var dataset: LakeDataset { get }
    /// The Parquet schema of the dataset's files.
    static var parquetSchema: ParquetSchema { get }
    /// An empty batch.
    init()
    /// The number of rows.
    var count: Int { get }
    /// Event time of each row, microseconds since the epoch.
    var timestampMicros: PrimitiveColumn<Int64> { get }
    /// Appends rows of another batch.
    mutating func append(contentsOf other: Self, rows: Range<Int>)
    /// Removes every row, keeping capacity.
    mutating func removeAll(keepingCapacity: Bool)
    /// The rows as Parquet columns in schema order (sharing the buffers, copy-on-write).
    func parquetColumns() -> ParquetColumnBatch
}

extension StringColumn {
    /// The column as Parquet byte-array values.
    public var parquet: ParquetColumn { ParquetColumn(.byteArray(bytes: bytes, offsets: offsets), validity: validity) }
}

extension PrimitiveColumn<Double> {
    /// The column as Parquet doubles.
    public var parquet: ParquetColumn { ParquetColumn(.double(values), validity: validity) }
}

extension PrimitiveColumn<Int32> {
    /// The column as Parquet INT32 values.
    public var parquet: ParquetColumn { ParquetColumn(.int32(values), validity: validity) }
}

extension PrimitiveColumn<Int64> {
    /// The column as Parquet INT64 values.
    public var parquet: ParquetColumn { ParquetColumn(.int64(values), validity: validity) }
}

extension LogBatch: LakeRows {
    public static var dataset: LakeDataset { .logs }

    public static let parquetSchema = ParquetSchema([
        .timestampMicros("timestamp"),
        .string("level"),
        .string("service"),
        .string("host"),
        .string("message"),
        .group("metadata", [
            .string("request_id"),
            .double("response_time_ms"),
            .int32("status_code"),
            .string("endpoint"),
            .string("method"),
            .string("client_ip"),
            .string("user_id"),
        ]),
        .string("extra"),
    ], rootName: "spark_schema")

    public func parquetColumns() -> ParquetColumnBatch {
        ParquetColumnBatch(rowCount: count, columns: [
            timestampMicros.parquet,
            levelNames(),
            service.parquet,
            host.parquet,
            message.parquet,
            ParquetColumn(.group([
                requestId.parquet, responseTimeMs.parquet, statusCode.parquet, endpoint.parquet,
                method.parquet, clientIp.parquet, userId.parquet,
            ]), validity: metadataValidity),
            extra.parquet,
        ])
    }

    /// The level column as strings (`INFO`, …): levels are stored as small codes in the batch.
    private func levelNames() -> ParquetColumn {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 5)
        var offsets: [Int32] = []
        offsets.reserveCapacity(count + 1)
        offsets.append(0)
        for code in level.values {
            bytes.append(contentsOf: (LogLevel(rawValue: code) ?? .info).nameBytes)
            offsets.append(Int32(truncatingIfNeeded: bytes.count))
        }
        return ParquetColumn(.byteArray(bytes: bytes, offsets: offsets))
    }
}

extension ActivityBatch: LakeRows {
    public static var dataset: LakeDataset { .activity }

    public static let parquetSchema = ParquetSchema([
        .string("event_id"),
        .timestampMicros("timestamp"),
        .string("user_id"),
        .string("session_id"),
        .string("event_type"),
        .group("event_data", [
            .string("page"),
            .string("element"),
            .string("product_id"),
            .string("query"),
            .double("amount"),
        ]),
        .group("device", [
            .string("type"),
            .string("os"),
            .string("browser"),
        ]),
        .string("extra"),
    ], rootName: "spark_schema")

    public func parquetColumns() -> ParquetColumnBatch {
        ParquetColumnBatch(rowCount: count, columns: [
            eventId.parquet,
            timestampMicros.parquet,
            userId.parquet,
            sessionId.parquet,
            eventType.parquet,
            ParquetColumn(.group([page.parquet, element.parquet, productId.parquet, query.parquet, amount.parquet]),
                          validity: eventDataValidity),
            ParquetColumn(.group([deviceType.parquet, os.parquet, browser.parquet]), validity: deviceValidity),
            extra.parquet,
        ])
    }
}
