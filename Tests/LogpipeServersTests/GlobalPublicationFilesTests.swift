import Foundation
import Logging
@testable import LogpipeAnalytics
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeRecords
import LogpipeServers
import LogpipeTesting
import Testing

/// How many lake files the whole-system publications make, through the real publisher.
@Suite("Whole-system publications in the lake: files per family and hour")
struct GlobalPublicationFilesTests {
    static let epoch0: Double = 1_768_176_000

    /// The lake's files under `family`, by name.
    static func files(_ root: String, _ family: String) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: root + "/" + family)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    }

    /// Three hours of one partition's records, emitted at once: with an exchange (as
    /// `logpipe stream` runs) one publication, so one file per family and hour; without
    /// one, one publication per window end, so one system file per minute. Both hold one
    /// row per window.
    @Test("a three-hour emission through the exchange is one file per family and hour; without an exchange, one per window end")
    func filesPerHour() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-global-files")
        defer { dir.remove() }
        var generator = RecordGenerator(seed: 5)
        var ndjson = generator.logs(count: 10_800, start: Self.epoch0, spacing: 1.0)
        if ndjson.last != UInt8(ascii: "\n") { ndjson.append(UInt8(ascii: "\n")) }
        ndjson += Array(#"{"timestamp":\#(Self.epoch0 + 4 * 3600),"level":"INFO","service":"closer","host":"h","message":"m"}"#.utf8)
        var reader = JSONBodyReader()
        var logs = LogBatch()
        let read = try reader.readLogs(body: ndjson, into: &logs)
        #expect(read.errors.isEmpty && logs.count == 10_801)
        var analytics = StreamAnalytics(logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        analytics.combinesAcrossPartitions = true
        _ = analytics.process(logs: logs)
        let watermark = try #require(analytics.watermarkMicros(.logs))
        let taken = analytics.takeGlobalParts(.logs)
        let parts = try #require(taken)
        let tp = TopicPartition(topic: "logs.raw", partition: 0)

        var systemFiles: [Int] = []
        for withExchange in [true, false] {
            let root = dir.appending(withExchange ? "exchange" : "alone")
            let lake = try LocalFileStore(root: root)
            let publisher = AnalyticsPublisher(store: lake, bus: nil, webhook: nil, logger: Logger(label: "test"))
            let coordinator = GlobalWindowCoordinator(configuration: AnalyticsConfiguration(), expected: [.logs: [tp]], store: nil,
                                                      exchange: withExchange ? GlobalWindowExchange(store: lake) : nil) {
                await publisher.publish($0)
            }
            let emitted = await coordinator.report(tp, stream: .logs, watermark: watermark, parts: parts, knownEmitted: .min)
            #expect(emitted == watermark)
            let system = Self.files(root, "metrics/system"), clients = Self.files(root, "metrics/clients")
            let rows = try system.flatMap { try String(contentsOfFile: root + "/metrics/system/" + $0, encoding: .utf8).split(separator: "\n") }
            let starts = try rows.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }.map { ($0["window"] as! [String: Any])["start_micros"] as! Int }
            #expect(rows.count == 180 && Set(starts).count == 180, "one row per minute of the three hours")
            if withExchange {
                // year=…/month=…/day=…/hour=H/part-logs-global-0-<from>-<through>.json
                #expect(system.count == 3 && clients.count == 3, "\(system) \(clients)")
                let name = "part-logs-global-0-000000000000-\(watermark).json"
                #expect(system.allSatisfy { $0.hasSuffix("/" + name) } && clients.allSatisfy { $0.hasSuffix("/" + name) })
            } else {
                #expect(clients.count == 36, "one per five-minute window")
            }
            systemFiles.append(system.count)
        }
        #expect(systemFiles == [3, 180])
    }
}
