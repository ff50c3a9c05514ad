import Foundation
import Logging
import LogpipeLake
import Metrics

#if canImport(Glibc)
import Glibc
#endif

/// The scheduler's notion of time, injectable so tests can move it by days in microseconds.
public protocol SchedulerClock: Sendable {
    /// The current time.
    func now() -> Date
    /// Waits `seconds` of this clock's time.
    func sleep(seconds: Double) async throws
}

/// The wall clock.
public struct WallClock: SchedulerClock {
    /// The wall clock.
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(seconds: Double) async throws { try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9)) }
}

/// A scheduled job: what runs, when, and for which interval.
public struct ScheduledJob: Sendable {
    /// The job's name (`report-daily`, `compaction`, `retention`).
    public var name: String
    /// When it fires.
    public var schedule: CronSchedule
    /// The interval key a firing processes (the daily report's firing at 00:15 processes the
    /// previous day, so the key is that day); runs are deduplicated by this key.
    public var interval: @Sendable (Date) -> String
    /// Does the work for an interval key and returns the rows it wrote.
    public var run: @Sendable (String) async throws -> Int64
    /// Attempts per interval before it is recorded as failed.
    public var maxAttempts: Int
    /// The first retry waits this long, doubling each time.
    public var backoffSeconds: Double
    /// A run taking longer fails with a timeout.
    public var timeoutSeconds: Double

    /// A job.
    public init(name: String, schedule: CronSchedule, interval: @escaping @Sendable (Date) -> String,
                maxAttempts: Int = 3, backoffSeconds: Double = 30, timeoutSeconds: Double = 3600,
                run: @escaping @Sendable (String) async throws -> Int64) {
        self.name = name
        self.schedule = schedule
        self.interval = interval
        self.run = run
        self.maxAttempts = max(1, maxAttempts)
        self.backoffSeconds = backoffSeconds
        self.timeoutSeconds = timeoutSeconds
    }
}

/// One attempt of one job on one interval, as kept under `_logpipe/jobs/<job>/runs/`.
public struct JobRun: Codable, Sendable, Equatable {
    /// The job.
    public var job: String
    /// The interval key.
    public var interval: String
    /// The attempt, from 1.
    public var attempt: Int
    /// Who ran it (`host:pid`).
    public var owner: String
    /// When it started, epoch seconds.
    public var start: Double
    /// When it ended, epoch seconds (`nil` while running, or when the process died).
    public var end: Double?
    /// `running`, `succeeded` or `failed`.
    public var status: String
    /// Rows written.
    public var rows: Int64?
    /// Why it failed.
    public var error: String?

    /// A record.
    public init(job: String, interval: String, attempt: Int, owner: String, start: Double, end: Double?,
                status: String, rows: Int64?, error: String?) {
        self.job = job
        self.interval = interval
        self.attempt = attempt
        self.owner = owner
        self.start = start
        self.end = end
        self.status = status
        self.rows = rows
        self.error = error
    }
}

/// The run history of the lake's jobs: one JSON file per attempt, written when it starts and
/// rewritten when it ends, so an attempt a crash cut short stays visible as `running`.
public struct JobHistory: Sendable {
    /// The lake.
    public let store: any FileStore

    /// The history in `store`.
    public init(store: any FileStore) { self.store = store }

    /// Where job bookkeeping lives.
    public static let directory = "\(LakeLayout.metadataDirectory)/jobs"

    static func path(_ run: JobRun) -> String {
        "\(directory)/\(run.job)/runs/\(run.interval)/\(String(format: "%013.0f", run.start * 1000))-\(run.attempt).json"
    }

    /// Writes (or rewrites) an attempt's record.
    public func record(_ run: JobRun) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try await store.write(Self.path(run), contents: Array(try encoder.encode(run)))
    }

    /// Every attempt of `job` (every job when `nil`), oldest first.
    public func runs(job: String? = nil) async throws -> [JobRun] {
        let prefix = job.map { "\(Self.directory)/\($0)/runs" } ?? Self.directory
        var out: [JobRun] = []
        for file in try await store.list(prefix, recursive: true) where file.path.hasSuffix(".json") && file.path.contains("/runs/") {
            if let run = try? JSONDecoder().decode(JobRun.self, from: Data(try await store.read(file.path))) { out.append(run) }
        }
        return out.sorted { ($0.start, $0.job, $0.attempt) < ($1.start, $1.job, $1.attempt) }
    }
}

