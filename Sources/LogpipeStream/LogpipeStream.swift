/// LogpipeStream owns `logpipe stream`: the engine that reads the bus in micro-batches,
/// parses each batch once into columnar batches and hands them to every sink, with
/// per-partition progress committed exactly once into the lake.
///
/// - `StreamWorker`: the engine (a swift-service-lifecycle `Service`); owns a set of
///   partitions, re-assignable at any time;
/// - `StreamSink` / `PartitionSink`: what a consumer of the stream implements; files and
///   state a sink returns are committed atomically with the partition's offset;
/// - `RawLakeSink`: records into the hourly Parquet lake, files rolled by size or age.
