import ArgumentParser
import Configuration
import Foundation
import Logging
import LogpipeBatch
import LogpipeLake
import LogpipeServers
import ServiceLifecycle

/// The scheduler's configuration: `jobs.*` keys (flags, LOGPIPE_JOBS_* or the JSON file).
enum SchedulerSetup {
    static func make(settings: Settings, logger: Logger) throws -> Scheduler {
        let store = try settings.openLake()
        // A local lake's job locks are flocks beside the history; elsewhere, leases in the lake.
        let locks: any JobLocks
        if let local = store as? LocalFileStore {
            locks = FileJobLocks(directory: try local.absolutePath(JobHistory.directory))
        } else {
            locks = StoreJobLeases(store: store, ttlSeconds: settings.double(.jobsLeaseSeconds, default: 120), logger: logger)
        }
        var options = BuiltinJobs.Options()
        options.dailyReportSchedule = settings.string(.jobsReportDailySchedule, default: options.dailyReportSchedule)
        options.serviceAnalysisSchedule = settings.string(.jobsServiceAnalysisSchedule, default: options.serviceAnalysisSchedule)
        options.serviceAnalysis.availabilityTarget = settings.double(.reportsSlaAvailability, default: options.serviceAnalysis.availabilityTarget)
        options.serviceAnalysis.performanceTarget = settings.double(.reportsSlaPerformance, default: options.serviceAnalysis.performanceTarget)
        options.compaction = try settings.compactionEnabled(store: store, logger: logger)
        options.compactionSchedule = settings.string(.jobsCompactionSchedule, default: options.compactionSchedule)
        options.retentionSchedule = settings.string(.jobsRetentionSchedule, default: options.retentionSchedule)
        options.retentionDays = settings.optionalDouble(.jobsRetentionDays)
        return Scheduler(store: store, jobs: try BuiltinJobs.jobs(store: store, options: options),
                         locks: locks,
                         catchUpLimit: settings.int(.jobsCatchUp, default: 7), logger: logger)
    }
}

/// The lake of the commands that run the built-in jobs (`scheduler`, `jobs ls`, `jobs run`):
/// where it is, how to reach an object store, and whether it is compacted.
struct SchedulerLakeOptions: ParsableArguments {
    @OptionGroup var location: LakeOptions
    @OptionGroup var compaction: CompactionOptions

    var flags: [SettingKey: ConfigValue?] { location.flags.merging(compaction.flags) { a, _ in a } }
}

/// `logpipe scheduler`: the built-in scheduler on its own.
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Run the scheduled jobs (daily report 00:15 UTC, compaction, retention when configured) until stopped.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var lake: SchedulerLakeOptions

    @Option(help: "Serve /health and /metrics on this port (0: none), for probes and scraping.")
    var port = 0

    @Option(help: "The address /health and /metrics listen on.")
    var host = "127.0.0.1"

    func run() async throws {
        let settings = try await Settings.load(common, flags: lake.flags)
        let logger = settings.logger("logpipe.scheduler")
        // The metrics registry is bootstrapped before the first job records into it.
        // The bus is no concern of the scheduler's: only the lake's volume, when it is local.
        let operatorMetrics = OperatorMetrics(volumes: settings.volumes(lake: settings.lakeSetting).filter { $0.name == "lake" })
        let app = port == 0 ? nil : LogpipeApplications.scheduler(host: host, port: port, operatorMetrics: operatorMetrics, logger: logger) { [host] port in
            logger.info("scheduler health and metrics listening", metadata: ["address": "http://\(host):\(port)"])
        }
        let scheduler = try SchedulerSetup.make(settings: settings, logger: logger)
        var services: [any Service] = [SchedulerService(scheduler: scheduler)]
        if let app { services.append(app) }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// `logpipe jobs ls|history|run`.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Scheduled jobs: list, history, manual runs.", subcommands: [List.self, History.self, Run.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "Jobs with their schedules and last runs.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var lake: SchedulerLakeOptions

        func run() async throws {
            let settings = try await Settings.load(common, flags: lake.flags)
            let scheduler = try SchedulerSetup.make(settings: settings, logger: settings.logger("logpipe.scheduler"))
            let runs = try await JobHistory(store: scheduler.store).runs()
            var rows = [["JOB", "SCHEDULE", "LAST INTERVAL", "STATUS", "NEXT"]]
            for job in scheduler.jobs {
                let last = runs.last { $0.job == job.name }
                rows.append([job.name, job.schedule.description, last?.interval ?? "-", last?.status ?? "-",
                             job.schedule.next(after: Date()).formatted(.iso8601)])
            }
            print(table(rows))
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "history", abstract: "Every recorded run, oldest first.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var lake: LakeOptions
        @Argument(help: "Only this job.") var job: String?

        func run() async throws {
            let settings = try await Settings.load(common, flags: lake.flags)
            let runs = try await JobHistory(store: try settings.openExistingLake()).runs(job: job)
            var rows = [["JOB", "INTERVAL", "ATTEMPT", "START", "SECONDS", "STATUS", "ROWS", "ERROR"]]
            for r in runs {
                rows.append([r.job, r.interval, String(r.attempt), Date(timeIntervalSince1970: r.start).formatted(.iso8601),
                             r.end.map { String(format: "%.3f", $0 - r.start) } ?? "-", r.status, r.rows.map(String.init) ?? "-", r.error ?? ""])
            }
            print(table(rows))
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "Run a job for one interval now (a manual trigger).")
        @OptionGroup var common: CommonOptions
        @OptionGroup var lake: SchedulerLakeOptions
        @Argument(help: "The job: report-daily, service-analysis, compaction, retention.") var job: String
        @Option(help: "The interval: the day (YYYY-MM-DD) for report-daily, default yesterday; a time for the others, default now.")
        var date: String?

        func run() async throws {
            let settings = try await Settings.load(common, flags: lake.flags)
            let scheduler = try SchedulerSetup.make(settings: settings, logger: settings.logger("logpipe.scheduler"))
            if job == "compaction" && !scheduler.jobs.contains(where: { $0.name == job }) {
                if try settings.compactionPolicy() == .off {
                    throw ValidationError("compaction is off (--compaction off, or lake.compaction in the configuration)")
                }
                throw ValidationError("compaction is off on this lake: it cannot swap files atomically, so readers listing it could see a compaction's inputs and outputs together; pass --compaction on if only logpipe reads it")
            }
            guard let definition = scheduler.jobs.first(where: { $0.name == job }) else {
                throw ValidationError("no job \(job); jobs: \(scheduler.jobs.map(\.name).joined(separator: ", "))")
            }
            let key = date ?? definition.interval(Date())
            let attempts = try await scheduler.trigger(job, interval: key)
            for a in attempts { print("\(a.job) \(a.interval) attempt \(a.attempt): \(a.status)\(a.error.map { " (\($0))" } ?? "") rows \(a.rows ?? 0)") }
            if attempts.last?.status != "succeeded" { throw ExitCode.failure }
        }
    }
}

/// The scheduler as a service of `logpipe run`, stopped with the others on shutdown.
struct SchedulerService: Service {
    let scheduler: Scheduler

    func run() async throws {
        await cancelWhenGracefulShutdown { await scheduler.run() }
    }
}
