import Foundation
@testable import LogpipeAnalytics
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeTesting
import Testing

@Suite("The whole-system windows' exchange between workers")
struct ExchangeTests {
    /// Two workers both merging for a moment (a rebalance: both believe they own the lowest
    /// partition, and neither has read the other's record of what it emitted) publish the
    /// same windows under the same names with the same content, so a lake that keeps the
    /// first file of a name holds one row per window and one DDoS alert.
    @Test("two mergers at once publish identical publications under the same names")
    func overlappingMergers() async throws {
        let dir = try TemporaryDirectory(prefix: "analytics-exchange")
        defer { dir.remove() }
        let exchange = GlobalWindowExchange(store: try LocalFileStore(root: dir.path))
        let flood = "203.0.113.7"
        let start = epoch0 + 17.25
        var generator = RecordGenerator(seed: 7, incidents: [Incident(kind: .ipFlood, subject: flood, start: start + 300, end: start + 420)])
        var lines = generator.logs(count: 12_000, start: start, spacing: 0.05).split(separator: UInt8(ascii: "\n")).map { Array($0) }
        // Each partition's watermark ends past every data window; partition 2 ends furthest.
        for (p, extra) in [(0, 1300.0), (1, 1300.0), (2, 1400.0)] {
            lines.append(Array(logLine(t: start + extra, service: "closer-\(p)", ip: "10.0.0.9").utf8))
        }
        var partitions = [[UInt8]](repeating: [], count: 3)
        for (i, line) in lines.enumerated() {
            let p = i >= lines.count - 3 ? i - (lines.count - 3) : i % 3
            partitions[p] += line + [UInt8(ascii: "\n")]
        }
        let sources = (0..<3).map { TopicPartition(topic: "logs.raw", partition: Int32($0)) }
        var reports: [(watermark: Int64, parts: GlobalPartials)] = []
        for p in 0..<3 {
            var analytics = StreamAnalytics()
            analytics.combinesAcrossPartitions = true
            _ = analytics.process(logs: try parseLogs(partitions[p]))
            let taken = analytics.takeGlobalParts(.logs)
            let parts = try #require(taken)
            let watermark = try #require(analytics.watermarkMicros(.logs))
            reports.append((watermark, parts))
        }

        let attempts = SinkTests.Publications()
        func coordinator(interval: Int64) -> GlobalWindowCoordinator {
            GlobalWindowCoordinator(configuration: AnalyticsConfiguration(), expected: [.logs: Set(sources)], store: nil,
                                    exchange: exchange, exchangeIntervalMicros: interval) { attempts.add($0) }
        }
        let a = coordinator(interval: 0)
        let b = coordinator(interval: 3_600_000_000)
        func report(_ c: GlobalWindowCoordinator, _ p: Int) async -> Int64 {
            await c.report(sources[p], stream: .logs, watermark: reports[p].watermark, parts: reports[p].parts, knownEmitted: .min)
        }
        // A owns 0 and 1; B owns 2 and reads the exchange once, before anything is emitted.
        _ = await report(a, 0)
        _ = await report(a, 1)
        _ = await report(b, 2)
        let fromA = attempts.items.withLock { $0 }
        #expect(fromA.isEmpty)
        // A reads partition 2's object and emits; B, not reading again, takes partition 0 too and emits.
        let emittedByA = await report(a, 1)
        let countA = attempts.items.withLock { $0.count }
        let emittedByB = await report(b, 0)
        let all = attempts.items.withLock { $0 }
        let minWatermark = reports.map(\.watermark).min()!
        #expect(emittedByA == minWatermark && emittedByB == minWatermark)
        // One emission each: one publication each, of the range A claimed.
        #expect(countA >= 1 && all.count == 2 * countA, "both merged: \(countA) then \(all.count)")

        var firstByName: [String: AnalyticsPublication] = [:]
        for p in all {
            #expect(p.topic == "logs-global")
            if let first = firstByName[p.fileName] {
                #expect(first == p, "publication \(p.fileName) differs between the mergers")
            } else {
                firstByName[p.fileName] = p
            }
        }
        let lake = firstByName.values.reduce(into: AnalyticsOutput()) { $0.append($1.output) }
        #expect(Set(lake.system.map(\.window.startMicros)).count == lake.system.count)
        #expect(lake.system.reduce(0) { $0 + $1.requestCount } == 12_000)
        let ddos = lake.alerts.filter { $0.type == .ddos }
        #expect(ddos.count == 1 && ddos.first?.subject == flood, "\(ddos)")
        // What the exchange recorded: everything up to the smallest watermark.
        #expect(await exchange.readEmitted(.logs)?.upTo == minWatermark)
    }

