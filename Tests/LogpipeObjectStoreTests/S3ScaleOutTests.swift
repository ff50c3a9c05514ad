#if Kafka
import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeKafka
import LogpipeLake
import LogpipeObjectStore
import LogpipeTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Several machines, one lake: three `logpipe stream` workers in one Kafka consumer group
/// (tansu) write one S3 lake (moto); one is killed with SIGKILL mid-stream while records
/// keep arriving. The survivors take its partitions over from the lake's commit records, and
/// pyarrow and DuckDB find every record exactly once.
@Suite(.serialized) struct S3ScaleOutTests {
    @Test func threeWorkersOneKilledOneS3LakeExactlyOnce() async throws {
        let binary = TestEnvironment.logpipeBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "no logpipe binary at \(binary)")
        try await TansuBroker.with { broker in
            try await MotoS3Server.withLakeBucket { server in
                let bus = try KafkaBus(configuration: KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers))
                try await bus.createTopic(TopicSpec(name: "logs.raw", partitions: 6))
                try await bus.createTopic(TopicSpec(name: "events.activity", partitions: 6))
                var generator = RecordGenerator(seed: 13)
                let start = 1_767_225_600.0
                let logs = generator.logs(count: 12_000, start: start, spacing: 0.3)
                let events = generator.events(count: 3_000, start: start, spacing: 1.2)
                let logLines = logs.split(separator: 0x0a)
                let eventLines = events.split(separator: 0x0a)
                func produce(_ fraction: Range<Double>) async throws {
                    for (topic, lines) in [("logs.raw", logLines), ("events.activity", eventLines)] {
                        let slice = lines[Int(Double(lines.count) * fraction.lowerBound)..<Int(Double(lines.count) * fraction.upperBound)]
                        let ndjson = Array(slice.joined(separator: [0x0a]))
                        try await LakeTesting.produceLines(bus, topic: topic, ndjson: ndjson)
                    }
                }
                try await produce(0..<0.4)

                let store = try server.store(prefix: "scale")
                var environment = ProcessInfo.processInfo.environment
                environment["AWS_ACCESS_KEY_ID"] = server.accessKeyId
                environment["AWS_SECRET_ACCESS_KEY"] = server.secretAccessKey
                environment["AWS_ENDPOINT_URL_S3"] = server.endpoint
                let directory = try TemporaryDirectory(prefix: "s3-scale-out")
                defer { directory.remove() }
                // A short session so the killed worker's partitions move within seconds.
                let arguments = ["stream", "--bus", broker.url, "--lake", "s3://lake/scale", "--data-dir", directory.path,
                                 "--api-port", "0", "--roll-seconds", "0.5", "--kafka-property", "session.timeout.ms=6000",
                                 "--log-level", "info"]
                var workers: [ChildProcess] = []
                defer { for worker in workers { worker.kill(SIGKILL) } }
                for _ in 0..<3 { workers.append(try ChildProcess(executable: binary, arguments: arguments, environment: environment)) }
                func errors() -> String {
                    workers.map { String(decoding: $0.standardError.suffix(1500), as: UTF8.self) }.joined(separator: "\n---\n")
                }
                func workerId(_ child: ChildProcess) -> String? {
                    let text = String(decoding: child.standardError, as: UTF8.self)
                    guard let line = text.split(separator: "\n").first(where: { $0.contains("stream configured") }),
                          let range = line.range(of: "worker=") else { return nil }
                    return String(line[range.upperBound...].prefix { $0 != " " })
                }
                func newest() async throws -> [CommitRecord] {
                    var records: [CommitRecord] = []
                    for topic in ["logs.raw", "events.activity"] {
                        for partition in 0..<Int32(6) {
                            if let r = try await PartitionCommitLog.newestRecord(store: store, topic: topic, partition: partition) { records.append(r) }
                        }
                    }
                    return records
                }

                // Mid-stream: each worker owns partitions and has committed records of one.
                try await eventually("each worker to commit records",
                                         timeout: .seconds(60), interval: .milliseconds(250), describe: errors) {
                    let ids = workers.compactMap(workerId)
                    guard ids.count == 3 else { return false }
                    let records = try await newest()
                    return ids.allSatisfy { id in records.contains { $0.owner == id && $0.nextOffset > 0 } }
                }
                let ids = workers.map { workerId($0)! }
                let orphaned = try await newest().filter { $0.owner == ids[0] }.map { "\($0.topic)-\($0.partition)" }
                #expect(!orphaned.isEmpty)
                let feeding = Task { try await produce(0.4..<1.0) }
                workers[0].kill(SIGKILL)
                #expect(ChildProcess.killedBySignal(await workers[0].waitForExit()) == SIGKILL)
                try await feeding.value

                let total = Int64(logLines.count + eventLines.count)
                try await eventually("the survivors to claim \(orphaned) and the lake to hold \(total) rows",
                                         timeout: .seconds(90), interval: .milliseconds(250), describe: errors) {
                    let records = try await newest()
                    let claimed = orphaned.allSatisfy { tp in records.contains { "\($0.topic)-\($0.partition)" == tp && ids[1...].contains($0.owner) } }
                    let rows = records.reduce(Int64(0)) { $0 + $1.totalRows }
                    if rows > total { throw LakeContractViolation("commit records count \(rows) rows, more than the \(total) produced") }
                    return claimed && rows == total
                }
                for worker in workers.dropFirst() { worker.kill(SIGTERM) }
                for worker in workers.dropFirst() {
                    let status = await worker.waitForExit()
                    #expect(ChildProcess.exitCode(status) == 0, "\(String(decoding: worker.standardError.suffix(2000), as: UTF8.self))")
                }
                try await bus.close()
                #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
                for (dataset, id, expected) in [("logs/raw", "metadata.request_id", logLines.count), ("events/activity", "event_id", eventLines.count)] {
                    let result = try await LakeTesting.runPython(pyarrowS3Check, arguments: [
                        "127.0.0.1:\(server.port)", "lake/scale", dataset, id, server.accessKeyId, server.secretAccessKey])
                    let check = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
                    #expect(check["rows"] as? Int == expected, "\(dataset): \(result.error)")
                    #expect(check["distinct_ids"] as? Int == expected, "\(dataset)")
                    #expect(check["outside_hour"] as? Int == 0, "\(dataset)")
                    #expect((check["foreign"] as? [Any])?.isEmpty == true, "\(dataset)")
                }
            }
        }
    }
}
#endif
