import Foundation
@testable import LogpipeAnalytics
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeTesting
import Synchronization
import Testing

/// With an exchange, a merger publishes each emission as one publication named by the range
/// of window ends it claimed: these tests cut the ranges differently in two mergers (a
/// restart after a crash, two at once) and check the lake still holds one row per window.
@Suite("The whole-system publications' chain of claims")
struct ClaimTests {
    /// A lake as the publisher writes it: one file per publication, family and hour of
    /// window start, created exclusively (the first file of a name wins).
    final class Lake: Sendable {
        let files = Mutex<[String: AnalyticsOutput]>([:])

        /// Writes `publication`'s files, only the first `limit` of them (in name order) when given.
        func write(_ publication: AnalyticsPublication, limit: Int? = nil) {
            var out: [String: AnalyticsOutput] = [:]
            func hour(_ micros: Int64) -> Int64 { micros / 3_600_000_000 }
            let o = publication.output
            for r in o.clients { out["clients/\(hour(r.window.startMicros))/\(publication.fileName)", default: AnalyticsOutput()].clients.append(r) }
            for r in o.system { out["system/\(hour(r.window.startMicros))/\(publication.fileName)", default: AnalyticsOutput()].system.append(r) }
            for r in o.alerts { out["alerts/\(hour(r.window.startMicros))/\(publication.fileName)", default: AnalyticsOutput()].alerts.append(r) }
            files.withLock { files in
                for path in out.keys.sorted().prefix(limit ?? .max) where files[path] == nil { files[path] = out[path] }
            }
        }

        /// Every row of every file.
        var rows: AnalyticsOutput {
            files.withLock { $0.values.reduce(into: AnalyticsOutput()) { $0.append($1) } }
        }
    }

    /// Windows final 10 s after their end, so each slice closes some.
    static let configuration: AnalyticsConfiguration = {
        var c = AnalyticsConfiguration()
        c.allowedLatenessMicros = 10_000_000
        return c
    }()
    static let sources = (0..<3).map { TopicPartition(topic: "logs.raw", partition: Int32($0)) }
    static let flood = "203.0.113.7"
    static let records = 12_000

