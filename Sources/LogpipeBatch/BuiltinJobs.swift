import Foundation
import LogpipeLake

/// The jobs Logpipe schedules itself (the seed's Airflow DAGs).
public enum BuiltinJobs {
    /// What to schedule, from the configuration.
    public struct Options: Sendable {
        /// When the daily report runs (for the previous UTC day).
        public var dailyReportSchedule = "15 0 * * *"
        /// When the service analysis runs (for the previous UTC day).
        public var serviceAnalysisSchedule = "15 0 * * *"
        /// SLA targets of the service analysis.
        public var serviceAnalysis = ServiceAnalysis.Options()
        /// Whether closed hours are compacted (see `CompactionPolicy`).
        public var compaction = true
        /// When closed hours are compacted.
        public var compactionSchedule = "*/10 * * * *"
        /// When retention runs.
        public var retentionSchedule = "30 0 * * *"
        /// Hour partitions older than this many days are deleted; `nil` turns retention off.
        public var retentionDays: Double?

        /// The defaults: report at 00:15 UTC, compaction every 10 minutes, no retention.
        public init() {}
    }

    /// The daily report, the service analysis and, when configured, compaction and retention over the lake in `store`.
    public static func jobs(store: any FileStore, options: Options = Options()) throws -> [ScheduledJob] {
        var jobs = [
            ScheduledJob(name: "report-daily", schedule: try CronSchedule(options.dailyReportSchedule),
                         interval: { ReportDate(containing: $0).previous.description }) { key in
                guard let date = ReportDate(key) else { throw SchedulerError.unknownJob("report-daily interval \(key)") }
                let report = try await DailyReport.compute(store: store, date: date)
                return Int64(try await report.write(store: store))
            },
            ScheduledJob(name: "service-analysis", schedule: try CronSchedule(options.serviceAnalysisSchedule),
                         interval: { ReportDate(containing: $0).previous.description }) { key in
                guard let date = ReportDate(key) else { throw SchedulerError.unknownJob("service-analysis interval \(key)") }
                return Int64(try await ServiceAnalysis.compute(store: store, date: date, options: options.serviceAnalysis).write(store: store))
            },
        ]
        if options.compaction {
            jobs.append(ScheduledJob(name: "compaction", schedule: try CronSchedule(options.compactionSchedule),
                                     interval: minuteKey, maxAttempts: 2) { _ in
                let records = try await LakeCompactor(store: store).compactClosedHours()
                return records.reduce(0) { $0 + $1.outputs.reduce(0) { $0 + $1.rows } }
            })
        }
        if let days = options.retentionDays {
            jobs.append(ScheduledJob(name: "retention", schedule: try CronSchedule(options.retentionSchedule), interval: minuteKey) { key in
                let at = try SearchParameters.time(key, "interval")
                return Int64(try await LakeRetention.deleteHours(store: store, endingBefore: at - Int64(days * 86_400_000_000)))
            })
        }
        return jobs
    }

    /// A firing's own minute as RFC 3339 (`2026-11-22T00:10:00Z`), for jobs whose interval is the firing itself.
    @Sendable static func minuteKey(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60))
    }
}

/// Lake retention: deletes whole hour partitions of the raw datasets.
public enum LakeRetention {
    /// Deletes the data files of every hour of `datasets` that ends at or before `endingBefore`
    /// (microseconds since the epoch); returns the files deleted.
    public static func deleteHours(store: any FileStore, endingBefore: Int64,
                                   datasets: [LakeDataset] = LakeDataset.allCases) async throws -> Int {
        var deleted = 0
        for dataset in datasets {
            for file in try await store.list(dataset.path, recursive: true) {
                let directory = file.path[..<(file.path.lastIndex(of: "/") ?? file.path.startIndex)]
                guard let hour = HourPartition(path: directory), hour.endMicros <= endingBefore else { continue }
                try await store.delete(file.path)
                deleted += 1
            }
        }
        return deleted
    }
}
