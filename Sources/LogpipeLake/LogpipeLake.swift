/// LogpipeLake owns the data lake (DESIGN.md, "Lake layout"):
///
/// - `FileStore`, the storage the lake lives on, and `LocalFileStore` (a directory);
/// - the layout: hourly partitions `year=/month=/day=/hour=` of event time in UTC, as
///   Spark's `partitionBy` writes them, under `logs/raw/` and `events/activity/`;
/// - `PartitionCommitLog`, the exactly-once commit protocol of one source partition:
///   staging files, an atomically created commit record (the commit point), renames,
///   recovery, fencing between workers, and a bounded log;
/// - `LakeCompactor`, which merges a closed hour's small files, the swap recorded in a
///   compaction log and finished on restart;
/// - `LakeListing`, the rows behind `logpipe lake ls`.
