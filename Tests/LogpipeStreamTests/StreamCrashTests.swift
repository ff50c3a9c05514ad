import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeStream
import LogpipeTesting
import Synchronization
import Testing

/// Committed data files under the lake's datasets (what a reader would list).
func dataFiles(_ lake: String) -> Int {
    ["logs/raw", "events/activity"].reduce(0) { total, dataset in
        total + ((try? FileManager.default.subpathsOfDirectory(atPath: lake + "/" + dataset)) ?? [])
            .filter { $0.hasSuffix(".parquet") }.count
    }
}

/// Whether the `logpipe` binary has the `stream` command (the CLI wires it).
func logpipeHasStreamCommand() async -> Bool {
    let binary = TestEnvironment.logpipeBinary
    guard FileManager.default.isExecutableFile(atPath: binary),
          let child = try? ChildProcess(executable: binary, arguments: ["stream", "--help"]) else { return false }
    return ChildProcess.exitCode(await child.waitForExit()) == 0
}

/// A thread listing the datasets over and over, as DuckDB or Spark would, noting any
/// file a reader would pick up that is not a committed data file.
final class ListingWatch: Sendable {
    let stop = Atomic<Bool>(false)
    let foreign = Mutex<[String]>([])
    let listings = Atomic<Int>(0)

    func start(lake: String) {
        let thread = Thread { [self] in
            while !stop.load(ordering: .relaxed) {
                for dataset in ["logs/raw", "events/activity"] {
                    for path in (try? FileManager.default.subpathsOfDirectory(atPath: lake + "/" + dataset)) ?? [] {
                        let parts = path.split(separator: "/")
                        guard let name = parts.last, !name.hasPrefix("year=") && !name.hasPrefix("month=")
                            && !name.hasPrefix("day=") && !name.hasPrefix("hour=") else { continue }
                        if !(name.hasPrefix("part-") && name.hasSuffix(".snappy.parquet")) || parts.count != 5 {
                            foreign.withLock { $0.append(path) }
                        }
                    }
                }
                listings.add(1, ordering: .relaxed)
                usleep(2000)
            }
        }
        thread.start()
    }
}

@Suite(.serialized) struct StreamCrashTests {
    /// `logpipe stream` is killed with SIGKILL at random moments, at least ten times, while
    /// records keep arriving between runs; a last run finishes. The lake must hold every
    /// record exactly once, and no listing of the datasets may ever show a non-data file.
    @Test(.enabled("needs `logpipe stream` in TestEnvironment.logpipeBinary") { await logpipeHasStreamCommand() })
    func killNineAtRandomMomentsKeepsEveryRecordOnce() async throws {
        let dir = try TemporaryDirectory(prefix: "stream-kill9")
        defer { dir.remove() }
        let busDir = dir.appending("bus")
        let lakeDir = dir.appending("lake")
        var generator = RecordGenerator(seed: 99)
        var logs = 0
        var events = 0
        var clock = startSeconds
        func feed(_ logCount: Int, _ eventCount: Int) async throws {
            let bus = try LocalBus(directory: busDir)
            try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
            try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 3))
            logs += try await LakeTesting.produceLines(bus, topic: "logs.raw", ndjson: generator.logs(count: logCount, start: clock, spacing: 0.05))
            events += try await LakeTesting.produceLines(bus, topic: "events.activity", ndjson: generator.events(count: eventCount, start: clock, spacing: 0.2))
            clock += Double(logCount) * 0.05
            try await bus.close()
        }
        try await feed(15_000, 3_000)

        let watch = ListingWatch()
        watch.start(lake: lakeDir)
        defer { watch.stop.store(true, ordering: .relaxed) }

        // 1 MiB files rolled every 50 ms: many commits per run, so kills land between and inside them.
        let arguments = ["stream", "--bus", "local:\(busDir)", "--lake", lakeDir, "--roll-mib", "1",
                         "--roll-seconds", "0.05", "--api-port", "0", "--log-level", "error"]
        var kills = 0
        var killedMidway = 0
        let store = try LocalFileStore(root: lakeDir)
        var random = SystemRandomNumberGenerator()
        while kills < 12 {
            // Kill at a random moment shortly after the run's first commit, while its other
            // partitions are still reading, writing and committing.
            let filesBefore = dataFiles(lakeDir)
            let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments)
            let deadline = Date().addingTimeInterval(15)
            while dataFiles(lakeDir) <= filesBefore && Date() < deadline {
                try await Task.sleep(nanoseconds: 2_000_000)
            }
            try await Task.sleep(nanoseconds: UInt64.random(in: 0...40_000_000, using: &random))
            child.kill()
            let status = await child.waitForExit()
            #expect(ChildProcess.killedBySignal(status) == SIGKILL, "run \(kills): \(String(decoding: child.standardError, as: UTF8.self))")
            kills += 1
            // Killed with part of what is on the bus committed: data was flowing.
            let committed = try await LakeListing.partitions(store: store).reduce(0) { $0 + $1.rows }
            if committed > 0 && committed < Int64(logs + events) { killedMidway += 1 }
            try await feed(4_000, 1_000)
        }
        let last = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments + ["--once"])
        let status = await last.waitForExit()
        #expect(ChildProcess.exitCode(status) == 0, "\(String(decoding: last.standardError, as: UTF8.self))")
        watch.stop.store(true, ordering: .relaxed)
        #expect(killedMidway >= 8, "only \(killedMidway) of \(kills) kills landed with data in flight")
        #expect(watch.listings.load(ordering: .relaxed) > 100)
        #expect(watch.foreign.withLock { $0 }.isEmpty, "listed non-data files: \(watch.foreign.withLock { $0.prefix(5) })")
        #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
        for (dataset, id, expected) in [("logs/raw", "metadata.request_id", logs), ("events/activity", "event_id", events)] {
            let result = try await LakeTesting.runPython(LakeTesting.duckDBLakeCheck, arguments: [lakeDir, dataset, id])
            let check = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
            #expect(check["rows"] as? Int == expected, "\(dataset): \(result.error)")
            #expect(check["distinct_ids"] as? Int == expected, "\(dataset)")
            #expect(check["outside_hour"] as? Int == 0, "\(dataset)")
        }
    }
}
