import Foundation
import LogpipeBatch
import LogpipeLake
import LogpipeTesting
import Synchronization
import Testing

/// A clock tests move by hand; sleeping advances it instantly.
final class ManualClock: SchedulerClock, @unchecked Sendable {
    private let time: Mutex<Double>
    init(_ start: Double) { time = Mutex(start) }
    func now() -> Date { Date(timeIntervalSince1970: time.withLock { $0 }) }
    func sleep(seconds: Double) async throws { time.withLock { $0 += seconds } }
    func set(_ t: Double) { time.withLock { $0 = t } }
}

/// Runs counted per interval key.
final class RunLog: Sendable {
    let runs = Mutex<[String]>([])
    func add(_ k: String) { runs.withLock { $0.append(k) } }
    var all: [String] { runs.withLock { $0 } }
}

/// How many attempts still fail.
final class Failures: Sendable {
    let left: Mutex<Int>
    init(_ n: Int) { left = Mutex(n) }
    func take() -> Bool { left.withLock { f in defer { f -= 1 }; return f > 0 } }
}

@Suite struct SchedulerTests {
    static let day0 = 1_795_305_600.0  // 2026-11-22 00:00 UTC

    static func dailyJob(_ log: RunLog, failFirst: Failures? = nil, work: Double = 0) throws -> ScheduledJob {
        ScheduledJob(name: "report-daily", schedule: try CronSchedule("15 0 * * *"),
                     interval: { ReportDate(containing: $0).previous.description }, maxAttempts: 3, backoffSeconds: 30) { key in
            if let failFirst, failFirst.take() { throw CancellationError() }
            if work > 0 { try await Task.sleep(nanoseconds: UInt64(work * 1e9)) }
            log.add(key)
            return 1
        }
    }

    @Test func cronFiresOnTime() throws {
        let s = try CronSchedule("15 0 * * *")
        let t = Date(timeIntervalSince1970: Self.day0)
        #expect(s.next(after: t).timeIntervalSince1970 == Self.day0 + 900)
        #expect(s.next(after: Date(timeIntervalSince1970: Self.day0 + 900)).timeIntervalSince1970 == Self.day0 + 86_400 + 900)
        #expect(try CronSchedule("*/10 * * * *").firings(after: t, through: t.addingTimeInterval(3600)).count == 6)
        // 2026-11-22 is a Sunday: the next Monday 09:30.
        #expect(try CronSchedule("30 9 * * 1").next(after: t).timeIntervalSince1970 == Self.day0 + 86_400 + 9.5 * 3600)
        #expect(throws: CronSchedule.Invalid.self) { try CronSchedule("61 * * * *") }
    }

    @Test func firesOnTimeCatchesUpThreeDaysOnceEachAndKeepsHistory() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-sched")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        let clock = ManualClock(Self.day0 + 600)  // 00:10, before the firing
        let log = RunLog()
        let scheduler = Scheduler(store: store, jobs: [try Self.dailyJob(log)], clock: clock, lockDirectory: dir.appending("_logpipe/jobs"))
        // Nothing yet at 00:10, but the first start runs the latest past firing (yesterday's 00:15).
        #expect(try await scheduler.tick().map(\.interval) == ["2026-11-20"])
        #expect(try await scheduler.tick().isEmpty)
        clock.set(Self.day0 + 900)  // 00:15: fires for the 21st
        #expect(try await scheduler.tick().map(\.interval) == ["2026-11-21"])
        // A three-day outage: 00:20 on the 25th. Exactly the missed 22nd, 23rd, 24th, oldest first.
        clock.set(Self.day0 + 3 * 86_400 + 1200)
        #expect(try await scheduler.tick().map(\.interval) == ["2026-11-22", "2026-11-23", "2026-11-24"])
        #expect(try await scheduler.tick().isEmpty)
        #expect(log.all == ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"])
        let history = try await JobHistory(store: store).runs(job: "report-daily")
        #expect(history.map(\.interval) == log.all)
        #expect(history.allSatisfy { $0.status == "succeeded" && $0.end != nil && $0.rows == 1 && $0.attempt == 1 })
    }

    @Test func aFailedAttemptIsRetriedWithBackoffAndACrashedRunIsRerun() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-sched")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        let clock = ManualClock(Self.day0 + 900)
        let log = RunLog()
        let failures = Failures(1)
        let scheduler = Scheduler(store: store, jobs: [try Self.dailyJob(log, failFirst: failures)], clock: clock,
                                  lockDirectory: dir.appending("_logpipe/jobs"))
        let attempts = try await scheduler.tick()
        #expect(attempts.map(\.status) == ["failed", "succeeded"])
        #expect(attempts[1].start - attempts[0].end! == 30)  // the backoff
        // A process that died mid-run leaves a record with no end: the next tick reruns it.
        let crashed = JobRun(job: "report-daily", interval: "2026-11-22", attempt: 1, owner: "dead:1",
                             start: Self.day0 + 86_400 + 900, end: nil, status: "running", rows: nil, error: nil)
        try await JobHistory(store: store).record(crashed)
        clock.set(Self.day0 + 86_400 + 960)
        #expect(try await scheduler.tick().map(\.interval) == ["2026-11-22"])
        #expect(log.all == ["2026-11-21", "2026-11-22"])
    }

    @Test func twoSchedulersNeverRunTheSameIntervalTwice() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-sched")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        let log = RunLog()
        let locks = dir.appending("_logpipe/jobs")
        // Both start after a 3-day outage with one success recorded before it.
        try await JobHistory(store: store).record(JobRun(job: "report-daily", interval: "2026-11-21", attempt: 1, owner: "x",
                                                          start: Self.day0 + 900, end: Self.day0 + 901, status: "succeeded", rows: 1, error: nil))
        let clocks = [ManualClock(Self.day0 + 3 * 86_400 + 1200), ManualClock(Self.day0 + 3 * 86_400 + 1200)]
        let schedulers = try clocks.map {
            Scheduler(store: store, jobs: [try Self.dailyJob(log, work: 0.05)], clock: $0, lockDirectory: locks)
        }
        for _ in 0..<3 {
            async let a = schedulers[0].tick()
            async let b = schedulers[1].tick()
            _ = try await (a, b)
        }
        #expect(log.all.sorted() == ["2026-11-22", "2026-11-23", "2026-11-24"])
    }
}

@Suite struct RetentionTests {
    @Test func retentionDeletesOnlyHoursOlderThanTheAgeAndIsOffByDefault() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-retention")
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: 2_600, events: 260)
        let store = try LocalFileStore(root: dir.path)
        #expect(try BuiltinJobs.jobs(store: store).map(\.name) == ["report-daily", "service-analysis", "compaction"])
        var options = BuiltinJobs.Options()
        options.retentionDays = 1
        let jobs = try BuiltinJobs.jobs(store: store, options: options)
        let retention = try #require(jobs.first { $0.name == "retention" })
        // At 2026-11-23 12:00 with one day of retention, hours ending by 2026-11-22 12:00 go:
        // the hour before the day and the day's first 12 hours, two files each, per dataset.
        let deleted = try await retention.run("2026-11-23T12:00:00Z")
        #expect(deleted == 13 * 2 * 2)
        let hours = try await LakeListing.partitions(store: store).map(\.hour)
        let cutoff = HourPartition(year: 2026, month: 11, day: 22, hour: 12)
        #expect(hours.allSatisfy { $0 >= cutoff })
        #expect(Set(hours).count == 13)
    }
}
