#if Kafka
import Foundation
import LogpipeBus
import LogpipeLake
import LogpipeTesting
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the Kafka → lake tests share: `logpipe` child processes that are killed whatever
/// happens to the test, waiting on conditions, and a DuckDB comparison of a lake dataset
/// with the exact records that were put on the bus.
enum KafkaLake {
    /// The lines of an NDJSON buffer, without their newlines.
    static func lines(_ ndjson: [UInt8]) -> [ArraySlice<UInt8>] {
        ndjson.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
    }

    /// The string value of `"field":"…"` in a generated record (they escape nothing in
    /// their ids, services and users), as the bus key the collector would use.
    static func stringField(_ field: String, in record: ArraySlice<UInt8>) -> [UInt8] {
        let marker = Array("\"\(field)\":\"".utf8)
        var i = record.startIndex
        while i + marker.count <= record.endIndex {
            if record[i..<i + marker.count].elementsEqual(marker) {
                let start = i + marker.count
                let end = record[start...].firstIndex(of: UInt8(ascii: "\"")) ?? record.endIndex
                return Array(record[start..<end])
            }
            i += 1
        }
        return []
    }

    /// Rows committed so far in one dataset of the lake (file footers, as `logpipe lake ls`).
    static func committedRows(lake: String, dataset: LakeDataset) async throws -> Int64 {
        guard FileManager.default.fileExists(atPath: lake) else { return 0 }
        let store = try LocalFileStore(root: lake)
        return try await LakeListing.partitions(store: store, datasets: [dataset]).reduce(0) { $0 + $1.rows }
    }

    /// The newest commit record of each of `partitions` partitions of `topics` (read only:
    /// nothing is recovered or claimed); partitions with no record are absent.
    static func newestCommits(lake: String, topics: [String], partitions: Int32) async throws -> [TopicPartition: CommitRecord] {
        guard FileManager.default.fileExists(atPath: lake) else { return [:] }
        let store = try LocalFileStore(root: lake)
        var out: [TopicPartition: CommitRecord] = [:]
        for topic in topics {
            for p in 0..<partitions {
                if let record = try await PartitionCommitLog.newestRecord(store: store, topic: topic, partition: p) {
                    out[TopicPartition(topic: topic, partition: p)] = record
                }
            }
        }
        return out
    }

    /// The worker id a `logpipe stream` process logged at start (`worker=…`), once it has.
    static func workerId(of child: ChildProcess) -> String? {
        let text = String(decoding: child.standardError, as: UTF8.self)
        for line in text.split(separator: "\n") where line.contains("stream configured") {
            guard let range = line.range(of: "worker=") else { continue }
            return String(line[range.upperBound...].prefix { $0 != " " })
        }
        return nil
    }

    /// What `contentCheck` prints.
    struct ContentCheck: Decodable, CustomStringConvertible {
        /// Rows in the dataset.
        var rows: Int
        /// Distinct ids among them.
        var distinct: Int
        /// Expected ids with no row.
        var missing: Int
        /// Rows whose id was not expected.
        var unexpected: Int
        /// Rows whose fields differ from the expected record.
        var mismatched: Int
        /// Rows whose timestamp is not in their hive partition's hour.
        var outsideHour: Int
        /// A few differences, for the failure message.
        var examples: [String]

        var description: String {
            "rows \(rows), distinct \(distinct), missing \(missing), unexpected \(unexpected), "
                + "mismatched \(mismatched), outside hour \(outsideHour); \(examples.joined(separator: "; "))"
        }

        enum CodingKeys: String, CodingKey {
            case rows, distinct, missing, unexpected, mismatched, examples
            case outsideHour = "outside_hour"
        }
    }

    /// Compares a lake dataset (`logs/raw`, `events/activity`), read by DuckDB with hive
    /// partitioning, with the NDJSON records expected in it, matched by `idPath`
    /// (`metadata.request_id`, `event_id`): every field of every row must equal the
    /// record's (timestamp to the microsecond, absent fields null, `extra` null).
    static func contentCheck(lake: String, dataset: String, idPath: String, expected: [UInt8]) async throws -> ContentCheck {
        let directory = try TemporaryDirectory(prefix: "kafka-lake-check")
        defer { directory.remove() }
        let file = directory.appending("expected.ndjson")
        try Data(expected).write(to: URL(fileURLWithPath: file))
        let result = try await LakeTesting.runPython(contentCheckScript, arguments: [lake, dataset, idPath, file])
        guard result.exitCode == 0, let line = result.output.split(separator: "\n").last else {
            throw KafkaTestError("lake check failed (\(result.exitCode.map(String.init) ?? "signal")): \(result.error)")
        }
        return try JSONDecoder().decode(ContentCheck.self, from: Data(line.utf8))
    }

