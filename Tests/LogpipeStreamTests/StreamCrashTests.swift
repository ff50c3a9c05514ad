import Foundation
import LogpipeLake
import LogpipeTesting
import Testing

@Suite(.serialized) struct StreamCrashTests {
    /// `logpipe stream` is killed with SIGKILL at random moments, at least ten times, while
    /// records keep arriving between runs; a last run finishes. The lake must hold every
    /// record exactly once, and no listing of the datasets may ever show a non-data file.
    @Test func killNineAtRandomMomentsKeepsEveryRecordOnce() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestEnvironment.logpipeBinary),
                     "no logpipe binary at \(TestEnvironment.logpipeBinary) (set LOGPIPE_BIN)")
        let dir = try TemporaryDirectory(prefix: "stream-kill9")
        defer { dir.remove() }
        let lakeDir = dir.appending("lake")
        let store = try LocalFileStore(root: lakeDir)
        var drill = KillNineDrill(busDirectory: dir.appending("bus"), seed: 99, startSeconds: startSeconds)
        try await drill.feed(logs: 15_000, events: 3_000)

        let watch = ListingWatch()
        let watcher = Task { await watch.run(store) }
        // 1 MiB files rolled every 50 ms: many commits per run, so kills land between and inside them.
        let arguments = ["stream", "--bus", "local:\(drill.busDirectory)", "--lake", lakeDir, "--roll-mib", "1",
                         "--roll-seconds", "0.05", "--api-port", "0", "--log-level", "error"]
        let outcome = try await drill.killRepeatedly(12, arguments: arguments, store: store, maxDelay: 0.04,
                                                     firstCommitTimeout: 15, refill: (logs: 4_000, events: 1_000))
        let failure = try await drill.finish(arguments: arguments)
        watch.stop()
        await watcher.value
        #expect(outcome.unexpectedExits.isEmpty, "\(outcome.unexpectedExits)")
        #expect(failure == nil, "\(failure ?? "")")
        #expect(outcome.killedMidway >= 8, "only \(outcome.killedMidway) of \(outcome.kills) kills landed with data in flight")
        #expect(watch.listings > 100)
        #expect(watch.foreign.isEmpty, "listed non-data files: \(watch.foreign.prefix(5))")
        #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
        let mismatches = try await drill.duckDBMismatches(lake: lakeDir)
        #expect(mismatches.isEmpty, "\(mismatches)")
    }
}
