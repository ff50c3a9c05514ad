// LogpipeParquet: a Parquet writer and reader with no dependency on the rest of Logpipe.
//
// It owns:
// - the file format: Thrift compact metadata (Thrift.swift, Metadata.swift), the schema
//   model (Schema.swift), RLE/bit-packing (RLE.swift), Snappy (Snappy.swift) and the
//   codec glue including system libzstd (Compression.swift);
// - `ParquetWriter`: columnar batches (`ParquetColumnBatch`, the same dense buffers
//   LogpipeRecords holds) to dictionary/PLAIN data pages v1, statistics, row groups closed
//   by size, a footer written by `finish()`;
// - `ParquetFileReader`: footer, projection, row-group pruning by statistics
//   (`ParquetPredicate`), every encoding pyarrow and DuckDB write by default, data pages
//   v1 and v2, returning the same dense layout (`ParquetTable`);
// - `ParquetInspector`: the text and JSON-lines views behind `logpipe parquet inspect|cat`.
//
// Untrusted input is the reader's design constraint: every length is bounded by the bytes
// that hold it, and every failure is a `ParquetError` naming what was wrong.