    static let contentCheckScript = #"""
import decimal, json, sys
import duckdb
lake, dataset, id_path, expected_path = sys.argv[1:5]

def dig(obj, path):
    for part in path.split("."):
        obj = obj[part]
    return obj

expected = {}
with open(expected_path, encoding="utf-8") as f:
    for line in f:
        if line.strip():
            record = json.loads(line, parse_float=decimal.Decimal)
            expected[dig(record, id_path)] = record

con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
src = f"read_parquet('{lake}/{dataset}/*/*/*/*/*.parquet', hive_partitioning=true)"
outside = con.execute(f"""select count(*) from {src}
    where make_timestamptz(year, month, day, hour, 0, 0, 'UTC') > timestamp
       or make_timestamptz(year, month, day, hour, 0, 0, 'UTC') + interval 1 hour <= timestamp""").fetchone()[0]
cursor = con.execute(f"select * exclude (year, month, day, hour) replace (epoch_us(timestamp) as timestamp) from {src}")
names = [d[0] for d in cursor.description]
rows = [dict(zip(names, r)) for r in cursor.fetchall()]

def same(want, got):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return False
        return all(same(want.get(k), got.get(k)) for k in set(want) | set(got))
    if want is None or got is None:
        return want is None and got is None
    if isinstance(want, bool) or isinstance(want, str):
        return want == got
    if isinstance(got, str):
        return False
    return decimal.Decimal(str(got)) == decimal.Decimal(want)

seen = set()
mismatched = unexpected = 0
examples = []
for row in rows:
    key = dig(row, id_path)
    seen.add(key)
    want = expected.get(key)
    if want is None:
        unexpected += 1
        continue
    want = dict(want)
    want["timestamp"] = int(want["timestamp"] * 1000000)
    if not same(want, row):
        mismatched += 1
        if len(examples) < 3:
            examples.append(f"{key}: lake {row} != expected {want}")
missing = len(set(expected) - seen)
print(json.dumps({"rows": len(rows), "distinct": len(seen), "missing": missing, "unexpected": unexpected,
                  "mismatched": mismatched, "outside_hour": outside, "examples": examples}, default=str))
"""#
}

/// `logpipe` child processes of one test; whatever is still running when the test ends
/// (also by a thrown error) is killed with SIGKILL, so no worker outlives its test.
final class LogpipeChildren: Sendable {
    /// Every child started, for failure messages.
    private let all = Mutex<[ChildProcess]>([])
    /// Children not yet waited for: unreaped, so their pids are still theirs to signal.
    private let live = Mutex<[ChildProcess]>([])

    /// Starts `logpipe <arguments>` (it inherits the environment, so `LD_LIBRARY_PATH`).
    func start(_ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments)
        all.withLock { $0.append(child) }
        live.withLock { $0.append(child) }
        return child
    }

    /// Waits for `child` to exit, forgetting it first so `killAll` never signals a pid
    /// that reaping has freed for reuse.
    @discardableResult
    func waitForExit(_ child: ChildProcess) async -> Int32 {
        live.withLock { $0.removeAll { $0 === child } }
        return await child.waitForExit()
    }

    /// Waits up to `timeout` for `child` to exit; past that it is killed with SIGKILL and
    /// the result is `nil`.
    func waitForExit(_ child: ChildProcess, within timeout: Duration) async -> Int32? {
        enum Outcome: Sendable { case exited(Int32), timedOut, cancelled }
        return await withTaskGroup(of: Outcome.self) { group in
            group.addTask { .exited(await self.waitForExit(child)) }
            group.addTask {
                guard (try? await Task.sleep(for: timeout)) != nil else { return .cancelled }
                child.kill(SIGKILL)
                return .timedOut
            }
            var timedOut = false
            for await outcome in group {
                switch outcome {
                case .exited(let status):
                    group.cancelAll()
                    return timedOut ? nil : status
                case .timedOut:
                    timedOut = true
                case .cancelled:
                    break
                }
            }
            return nil
        }
    }

    /// Sends SIGKILL to every child not yet waited for.
    func killAll() {
        for child in live.withLock({ $0 }) { child.kill(SIGKILL) }
    }

    /// The last `bytes` of every child's standard error, for failure messages.
    func standardErrors(last bytes: Int = 1500) -> String {
        all.withLock { $0 }.enumerated().map { i, child in
            "[child \(i) pid \(child.pid)] " + String(decoding: child.standardError.suffix(bytes), as: UTF8.self)
        }.joined(separator: "\n")
    }
}
#endif
