/// LogpipeServers: the HTTP roles of Logpipe, built on Hummingbird.
///
/// - `Collector/`: `logpipe collect`, the ingest API (`/api/collect/logs`,
///   `/api/collect/activities`) that validates records and acknowledges only
///   once they are durable on the bus.
/// - `Generator/`: `logpipe generate`, the seed's sample-data service that posts
///   synthetic records to a collector on a schedule or at a load-test rate.
/// - `Observability/`: `/metrics` in Prometheus text format for every role, each role's
///   port showing its own families, and the gauges read at scrape time (process, disks, bus).
/// - `Dashboard/`: the built-in dashboard at `/` and the `/api/status` it reads.
