import Foundation
import LogpipeBus
import LogpipeTesting
import Testing

/// `logpipe run` as a real process: the generator posts to the collector, the collector
/// makes records durable on the local bus, the stream writes them to the lake. After a
/// SIGTERM, DuckDB over the lake finds exactly the records the collector accepted.
struct PipelineProcessTests {
    @Test func everyAcceptedRecordReachesTheLakeOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let port = try LoopbackPort.free()
        let generatorPort = try LoopbackPort.free()
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: [
            "run", "--data-dir", dir.path, "--port", String(port), "--generator-port", String(generatorPort),
            "--rate", "4000", "--roll-seconds", "1", "--log-level", "warning",
        ])
        try await LoopbackPort.waitUntilListening(port, timeout: .seconds(30)) {
            String(decoding: child.standardError, as: UTF8.self)
        }
        try await Task.sleep(for: .seconds(4))
        child.kill(SIGTERM)
        let status = await child.waitForExit()
        #expect(ChildProcess.exitCode(status) == 0, "\(String(decoding: child.standardError, as: UTF8.self))")

        // What the collector accepted is what the bus holds (it only acknowledges durable records).
        let bus = try LocalBus(directory: dir.appending("bus"))
        let topics = try await bus.topics()
        try await bus.close()
        func accepted(_ topic: String) -> Int64 {
            topics.first { $0.name == topic }?.partitions.reduce(0) { $0 + $1.highWatermark } ?? 0
        }
        let lake = dir.appending("lake")
        for (dataset, topic, id) in [("logs/raw", "logs.raw", "metadata.request_id"), ("events/activity", "events.activity", "event_id")] {
            let expected = accepted(topic)
            #expect(expected > 1000, "the generator sent too little to prove anything")
            let result = try await LakeTesting.runPython(LakeTesting.duckDBLakeCheck, arguments: [lake, dataset, id])
            let check = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.error)")
            #expect(check["rows"] as? Int == Int(expected), "\(dataset): \(check["rows"] ?? "-") rows, \(expected) accepted")
            #expect(check["distinct_ids"] as? Int == Int(expected))
            #expect(check["outside_hour"] as? Int == 0)
        }
    }
}
