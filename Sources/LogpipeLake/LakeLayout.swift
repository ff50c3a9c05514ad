/// The lake's directory layout (DESIGN.md, "Lake layout"): what Spark's
/// `partitionBy("year", "month", "day", "hour")` writes, plus Logpipe's own
/// bookkeeping under `_logpipe/`, which Spark, DuckDB and pyarrow skip or never reach.

/// A dataset of the lake: a directory of hourly partitions.
public enum LakeDataset: String, Sendable, CaseIterable, Codable {
    /// Raw log records: `logs/raw/`.
    case logs = "logs/raw"
    /// Activity events: `events/activity/`.
    case activity = "events/activity"

    /// The dataset's directory relative to the lake root.
    public var path: String { rawValue }

    /// A short name for paths and logs (`logs`, `activity`).
    public var name: String {
        switch self {
        case .logs: "logs"
        case .activity: "activity"
        }
    }
}

/// One hour of event time in UTC: the partition a record with that timestamp belongs to.
public struct HourPartition: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Whole hours since the Unix epoch.
    public let hoursSinceEpoch: Int64

    /// Microseconds in an hour.
    public static let microsPerHour: Int64 = 3_600_000_000

    /// The hour with this index.
    public init(hoursSinceEpoch: Int64) {
        self.hoursSinceEpoch = hoursSinceEpoch
    }

    /// The hour holding a timestamp in microseconds since the epoch (floor, so negative times work too).
    @inlinable
    public init(timestampMicros: Int64) {
        let q = timestampMicros / Self.microsPerHour
        hoursSinceEpoch = (timestampMicros % Self.microsPerHour < 0) ? q - 1 : q
    }

    /// The year, month, day and hour of this partition.
    public init(year: Int, month: Int, day: Int, hour: Int) {
        hoursSinceEpoch = Self.daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day)) * 24 + Int64(hour)
    }

    /// The first microsecond of the hour.
    public var startMicros: Int64 { hoursSinceEpoch * Self.microsPerHour }
    /// The first microsecond after the hour.
    public var endMicros: Int64 { (hoursSinceEpoch + 1) * Self.microsPerHour }

    /// The civil date and hour, UTC.
    public var components: (year: Int, month: Int, day: Int, hour: Int) {
        var days = hoursSinceEpoch / 24
        var hour = hoursSinceEpoch % 24
        if hour < 0 { hour += 24; days -= 1 }
        let (y, m, d) = Self.civilFromDays(days)
        return (Int(y), Int(m), Int(d), Int(hour))
    }

    /// `year=2026/month=1/day=12/hour=2`: no zero padding, as Spark writes integer partition values.
    public var path: String {
        let c = components
        return "year=\(c.year)/month=\(c.month)/day=\(c.day)/hour=\(c.hour)"
    }

    public var description: String { path }

    /// Parses `year=Y/month=M/day=D/hour=H` (the last four components of `path`).
    public init?(path: Substring) {
        let parts = path.split(separator: "/").suffix(4)
        guard parts.count == 4 else { return nil }
        var values: [Int] = []
        for (part, key) in zip(parts, ["year=", "month=", "day=", "hour="]) {
            guard part.hasPrefix(key), let v = Int(part.dropFirst(key.count)) else { return nil }
            values.append(v)
        }
        guard (1...12).contains(values[1]), (1...31).contains(values[2]), (0...23).contains(values[3]) else { return nil }
        self.init(year: values[0], month: values[1], day: values[2], hour: values[3])
    }

    public static func < (a: HourPartition, b: HourPartition) -> Bool { a.hoursSinceEpoch < b.hoursSinceEpoch }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count since 1970-01-01.
    static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

/// Paths of the lake's files and bookkeeping.
public enum LakeLayout {
    /// Logpipe's own directory; a leading `_` makes Spark and pyarrow skip it, and it sits
    /// beside (never inside) the datasets, so a glob over a dataset never reaches it.
    public static let metadataDirectory = "_logpipe"

    /// The commit log of one source partition.
    public static func commitDirectory(topic: String, partition: Int32) -> String {
        "\(metadataDirectory)/commits/\(topic)/\(partition)"
    }

    /// Where a source partition's files are written before they are committed.
    public static func stagingDirectory(topic: String, partition: Int32) -> String {
        "\(metadataDirectory)/staging/\(topic)/\(partition)"
    }

    /// The log of compactions of one dataset.
    public static func compactionDirectory(_ dataset: LakeDataset) -> String {
        "\(metadataDirectory)/compactions/\(dataset.name)"
    }

    /// Where compaction builds replacement files.
    public static func compactionStagingDirectory(_ dataset: LakeDataset) -> String {
        "\(metadataDirectory)/staging/_compaction/\(dataset.name)"
    }

    /// The directory of one hour of a dataset.
    public static func partitionDirectory(_ dataset: LakeDataset, _ hour: HourPartition) -> String {
        "\(dataset.path)/\(hour.path)"
    }

    /// A data file's final name, as Spark names its output: `part-<uuid>.snappy.parquet`.
    public static func dataFileName(id: String) -> String { "part-\(id).snappy.parquet" }

    /// Whether a listed name is a committed data file (not hidden, not a Spark/Hadoop marker).
    public static func isDataFile(_ name: Substring) -> Bool {
        !name.hasPrefix("_") && !name.hasPrefix(".") && name.hasSuffix(".parquet")
    }
}
