import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeObjectStore
import LogpipeTesting
import Testing

@Suite(.serialized) struct WebHDFSStreamCrashTests {
    /// `logpipe stream --lake webhdfs://…` is killed with SIGKILL at random moments while
    /// records keep arriving between runs; a last `--once` run finishes. DuckDB, reading the
    /// server's directory (the HDFS contents), finds every record exactly once.
    @Test func killNineWritingToWebHDFSKeepsEveryRecordOnce() async throws {
        let binary = TestEnvironment.logpipeBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "no logpipe binary at \(binary)")
        try await withWebHDFS { server in
            let dir = try TemporaryDirectory(prefix: "webhdfs-kill9")
            defer { dir.remove() }
            let busDir = dir.appending("bus")
            var generator = RecordGenerator(seed: 77)
            var logs = 0
            var events = 0
            var clock = 1_768_183_100.0
            func feed(_ logCount: Int, _ eventCount: Int) async throws {
                let bus = try LocalBus(directory: busDir)
                try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 3))
                try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 3))
                logs += try await LakeTesting.produceLines(bus, topic: "logs.raw", ndjson: generator.logs(count: logCount, start: clock, spacing: 0.05))
                events += try await LakeTesting.produceLines(bus, topic: "events.activity", ndjson: generator.events(count: eventCount, start: clock, spacing: 0.2))
                clock += Double(logCount) * 0.05
                try await bus.close()
            }
            try await feed(8_000, 2_000)
            let store = WebHDFSFileStore(configuration: WebHDFSConfiguration(namenode: server.namenode, root: "/data/lake", user: "logpipe"))
            let arguments = ["stream", "--bus", "local:\(busDir)", "--lake", "webhdfs://127.0.0.1:\(server.namenodePort)/data/lake",
                             "--hdfs-user", "logpipe", "--roll-mib", "1", "--roll-seconds", "0.05", "--api-port", "0", "--log-level", "error"]
            func committedFiles() async -> Int { (try? await store.list("logs/raw", recursive: true).count) ?? 0 }
            var kills = 0
            var killedMidway = 0
            var random = SystemRandomNumberGenerator()
            while kills < 6 {
                let before = await committedFiles()
                let child = try ChildProcess(executable: binary, arguments: arguments)
                let deadline = Date().addingTimeInterval(20)
                while await committedFiles() <= before && Date() < deadline {
                    try await Task.sleep(nanoseconds: 5_000_000)
                }
                try await Task.sleep(nanoseconds: UInt64.random(in: 0...60_000_000, using: &random))
                child.kill()
                let status = await child.waitForExit()
                #expect(ChildProcess.killedBySignal(status) == SIGKILL, "run \(kills): \(String(decoding: child.standardError, as: UTF8.self))")
                kills += 1
                let committed = try await LakeListing.partitions(store: store).reduce(0) { $0 + $1.rows }
                if committed > 0 && committed < Int64(logs + events) { killedMidway += 1 }
                try await feed(3_000, 600)
            }
            let last = try ChildProcess(executable: binary, arguments: arguments + ["--once"])
            let status = await last.waitForExit()
            #expect(ChildProcess.exitCode(status) == 0, "\(String(decoding: last.standardError, as: UTF8.self))")
            #expect(killedMidway >= 3, "only \(killedMidway) of \(kills) kills landed with data in flight")
            #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
            let lake = server.storageDirectory + "/data/lake"
            for (dataset, id, expected) in [("logs/raw", "metadata.request_id", logs), ("events/activity", "event_id", events)] {
                let result = try await LakeTesting.runPython(LakeTesting.duckDBLakeCheck, arguments: [lake, dataset, id])
                let check = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
                #expect(check["rows"] as? Int == expected, "\(dataset): \(result.error)")
                #expect(check["distinct_ids"] as? Int == expected, "\(dataset)")
                #expect(check["outside_hour"] as? Int == 0, "\(dataset)")
            }
            // Nothing but committed data files under the datasets.
            let foreign = try await store.list("logs", recursive: true).map(\.name).filter { !($0.hasPrefix("part-") && $0.hasSuffix(".snappy.parquet")) }
            #expect(foreign.isEmpty, "\(foreign)")
        }
    }
}
