import Foundation
import LogpipeAnalytics
import LogpipeBus
import LogpipeGenerator
import LogpipeTesting
import Testing

@Suite("logpipe stream killed and restarted", .serialized)
struct ProcessRestartTests {
    /// What a lake's analytics output looks like, family by family: every JSON line of
    /// every published file, sorted (a multiset: a window published twice shows twice).
    static func lakeRows(_ lake: String) throws -> [String: [String]] {
        var rows: [String: [String]] = [:]
        let families = ["metrics/services", "metrics/clients", "metrics/system", "metrics/activities", "metrics/late",
                        "alerts", "late/logs", "late/activity"]
        for family in families {
            let root = "\(lake)/\(family)"
            var lines: [String] = []
            for path in (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? [] {
                // Skip directories and the hidden temporaries a kill can leave behind.
                guard let name = path.split(separator: "/").last, name.hasPrefix("part-"), name.hasSuffix(".json") else { continue }
                let text = try String(contentsOfFile: "\(root)/\(path)", encoding: .utf8)
                lines += text.split(separator: "\n").map(String.init)
            }
            rows[family] = lines.sorted()
        }
        return rows
    }

    /// The service of a generated log line (the collector keys logs by service).
    static func service(of line: ArraySlice<UInt8>) -> [UInt8] {
        let marker = Array(#""service":""#.utf8)
        guard let at = line.indices.first(where: { line[$0...].starts(with: marker) }) else { return [] }
        let start = at + marker.count
        let end = line[start...].firstIndex(of: UInt8(ascii: "\"")) ?? start
        return Array(line[start..<end])
    }

    /// Puts `ndjson` on `topic`, each line keyed by its service (logs) or unkeyed round-robin (events).
    static func produce(_ bus: LocalBus, topic: String, ndjson: [UInt8], keyed: Bool) async throws -> Int {
        var batch = ProduceBatch()
        var produced = 0
        var start = 0
        while start < ndjson.count {
            let end = ndjson[start...].firstIndex(of: UInt8(ascii: "\n")) ?? ndjson.count
            if end > start {
                let line = ndjson[start..<end]
                if keyed {
                    batch.append(key: service(of: line), value: line)
                } else {
                    batch.append(key: nil as [UInt8]?, value: line, partition: Int32(produced % 2))
                }
                produced += 1
                if batch.count >= 2_000 {
                    _ = try await bus.produce(topic: topic, batch: batch)
                    batch = ProduceBatch()
                }
            }
            start = end + 1
        }
        if batch.count > 0 { _ = try await bus.produce(topic: topic, batch: batch) }
        return produced
    }

    /// Published analytics files in a lake.
    static func publishedFiles(_ lake: String) -> Int {
        ((try? FileManager.default.subpathsOfDirectory(atPath: lake + "/metrics")) ?? [])
            .filter { $0.split(separator: "/").last?.hasPrefix("part-") == true }.count
    }

    /// 30 minutes of generated logs and events (with an IP flood, and after each 3-minute
    /// chunk two records six minutes behind, late) go, chunk by chunk, on two buses. An
    /// uninterrupted `logpipe stream --once` over one bus, with every chunk on it, is the
    /// reference. Over the other, `logpipe stream` runs and is killed with SIGKILL at a
    /// random moment shortly after it has published its first windows, the next chunk
    /// arrives, and so on; a last `--once` finishes. The analytics rows in the two lakes
    /// (every line of every metrics, alerts and late file, as a multiset, so a window
    /// published twice, lost or changed would show) must be equal.
    @Test("SIGKILL during windowed processing, restart: the lake's windows equal an uninterrupted run's")
    func killNineAndRestart() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestEnvironment.logpipeBinary),
                     "no logpipe binary at \(TestEnvironment.logpipeBinary) (set LOGPIPE_BIN)")
        let dir = try TemporaryDirectory(prefix: "analytics-kill9")
        defer { dir.remove() }
        let reference = (bus: dir.appending("bus-a"), lake: dir.appending("lake-a"))
        let killed = (bus: dir.appending("bus-b"), lake: dir.appending("lake-b"))

