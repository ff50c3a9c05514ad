/// LogpipeAnalytics: the real-time analysis of seed 004 (MetricsCalculator,
/// AnomalyDetector, watermarks and late data), run on the same parsed columnar
/// batches the raw sink writes.
///
/// It owns:
/// - event-time windows (tumbling and sliding) with a watermark per stream, output
///   modes append and update, bounded state, and a versioned binary snapshot that is
///   checkpointed with the stream engine's commits (`StreamAnalytics`);
/// - mergeable aggregates implemented here: `NumericSummary`, `DDSketch` (quantiles
///   with a relative error bound), `HyperLogLog` (distinct counts);
/// - the seed's metrics per service, client IP, system and activity event type;
/// - the seed's anomaly detectors, raised once per incident (`AnomalyDetector`);
/// - late data accounting: late rows are counted, reported and handed back;
/// - an in-memory store of recent windows and alerts for the HTTP API (`AnalyticsStore`).
///
/// It does not write files or topics: the engine writes what `AnalyticsOutput` holds.
enum LogpipeAnalyticsModule {}
