/// LogpipeRecords owns Logpipe's data contracts (DESIGN.md, "Data contracts"):
///
/// - the record schemas as columnar batches, `LogBatch` and `ActivityBatch`, built
///   from the column buffers in Columns.swift, plus row values (`LogRecord`,
///   `ActivityEvent`) for code off the hot path;
/// - `JSONBodyReader`, a hand-written byte scanner that parses request bodies (a JSON
///   array, one object, or NDJSON) and bus messages straight into those batches,
///   validating every record and field and keeping fields beyond the schema in `extra`;
/// - `JSONRecordWriter`, which writes a batch row back as contract JSON.
///
/// Only the Swift standard library is used (and the C library's `memchr`).