    /// Three partitions' final parts and watermarks after each of `steps` slices of 12,000
    /// generated records (10 minutes of event time, a flood in it); the last slice ends, with
    /// a record per partition 20 minutes on, past every window of them.
    static func reports(steps: Int) throws -> [[(watermark: Int64, parts: GlobalPartials)]] {
        let start = epoch0 + 17.25
        var generator = RecordGenerator(seed: 7, incidents: [Incident(kind: .ipFlood, subject: flood, start: start + 300, end: start + 420)])
        let lines = generator.logs(count: records, start: start, spacing: 0.05).split(separator: UInt8(ascii: "\n")).map { Array($0) }
        var analytics = (0..<3).map { _ in StreamAnalytics(configuration: configuration) }
        for i in analytics.indices { analytics[i].combinesAcrossPartitions = true }
        var out: [[(watermark: Int64, parts: GlobalPartials)]] = []
        for step in 0..<steps {
            let range = (lines.count * step / steps)..<(lines.count * (step + 1) / steps)
            var partitions = [[UInt8]](repeating: [], count: 3)
            for i in range { partitions[i % 3] += lines[i] + [UInt8(ascii: "\n")] }
            if step == steps - 1 {
                for p in 0..<3 { partitions[p] += Array(logLine(t: start + 1300 + Double(p) * 60, service: "closer-\(p)", ip: "10.0.0.9").utf8) }
            }
            var reports: [(watermark: Int64, parts: GlobalPartials)] = []
            for p in 0..<3 {
                _ = analytics[p].process(logs: try parseLogs(partitions[p]))
                reports.append((try #require(analytics[p].watermarkMicros(.logs)), analytics[p].takeGlobalParts(.logs) ?? GlobalPartials()))
            }
            out.append(reports)
        }
        return out
    }

    /// One row per system window and per (client window, IP), every record counted once,
    /// and one DDoS alert for the flood.
    static func expectOneRowPerWindow(_ lake: AnalyticsOutput, through end: Int64) {
        let system = lake.system.filter { $0.window.endMicros <= end }
        #expect(Set(system.map(\.window.startMicros)).count == system.count, "one system row per window")
        #expect(system.count == 11, "the 10 minutes of records (the closers' windows stay open)")
        #expect(system.reduce(0) { $0 + $1.requestCount } == Int64(records))
        let clients = lake.clients.map { "\($0.window.startMicros)/\($0.clientIp)" }
        #expect(Set(clients).count == clients.count, "one row per client window and IP")
        #expect(lake.clients.reduce(0) { $0 + $1.requestCount } == Int64(records))
        let ddos = lake.alerts.filter { $0.type == .ddos }
        #expect(ddos.count == 1 && ddos.first?.subject == flood, "\(ddos)")
    }

    /// A merger that claimed a range, wrote some of its files and died before recording
    /// it: its successor, further along (a larger global watermark, so it would cut
    /// elsewhere), publishes that range again exactly, under the same name, then goes on.
    @Test("a merger killed mid-publication, replaced by one further along: same names, one row per window")
    func crashMidPublication() async throws {
        let dir = try TemporaryDirectory(prefix: "analytics-claims-crash")
        defer { dir.remove() }
        let store = try LocalFileStore(root: dir.path)
        let exchange = GlobalWindowExchange(store: store)
        let steps = try Self.reports(steps: 2)
        let lake = Lake()
        /// A merger on the shared exchange, its publications collected in `into` and written to
        /// the lake (the first `limit` files of each only: a kill mid-publication).
        func merger(_ into: SinkTests.Publications, limit: Int? = nil) -> GlobalWindowCoordinator {
            GlobalWindowCoordinator(configuration: Self.configuration, expected: [.logs: Set(Self.sources)], store: nil,
                                    exchange: exchange, exchangeIntervalMicros: 0) { p in
                into.add(p)
                lake.write(p, limit: limit)
            }
        }
        /// Every partition reports both steps' parts (nothing was dropped) at step 2's watermark.
        func reportBothSteps(to merger: GlobalWindowCoordinator) async {
            for p in 0..<3 {
                var parts = steps[0][p].parts
                parts.combine(steps[1][p].parts)
                _ = await merger.report(Self.sources[p], stream: .logs, watermark: steps[1][p].watermark, parts: parts,
                                        knownEmitted: .min)
            }
        }
        let first = SinkTests.Publications()
        let a = merger(first, limit: 2)
        for p in 0..<3 {
            _ = await a.report(Self.sources[p], stream: .logs, watermark: steps[0][p].watermark, parts: steps[0][p].parts, knownEmitted: .min)
        }
        let crashed = try #require(first.items.withLock { $0 }.first)
        #expect(first.items.withLock { $0.count } == 1, "one publication for the whole emission")
        #expect(crashed.sequence == 0 && crashed.through == steps[0].map(\.watermark).min())
        #expect(lake.files.withLock { $0.count } == 2)
        // Killed before its record: the partitions dropped nothing, and the record is gone.
        try await store.delete("\(GlobalWindowExchange.directory(.logs))/\(GlobalWindowExchange.emittedName)")

        let second = SinkTests.Publications()
        await reportBothSteps(to: merger(second))
        let published = second.items.withLock { $0 }
        #expect(published.first == crashed, "the crashed range again, same name and content")
        let end = steps[1].map(\.watermark).min()!
        Self.expectChain(published, through: end)
        Self.expectOneRowPerWindow(lake.rows, through: end)
        #expect(await exchange.readEmitted(.logs)?.upTo == end)
        // The record covers the last claim: the claims before it are pruned.
        #expect(try await exchange.claimStarts(.logs) == [published.last!.sequence])

        // A merger starting from before the pruned claims, the record unreadable (being
        // rewritten), its partitions still holding every part: it must not claim from its own
        // position again, but see the chain has moved on and take it up where it stands.
        try await store.delete("\(GlobalWindowExchange.directory(.logs))/\(GlobalWindowExchange.emittedName)")
        let third = SinkTests.Publications()
        let c = merger(third)
        await reportBothSteps(to: c)
        #expect(third.items.withLock { $0 }.map(\.fileName) == [published.last!.fileName])
        #expect(await c.emitted(.logs) == end)
        Self.expectOneRowPerWindow(lake.rows, through: end)
    }

    /// Publications that follow one another along the chain: each range starts where the
    /// previous one ended, the first at the start, the last at `end`.
    static func expectChain(_ publications: [AnalyticsPublication], through end: Int64) {
        var from: Int64 = 0
        for p in publications {
            #expect(p.sequence == from && p.through.map { $0 > from } == true, "\(publications.map(\.fileName))")
            from = p.through ?? from
        }
        #expect(from == end)
    }

    /// Two workers both merging at once, each holding every partition (a rebalance's
    /// moment, neither reading the other's objects again), one reporting after every slice
    /// and the other after every second, at the same time: their global watermarks cut
    /// different ranges, yet both publish the same chain of claims, identical publications
    /// under the same names, and the lake keeps one row per window.
    @Test("two mergers emitting concurrently through one exchange, cutting differently: the same publications, one row per window")
    func concurrentMergers() async throws {
        let dir = try TemporaryDirectory(prefix: "analytics-claims-concurrent")
        defer { dir.remove() }
        let exchange = GlobalWindowExchange(store: try LocalFileStore(root: dir.path))
        let steps = try Self.reports(steps: 6)
        let lake = Lake()
        let byA = SinkTests.Publications(), byB = SinkTests.Publications()
        func coordinator(_ into: SinkTests.Publications) -> GlobalWindowCoordinator {
            GlobalWindowCoordinator(configuration: Self.configuration, expected: [.logs: Set(Self.sources)], store: nil,
                                    exchange: exchange, exchangeIntervalMicros: 3_600_000_000) { p in
                into.add(p)
                lake.write(p)
            }
        }
        let a = coordinator(byA), b = coordinator(byB)
        async let fromA: Void = {
            for step in steps {
                for p in 0..<3 {
                    _ = await a.report(Self.sources[p], stream: .logs, watermark: step[p].watermark, parts: step[p].parts, knownEmitted: .min)
                }
            }
        }()
        async let fromB: Void = {
            for i in stride(from: 1, to: steps.count, by: 2) {
                for p in 0..<3 {
                    var parts = steps[i - 1][p].parts
                    parts.combine(steps[i][p].parts)
                    _ = await b.report(Self.sources[p], stream: .logs, watermark: steps[i][p].watermark, parts: parts, knownEmitted: .min)
                }
            }
        }()
        _ = await (fromA, fromB)
        let end = steps[5].map(\.watermark).min()!
        let emittedA = await a.emitted(.logs), emittedB = await b.emitted(.logs)
        #expect(emittedA == end && emittedB == end)
        let publishedA = byA.items.withLock { $0 }, publishedB = byB.items.withLock { $0 }
        // B skips what A's record covered when B first read it; every range both published is
        // the same publication.
        let aByName = Dictionary(uniqueKeysWithValues: publishedA.map { ($0.fileName, $0) })
        #expect(publishedB.count >= 1 && publishedB.allSatisfy { aByName[$0.fileName] == $0 },
                "A: \(publishedA.map(\.fileName)), B: \(publishedB.map(\.fileName))")
        Self.expectChain(publishedA, through: end)
        Self.expectOneRowPerWindow(lake.rows, through: end)
    }
}
