import Foundation
import LogpipeBatch
import LogpipeLake
import LogpipeTesting
import Testing

@Suite struct ReportCrashTests {
    static let date = ReportDate("2026-11-22")!

    /// Every file of a day's report, by path.
    static func snapshot(_ store: LocalFileStore) async throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for f in try await store.list(DailyReport.directory(date), recursive: true) { out[f.path] = try await store.read(f.path) }
        return out
    }

    static func runReport(lake: String) throws -> ChildProcess {
        try ChildProcess(executable: TestEnvironment.logpipeBinary,
                         arguments: ["report", "daily", "--lake", lake, "--date", "\(date)", "--quiet"])
    }

    /// `logpipe report daily` killed with SIGKILL while it writes (0, 10, 20, 40 … 640 ms after
    /// its staging tree appears) leaves the previous report or the new one, every file of it,
    /// never a mix: the lake changes between the two, so the runs' tables differ.
    @Test func killNineMidReportLeavesTheOldReportOrTheNewOne() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-crash")
        defer { dir.remove() }
        let lake = dir.path + "/lake"
        try TestLake.build(root: lake, logs: 10_000, events: 2_000)
        let store = try LocalFileStore(root: lake)
        try await DailyReport.compute(store: store, date: Self.date).write(store: store)
        let old = try await Self.snapshot(store)
        // The lake changes: a rerun now writes a different report.
        try TestLake.build(root: lake, logs: 10_000, events: 2_000, seed: 8)

        // The new report, written on a copy so the lake keeps its old one.
        let copy = dir.path + "/copy"
        try FileManager.default.copyItem(atPath: lake, toPath: copy)
        let full = try Self.runReport(lake: copy)
        let status = await full.waitForExit()
        #expect(ChildProcess.exitCode(status) == 0, "\(String(decoding: full.standardError, as: UTF8.self))")
        let new = try await Self.snapshot(try LocalFileStore(root: copy))
        #expect(new.count == old.count && new != old)
        #expect(Set(new.keys) == Set(old.keys))

        let staging = "\(lake)/_logpipe/staging/\(DailyReport.directory(Self.date))"
        func stagedTrees() -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? []) }
        var outcomes: [String] = []
        for k in 0..<8 {
            let before = stagedTrees()
            let child = try Self.runReport(lake: lake)
            // The run's own staging tree appearing means its writes have begun.
            let deadline = ContinuousClock.now + .seconds(60)
            while stagedTrees().subtracting(before).isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .microseconds(200))
            }
            try await Task.sleep(for: .milliseconds(k == 0 ? 0 : 5 << k))
            child.kill()
            _ = await child.waitForExit()
            let now = try await Self.snapshot(store)
            #expect(now == old || now == new, "kill \(k): a mix of the two reports, or neither")
            outcomes.append(now == old ? "old" : now == new ? "new" : "mixed")
        }
        // A run after the kills finishes the job and clears what they left in staging.
        let last = try Self.runReport(lake: lake)
        #expect(ChildProcess.exitCode(await last.waitForExit()) == 0)
        #expect(try await Self.snapshot(store) == new)
        #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
        print("kill -9 outcomes: \(outcomes.joined(separator: " "))")
    }
}