/// An exclusive lock on a file (`flock`), released by the kernel when the process dies, so
/// a crashed run never blocks its job.
final class FileLock: @unchecked Sendable {
    private let fd: Int32

    /// Takes the lock at `path` without waiting; `nil` when another process or task holds it.
    init?(path: String) {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            return nil
        }
    }

    deinit {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}

/// Airflow's role: fires jobs on their cron schedules, catches up missed intervals after
/// downtime (oldest first, at most `catchUpLimit` per job), runs one interval of a job at a
/// time even across processes (a `flock` on `_logpipe/jobs/<job>.lock` on a local lake, a
/// lease in the lake on S3 or WebHDFS: `JobLocks`), re-checking the history under the lock
/// so an interval that succeeded is never run again, retries with
/// exponential backoff, times runs out, and records every attempt in the lake.
public actor Scheduler {
    /// The lake (history lives in it).
    public nonisolated let store: any FileStore
    /// The jobs.
    public nonisolated let jobs: [ScheduledJob]
    let clock: any SchedulerClock
    let locks: any JobLocks
    let catchUpLimit: Int
    let lookbackSeconds: Double
    let owner: String
    let logger: Logger
    let history: JobHistory

    /// A scheduler over `store` whose job locks are `flock`s in the local directory
    /// `lockDirectory` (the lake's own `_logpipe/jobs` when the lake is local).
    public init(store: any FileStore, jobs: [ScheduledJob], clock: any SchedulerClock = WallClock(), lockDirectory: String,
                catchUpLimit: Int = 7, lookbackSeconds: Double = 31 * 86_400, owner: String = "\(ProcessInfo.processInfo.hostName):\(getpid())",
                logger: Logger = Logger(label: "logpipe.scheduler")) {
        self.init(store: store, jobs: jobs, clock: clock, locks: FileJobLocks(directory: lockDirectory), catchUpLimit: catchUpLimit,
                  lookbackSeconds: lookbackSeconds, owner: owner, logger: logger)
    }

    /// A scheduler over `store` whose jobs run under `locks`.
    public init(store: any FileStore, jobs: [ScheduledJob], clock: any SchedulerClock = WallClock(), locks: any JobLocks,
                catchUpLimit: Int = 7, lookbackSeconds: Double = 31 * 86_400, owner: String = "\(ProcessInfo.processInfo.hostName):\(getpid())",
                logger: Logger = Logger(label: "logpipe.scheduler")) {
        self.store = store
        self.jobs = jobs
        self.clock = clock
        self.locks = locks
        self.catchUpLimit = max(1, catchUpLimit)
        self.lookbackSeconds = lookbackSeconds
        self.owner = owner
        self.logger = logger
        history = JobHistory(store: store)
    }

    /// The interval keys of `job` due at `now`: those of its firings in the last
    /// `lookbackSeconds` that have not succeeded and are newer than its newest success
    /// (older failures were retried and given up), the newest `catchUpLimit` of them, oldest
    /// first. A job with no history starts with its latest firing only, not a backfill.
    /// Keys must sort in time order (dates, RFC 3339 times), as the built-in jobs' do.
    public func due(_ job: ScheduledJob, now: Date) async throws -> [String] {
        let runs = try await history.runs(job: job.name)
        let succeeded = Set(runs.filter { $0.status == "succeeded" }.map(\.interval))
        let newest = succeeded.max()
        var keys: [String] = []
        for f in job.schedule.firings(after: now.addingTimeInterval(-lookbackSeconds), through: now) {
            let key = job.interval(f)
            if !succeeded.contains(key), newest.map({ key > $0 }) ?? true, keys.last != key { keys.append(key) }
        }
        if runs.isEmpty { return Array(keys.suffix(1)) }
        return Array(keys.suffix(catchUpLimit))
    }

    /// Runs every due interval of every job once (oldest first); returns the attempts made.
    @discardableResult
    public func tick() async throws -> [JobRun] {
        var done: [JobRun] = []
        for job in jobs {
            guard let lease = try await locks.acquire(job.name) else {
                logger.debug("job busy in another process", metadata: ["job": "\(job.name)"])
                continue
            }
            do {
                // Due intervals are computed under the lock, after any other process's runs.
                for key in try await due(job, now: clock.now()) {
                    done += try await runInterval(job, key)
                }
            } catch {
                await lease.release()
                throw error
            }
            await lease.release()
        }
        return done
    }

    /// Runs `job` for interval `key` now (a manual trigger), under the job's lock, retrying.
    public func trigger(_ name: String, interval key: String) async throws -> [JobRun] {
        guard let job = jobs.first(where: { $0.name == name }) else { throw SchedulerError.unknownJob(name) }
        guard let lease = try await locks.acquire(job.name) else { throw SchedulerError.busy(name) }
        do {
            let runs = try await runInterval(job, key)
            await lease.release()
            return runs
        } catch {
            await lease.release()
            throw error
        }
    }

    /// Ticks at every minute boundary of the clock until cancelled.
    public func run() async {
        while !Task.isCancelled {
            do {
                try await tick()
            } catch {
                logger.error("scheduler tick failed", metadata: ["error": "\(error)"])
            }
            let now = clock.now().timeIntervalSince1970
            try? await clock.sleep(seconds: 60 - now.truncatingRemainder(dividingBy: 60) + 0.5)
        }
    }

    private func runInterval(_ job: ScheduledJob, _ key: String) async throws -> [JobRun] {
        var attempts: [JobRun] = []
        // Not `job`: Prometheus gives that label to the scrape target.
        let labels = [("job_name", job.name)]
        for attempt in 1...job.maxAttempts {
            var run = JobRun(job: job.name, interval: key, attempt: attempt, owner: owner,
                             start: clock.now().timeIntervalSince1970, end: nil, status: "running", rows: nil, error: nil)
            try await history.record(run)
            logger.info("job started", metadata: ["job": "\(job.name)", "interval": "\(key)", "attempt": "\(attempt)"])
            do {
                run.rows = try await Self.withTimeout(job.timeoutSeconds) { try await job.run(key) }
                run.status = "succeeded"
            } catch {
                run.status = "failed"
                run.error = "\(error)"
                Counter(label: "logpipe_job_failures_total", dimensions: labels).increment()
            }
            run.end = clock.now().timeIntervalSince1970
            try await history.record(run)
            attempts.append(run)
            Gauge(label: "logpipe_job_last_duration_seconds", dimensions: labels).record(run.end! - run.start)
            if run.status == "succeeded" {
                Gauge(label: "logpipe_job_last_success_timestamp_seconds", dimensions: labels).record(run.end!)
                logger.info("job succeeded", metadata: ["job": "\(job.name)", "interval": "\(key)", "rows": "\(run.rows ?? 0)"])
                break
            }
            logger.warning("job failed", metadata: ["job": "\(job.name)", "interval": "\(key)", "error": "\(run.error ?? "")"])
            if attempt < job.maxAttempts { try await clock.sleep(seconds: job.backoffSeconds * pow(2, Double(attempt - 1))) }
        }
        return attempts
    }

    /// `body`'s result, or `SchedulerError.timedOut` after `seconds` of real time (a run's
    /// timeout is about elapsed work, whatever clock schedules it). The body is cancelled
    /// then; work that ignores cancellation finishes in the background, unrecorded.
    static func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(min(seconds, 1e9) * 1e9))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw SchedulerError.timedOut(seconds) }
            return value
        }
    }
}

/// Why the scheduler refused or failed a run.
public enum SchedulerError: Error, CustomStringConvertible {
    /// No job has that name.
    case unknownJob(String)
    /// Another process runs the job now.
    case busy(String)
    /// The run took longer than its timeout.
    case timedOut(Double)

    public var description: String {
        switch self {
        case .unknownJob(let n): "no job named \(n)"
        case .busy(let n): "job \(n) is running in another process"
        case .timedOut(let s): "timed out after \(s) s"
        }
    }
}
