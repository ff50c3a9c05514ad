import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import Synchronization

/// The kill -9 drill that proves the stream's exactly-once commits on every lake store: a
/// local bus is fed generated logs and events between runs of `logpipe stream`, each run is
/// killed with SIGKILL at a random moment after its first new commit, and a last `--once`
/// run finishes the bus. The test then checks the lake against `logs` and `events`, the
/// exact numbers fed.
///
/// The store-specific parts (the arguments, how to list the lake) come from the test, so the
/// local, S3 and WebHDFS drills differ only there.
public struct KillNineDrill {
    /// What came of the killed runs.
    public struct Outcome: Sendable {
        /// Runs killed.
        public var kills = 0
        /// Kills that landed with part, not all, of the bus committed: data was in flight.
        public var killedMidway = 0
        /// Runs that did not die of the SIGKILL (crashed earlier, or refused to start), with
        /// their standard error.
        public var unexpectedExits: [String] = []
    }

    /// The bus directory the drill feeds and the stream reads.
    public let busDirectory: String
    /// Log records fed so far.
    public private(set) var logs = 0
    /// Activity events fed so far.
    public private(set) var events = 0
    private var generator: RecordGenerator
    private var clock: Double

    /// A drill on a bus in `busDirectory`, its records following from `seed`.
    public init(busDirectory: String, seed: UInt64, startSeconds: Double = 1_768_183_100) {
        self.busDirectory = busDirectory
        generator = RecordGenerator(seed: seed)
        clock = startSeconds
    }

    /// Appends logs and events (three partitions per topic), continuing the event clock.
    /// The bus is opened and closed again, as a collector run between stream runs would.
    public mutating func feed(logs logCount: Int, events eventCount: Int) async throws {
        let bus = try LocalBus(directory: busDirectory)
        try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
        try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 3))
        logs += try await LakeTesting.produceLines(bus, topic: "logs.raw", ndjson: generator.logs(count: logCount, start: clock, spacing: 0.05))
        events += try await LakeTesting.produceLines(bus, topic: "events.activity", ndjson: generator.events(count: eventCount, start: clock, spacing: 0.2))
        clock += Double(logCount) * 0.05
        try await bus.close()
    }

    /// Starts `logpipe stream` with `arguments` `kills` times; each run is killed with SIGKILL
    /// at a random moment up to `maxDelay` seconds after a new data file appears in `store`
    /// (or after `firstCommitTimeout`), and `refill` is fed before the next run.
    public mutating func killRepeatedly(
        _ kills: Int, arguments: [String], environment: [String: String]? = nil, store: any FileStore,
        maxDelay: Double, firstCommitTimeout: Double, refill: (logs: Int, events: Int)
    ) async throws -> Outcome {
        var outcome = Outcome()
        var random = SystemRandomNumberGenerator()
        while outcome.kills < kills {
            let before = await Self.dataFileCount(store)
            let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments, environment: environment)
            let deadline = Date().addingTimeInterval(firstCommitTimeout)
            while await Self.dataFileCount(store) <= before && Date() < deadline {
                try await Task.sleep(nanoseconds: 2_000_000)
            }
            try await Task.sleep(nanoseconds: UInt64.random(in: 0...UInt64(maxDelay * 1e9), using: &random))
            child.kill()
            let status = await child.waitForExit()
            if ChildProcess.killedBySignal(status) != SIGKILL {
                outcome.unexpectedExits.append("run \(outcome.kills): status \(status): \(String(decoding: child.standardError, as: UTF8.self))")
            }
            outcome.kills += 1
            let committed = try await LakeListing.partitions(store: store).reduce(0) { $0 + $1.rows }
            if committed > 0 && committed < Int64(logs + events) { outcome.killedMidway += 1 }
            try await feed(logs: refill.logs, events: refill.events)
        }
        return outcome
    }

    /// A last `logpipe stream … --once` run over what is left; its standard error when it
    /// did not exit 0, nil when it did.
    public func finish(arguments: [String], environment: [String: String]? = nil) async throws -> String? {
        let last = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments + ["--once"], environment: environment)
        let status = await last.waitForExit()
        return ChildProcess.exitCode(status) == 0 ? nil : "status \(status): \(String(decoding: last.standardError, as: UTF8.self))"
    }

    /// DuckDB's reading of the lake directory `lake` against what was fed: one message per
    /// dataset where rows, distinct ids or hour placement differ; empty when every record is
    /// there exactly once, in its hour.
    public func duckDBMismatches(lake: String) async throws -> [String] {
        var mismatches: [String] = []
        for (dataset, id, expected) in [("logs/raw", "metadata.request_id", logs), ("events/activity", "event_id", events)] {
            let result = try await LakeTesting.runPython(LakeTesting.duckDBLakeCheck, arguments: [lake, dataset, id])
            let check = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
            let (rows, distinct, outside) = (check["rows"] as? Int, check["distinct_ids"] as? Int, check["outside_hour"] as? Int)
            if rows != expected || distinct != expected || outside != 0 {
                mismatches.append("\(dataset): fed \(expected), DuckDB found rows \(rows.map(String.init) ?? "-"), "
                    + "distinct ids \(distinct.map(String.init) ?? "-"), outside their hour \(outside.map(String.init) ?? "-") \(result.error)")
            }
        }
        return mismatches
    }

    /// Data files committed under both datasets.
    static func dataFileCount(_ store: any FileStore) async -> Int {
        var count = 0
        for dataset in ["logs/raw", "events/activity"] {
            count += ((try? await store.list(dataset, recursive: true)) ?? []).filter { $0.name.hasSuffix(".parquet") }.count
        }
        return count
    }
}

/// Lists a lake's datasets over and over through its store, as DuckDB, Spark or pyarrow
/// would, noting every path a reader would pick up that is not a committed data file in
/// an hour partition (`dataset/year=/month=/day=/hour=/part-….snappy.parquet`).
public final class ListingWatch: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let foreignPaths = Mutex<[String]>([])
    private let count = Atomic<Int>(0)

    /// A watch, not yet running.
    public init() {}

    /// Paths seen that a reader must never see.
    public var foreign: [String] { foreignPaths.withLock { $0 } }
    /// Complete listings done.
    public var listings: Int { count.load(ordering: .relaxed) }

    /// Lists `store` until `stop()`.
    public func run(_ store: any FileStore) async {
        while !stopped.load(ordering: .relaxed) {
            for dataset in ["logs/raw", "events/activity"] {
                for file in (try? await store.list(dataset, recursive: true)) ?? [] {
                    let parts = file.path.split(separator: "/")
                    let inHour = parts.count == 7 && parts[2].hasPrefix("year=") && parts[5].hasPrefix("hour=")
                    if !(inHour && file.name.hasPrefix("part-") && file.name.hasSuffix(".snappy.parquet")) {
                        foreignPaths.withLock { $0.append(file.path) }
                    }
                }
            }
            count.add(1, ordering: .relaxed)
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
    }

    /// Ends `run` after its current listing.
    public func stop() { stopped.store(true, ordering: .relaxed) }
}