        let flood = Incident(kind: .ipFlood, subject: "10.66.66.66", start: epoch0 + 600, end: epoch0 + 720)
        var generator = RecordGenerator(seed: 5, incidents: [flood])
        var chunks: [(logs: [UInt8], events: [UInt8])] = []
        for chunk in 0..<10 {
            let start = epoch0 + Double(chunk) * 180
            var logs = generator.logs(count: 3_600, start: start, spacing: 0.05)
            if chunk > 0 { logs += generator.logs(count: 2, start: start - 170, spacing: 1) }
            chunks.append((logs, generator.events(count: 600, start: start, spacing: 0.3)))
        }
        // The same produce calls in the same order on both buses: the same records at the same offsets.
        func feed(_ directory: String, _ range: Range<Int>) async throws -> (logs: Int, events: Int) {
            let bus = try LocalBus(directory: directory)
            try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
            try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 2))
            var counts = (logs: 0, events: 0)
            for chunk in chunks[range] {
                counts.logs += try await Self.produce(bus, topic: "logs.raw", ndjson: chunk.logs, keyed: true)
                counts.events += try await Self.produce(bus, topic: "events.activity", ndjson: chunk.events, keyed: false)
            }
            try await bus.close()
            return counts
        }
        let fed = try await feed(reference.bus, 0..<chunks.count)
        #expect(fed.logs == 36_018 && fed.events == 6_000)

        func arguments(_ copy: (bus: String, lake: String)) -> [String] {
            ["stream", "--bus", "local:\(copy.bus)", "--lake", copy.lake, "--lateness", "30", "--roll-seconds", "0.05",
             "--api-port", "0", "--log-level", "critical"]
        }
        let uninterrupted = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments(reference) + ["--once"])
        let referenceStatus = await uninterrupted.waitForExit()
        try #require(ChildProcess.exitCode(referenceStatus) == 0, "\(String(decoding: uninterrupted.standardError, as: UTF8.self))")
        let expected = try Self.lakeRows(reference.lake)
        let expectedServices = try expected["metrics/services", default: []].map {
            try JSONDecoder().decode(ServiceMetrics.self, from: Data($0.utf8))
        }
        // 30 minutes: all but the last window or two (within the lateness of the newest record) closed.
        #expect(Set(expectedServices.map(\.window.startMicros)).count >= 28)
        #expect(Set(expectedServices.map { "\($0.window.startMicros)/\($0.service)" }).count == expectedServices.count)
        #expect(expected["alerts", default: []].contains { $0.contains("10.66.66.66") })
        #expect(expected["late/logs", default: []].count == 18)

        var random = SystemRandomNumberGenerator()
        var killedAfterPublishing = 0
        _ = try await feed(killed.bus, 0..<2)
        for next in 2...chunks.count {
            // Killed at a random moment shortly after the run's first new windows are in the
            // lake, while its other partitions are still computing and committing theirs.
            let filesBefore = Self.publishedFiles(killed.lake)
            let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments(killed))
            let deadline = Date().addingTimeInterval(15)
            while Self.publishedFiles(killed.lake) <= filesBefore && Date() < deadline {
                try await Task.sleep(nanoseconds: 2_000_000)
            }
            if Self.publishedFiles(killed.lake) > filesBefore { killedAfterPublishing += 1 }
            try await Task.sleep(nanoseconds: UInt64.random(in: 0...40_000_000, using: &random))
            child.kill()
            let status = await child.waitForExit()
            #expect(ChildProcess.killedBySignal(status) == SIGKILL, "run \(next): \(String(decoding: child.standardError, as: UTF8.self))")
            if next < chunks.count { _ = try await feed(killed.bus, next..<next + 1) }
        }
        let last = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments(killed) + ["--once"])
        let lastStatus = await last.waitForExit()
        try #require(ChildProcess.exitCode(lastStatus) == 0, "\(String(decoding: last.standardError, as: UTF8.self))")
        #expect(killedAfterPublishing == chunks.count - 1, "every run was killed with windows being published")

        let got = try Self.lakeRows(killed.lake)
        for (family, rows) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(got[family] == rows, "\(family): \(got[family]?.count ?? 0) rows, expected \(rows.count)")
        }
        let services = try got["metrics/services", default: []].map { try JSONDecoder().decode(ServiceMetrics.self, from: Data($0.utf8)) }
        #expect(services == expectedServices)
    }
}