    /// In a `--once` backfill a partition that has caught up stops reporting; when it is the
    /// lowest one, its worker must still merge the others' windows as they pass.
    @Test("a lone worker whose lowest partition stopped reporting still emits")
    func quietLowestPartition() async throws {
        let dir = try TemporaryDirectory(prefix: "analytics-exchange-quiet")
        defer { dir.remove() }
        let sources = (0..<2).map { TopicPartition(topic: "logs.raw", partition: Int32($0)) }
        var reports: [(watermark: Int64, parts: GlobalPartials)] = []
        for p in 0..<2 {
            var analytics = StreamAnalytics()
            analytics.combinesAcrossPartitions = true
            // Partition 0 runs far ahead; partition 1 passes the first minute only later.
            let lines = [logLine(t: epoch0 + 10, service: "s\(p)"), logLine(t: epoch0 + (p == 0 ? 3600 : 30), service: "s\(p)")]
            _ = analytics.process(logs: try logBatch(lines))
            reports.append((try #require(analytics.watermarkMicros(.logs)), analytics.takeGlobalParts(.logs) ?? GlobalPartials()))
        }
        let publications = SinkTests.Publications()
        let coordinator = GlobalWindowCoordinator(
            configuration: AnalyticsConfiguration(), expected: [.logs: Set(sources)], store: nil,
            exchange: GlobalWindowExchange(store: try LocalFileStore(root: dir.path))) { publications.add($0) }
        _ = await coordinator.report(sources[0], stream: .logs, watermark: reports[0].watermark, parts: reports[0].parts, knownEmitted: .min)
        try await Task.sleep(for: .milliseconds(2_500))
        var later = StreamAnalytics()
        later.combinesAcrossPartitions = true
        _ = later.process(logs: try logBatch([logLine(t: epoch0 + 10, service: "s1"), logLine(t: epoch0 + 3600, service: "s1")]))
        let emitted = await coordinator.report(sources[1], stream: .logs, watermark: try #require(later.watermarkMicros(.logs)),
                                               parts: later.takeGlobalParts(.logs), knownEmitted: .min)
        #expect(emitted > Int64((epoch0 + 60) * 1_000_000))
        let system = publications.items.withLock { $0 }.flatMap(\.output.system)
        #expect(system.first { $0.window.startMicros == Int64(epoch0 * 1_000_000) }?.requestCount == 2)
    }

    /// A round reads only objects that changed, decodes parts only of partitions this worker
    /// does not hold newer itself, and reads a torn object again until it reads back whole.
    @Test("unchanged objects are not read again; own newer partitions' parts are not decoded; a torn object is retried")
    func incrementalReads() async throws {
        let dir = try TemporaryDirectory(prefix: "analytics-exchange-incremental")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        let exchange = GlobalWindowExchange(store: store)
        var analytics = StreamAnalytics()
        analytics.combinesAcrossPartitions = true
        _ = analytics.process(logs: try logBatch([logLine(t: epoch0 + 10, service: "a", ip: "10.0.0.1"),
                                                  logLine(t: epoch0 + 20, service: "b", ip: "10.0.0.2"),
                                                  logLine(t: epoch0 + 900, service: "a")]))
        let taken = analytics.takeGlobalParts(.logs)
        let parts = try #require(taken)
        let watermark = try #require(analytics.watermarkMicros(.logs))
        let tp = TopicPartition(topic: "logs.raw", partition: 0)
        try await exchange.write(.logs, tp, ExchangeReport(watermark: watermark, reportedAtMicros: 1_000, parts: parts))

        let first = try await exchange.readChanged(.logs, known: [:], current: { _, _ in false })
        let report = try #require(first.reports[tp])
        #expect(first.reports.count == 1 && first.stamps.count == 1)
        #expect(report.watermark == watermark && report.reportedAtMicros == 1_000)
        #expect(report.parts.clientParts == parts.clientParts && report.parts.system.count == parts.system.count)
        #expect(report.parts.clientParts == 2 && report.parts.system.count == 1)

        let again = try await exchange.readChanged(.logs, known: first.stamps, current: { _, _ in false })
        #expect(again.reports.isEmpty && again.stamps.isEmpty)

        // This worker reported the partition at 1,000 itself: only the header is read.
        let own = try await exchange.readChanged(.logs, known: [:], current: { $0 == tp && $1 <= 1_000 })
        #expect(own.reports[tp]?.watermark == watermark && own.reports[tp]?.parts.isEmpty == true)

        // Caught mid-write: left out and not remembered, so the next round reads it again.
        let path = "\(GlobalWindowExchange.directory(.logs))/logs.raw-0"
        let whole = try await store.read(path)
        try await store.write(path, contents: Array(whole.prefix(whole.count / 2)))
        let torn = try await exchange.readChanged(.logs, known: first.stamps, current: { _, _ in false })
        #expect(torn.reports.isEmpty && torn.stamps.isEmpty)
        try await exchange.write(.logs, tp, ExchangeReport(watermark: watermark + 60_000_000, reportedAtMicros: 2_000, parts: GlobalPartials()))
        let rewritten = try await exchange.readChanged(.logs, known: first.stamps, current: { _, _ in false })
        #expect(rewritten.reports[tp]?.watermark == watermark + 60_000_000 && rewritten.reports[tp]?.reportedAtMicros == 2_000)
    }

    /// A worker that hears of no other worker writes its partitions' objects only as the
    /// heartbeat (nobody merges from them), and follows its state at every interval again
    /// from the round after another worker's object shows up.
    @Test("a lone worker writes its exchange objects only as the heartbeat, until another worker appears")
    func loneWorkerHeartbeat() async throws {
        let dir = try TemporaryDirectory(prefix: "analytics-exchange-lone")
        defer { dir.remove() }
        let exchange = GlobalWindowExchange(store: try LocalFileStore(root: dir.path))
        let sources = (0..<2).map { TopicPartition(topic: "logs.raw", partition: Int32($0)) }
        // Interval 0: a worker that is not alone writes at every report; the idle timeout
        // (30 s, so a 15 s heartbeat) is far longer than the test.
        let coordinator = GlobalWindowCoordinator(configuration: AnalyticsConfiguration(), expected: [.logs: Set(sources)],
                                                  store: nil, exchange: exchange, exchangeIntervalMicros: 0) { _ in }
        let minute: Int64 = 60_000_000
        let base = Int64(epoch0 * 1_000_000)
        func report(_ p: Int, _ watermark: Int64) async {
            _ = await coordinator.report(sources[p], stream: .logs, watermark: watermark, parts: nil, knownEmitted: .min)
        }
        func written(_ p: Int) async throws -> Int64? {
            try await exchange.readChanged(.logs, known: [:], current: { _, _ in false }).reports[sources[p]]?.watermark
        }
        // First reports: each partition's object is written once.
        await report(0, base + minute)
        await report(1, base + minute)
        let first = (try await written(0), try await written(1))
        #expect(first.0 == base + minute && first.1 == base + minute)
        // Alone: a newer watermark is not written.
        await report(0, base + 2 * minute)
        await report(1, base + 2 * minute)
        #expect(try await written(0) == base + minute)
        // Another worker takes partition 1 and writes its object, newer than this worker's report.
        try await exchange.write(.logs, sources[1], ExchangeReport(watermark: base + 3 * minute,
                                                                   reportedAtMicros: wallClockMicros() + 1_000_000, parts: GlobalPartials()))
        // The next round reads it; from the one after, partition 0's object follows its state.
        await report(0, base + 3 * minute)
        await report(0, base + 4 * minute)
        #expect(try await written(0) == base + 4 * minute)
        #expect(try await written(1) == base + 3 * minute)
    }

    /// Parts of two partitions carry service sets over their own tables of names; combined,
    /// and read back from an exchange object, they name the same services (an id past a
    /// full table is the overflow name).
    @Test("service sets over different partitions' name tables combine by name, also through an exchange object")
    func serviceTables() async throws {
        func part(_ names: [String], _ ids: [UInt32], requests: Int64) -> GlobalPartials {
            var set = SmallBitSet()
            for id in ids { set.insert(id) }
            var p = GlobalPartials()
            p.serviceNames = names
            p.clients[0] = ["10.0.0.1": ClientPartial(requests: requests, users: HyperLogLog(precision: 12), services: set)]
            p.system[0] = SystemPartial(requests: requests, errors: 0, responseTime: NumericSummary(), services: set,
                                        users: HyperLogLog(precision: 12))
            return p
        }
        var merged = part(["a", "b"], [0, 1], requests: 1)
        merged.combine(part(["c", "b"], [0, 1, 2], requests: 2))
        merged.combine(part(["a", "b", "c"], [0], requests: 4))
        let client = try #require(merged.clients[0]?["10.0.0.1"])
        #expect(client.requests == 7)
        #expect(merged.serviceNames(client.services) == ["a", "b", "c", ByteInterner.overflowName].sorted())
        #expect(merged.system[0]?.services.count == 4)

        let dir = try TemporaryDirectory(prefix: "analytics-exchange-services")
        defer { dir.remove() }
        let exchange = GlobalWindowExchange(store: try LocalFileStore(root: dir.path))
        let tp = TopicPartition(topic: "logs.raw", partition: 0)
        try await exchange.write(.logs, tp, ExchangeReport(watermark: 1, reportedAtMicros: 1, parts: merged))
        let read = try #require(try await exchange.readChanged(.logs, known: [:], current: { _, _ in false }).reports[tp]?.parts)
        let back = try #require(read.clients[0]?["10.0.0.1"])
        #expect(read.serviceNames(back.services) == merged.serviceNames(client.services))
        #expect(read.system[0].map { read.serviceNames($0.services) } == merged.serviceNames(client.services))
    }
}
