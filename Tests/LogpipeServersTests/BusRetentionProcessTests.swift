import Foundation
import LogpipeBus
import LogpipeTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The bus retention settings through the real `logpipe collect`: what the environment sets
/// is what the embedded bus's topic files hold, and a restart with other values changes
/// the existing topics, not only new ones.
@Suite(.serialized)
struct BusRetentionProcessTests {
    static let topics = ["events.activity", "events.activity.dlq", "logs.raw", "logs.raw.dlq"]

    /// Each topic's file under `bus/_topics`, as JSON.
    func topicFiles(_ bus: String) throws -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: bus + "/_topics") where name.hasSuffix(".json") {
            let data = try Data(contentsOf: URL(fileURLWithPath: bus + "/_topics/" + name))
            out[String(name.dropLast(5))] = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        }
        return out
    }

    /// Runs `logpipe collect` with `settings` as its only LOGPIPE_TOPICS_* variables until it
    /// listens, posts `records` logs, stops it with SIGTERM and returns its standard error.
    func collect(_ dir: TemporaryDirectory, _ settings: [String: String], records: Int) async throws -> String {
        let port = try LoopbackPort.free()
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LOGPIPE_TOPICS_") }
        environment.merge(settings) { _, new in new }
        let child = try await Ops.launch(["collect", "--data-dir", dir.path, "--port", String(port)], ports: [port], environment: environment)
        let now = Date().timeIntervalSince1970
        if records > 0 {
            try await Ops.post("http://127.0.0.1:\(port)/api/collect/logs",
                               ndjson: (0..<records).map { Ops.log("r-\($0)", service: "svc-\($0 % 5)", time: now) })
        }
        child.kill(SIGTERM)
        let status = await child.waitForExit()
        let error = String(decoding: child.standardError, as: UTF8.self)
        #expect(ChildProcess.exitCode(status) == 0, "\(error)")
        return error
    }

    @Test func retentionSettingsReachTheTopicFilesAndARestartChangesThem() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-retention")
        defer { dir.remove() }
        let bus = dir.appending("bus")

        let first = try await collect(dir, ["LOGPIPE_TOPICS_RETENTION_HOURS": "24", "LOGPIPE_TOPICS_RETENTION_MIB": "512"], records: 20)
        var files = try topicFiles(bus)
        #expect(files.keys.sorted() == Self.topics)
        for (topic, file) in files {
            #expect(file["retentionMaxAgeSeconds"] as? Int == 24 * 3600, "\(topic): \(file)")
            #expect(file["retentionMaxBytesPerPartition"] as? Int == 512 << 20, "\(topic): \(file)")
        }
        // New topics are created with the policy; nothing is changed afterwards.
        #expect(!first.contains("retention of"), "\(first)")

        let second = try await collect(dir, ["LOGPIPE_TOPICS_RETENTION_HOURS": "0"], records: 10)
        files = try topicFiles(bus)
        #expect(files.keys.sorted() == Self.topics)
        for (topic, file) in files {
            #expect(file["retentionMaxAgeSeconds"] == nil && file["retentionMaxBytesPerPartition"] == nil, "\(topic): \(file)")
            #expect(file["partitions"] as? Int == 3, "\(topic): \(file)")
        }
        for topic in Self.topics {
            #expect(second.contains("retention of \(topic) changed: 24 h → kept forever, 512 MiB per partition → no size limit"), "\(second)")
        }

        let third = try await collect(dir, ["LOGPIPE_TOPICS_RETENTION_HOURS": "1.5", "LOGPIPE_TOPICS_RETENTION_MIB": "64"], records: 0)
        for (topic, file) in try topicFiles(bus) {
            #expect(file["retentionMaxAgeSeconds"] as? Int == 5400, "\(topic): \(file)")
            #expect(file["retentionMaxBytesPerPartition"] as? Int == 64 << 20, "\(topic): \(file)")
        }
        #expect(third.contains("retention of logs.raw changed: kept forever → 1.5 h, no size limit → 64 MiB per partition"), "\(third)")

        // The records of both runs are all still there: nothing was over the new limits.
        let reader = try LocalBus(directory: bus, options: LocalBusOptions(access: .read))
        let all = try await BusContract.readAll(reader, topic: "logs.raw", partitions: 3)
        #expect(all.values.reduce(0) { $0 + $1.count } == 30)
        try await reader.close()
    }
}
