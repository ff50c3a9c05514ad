import Foundation
@testable import LogpipeAnalytics
import LogpipeBus
import LogpipeLake
import LogpipeTesting
import Synchronization
import Testing

/// With `writesBeside`, a report hands its emission's publication to a writer and returns:
/// these tests hold that publication at a gate and check that nothing counts as emitted
/// (returned to the partitions, recorded in the exchange) before it is delivered.
@Suite("Whole-system publications written beside the partitions")
struct PublicationWriterTests {
    /// Holds deliveries until opened.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

        /// Deliveries waiting now.
        var waiting: Int { state.withLock { $0.waiting.count } }

        func pass() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let open = state.withLock { s in
                    if !s.open { s.waiting.append(c) }
                    return s.open
                }
                if open { c.resume() }
            }
        }

        func open() {
            let waiting = state.withLock { s in
                s.open = true
                defer { s.waiting = [] }
                return s.waiting
            }
            for c in waiting { c.resume() }
        }
    }

    @Test("a report returns while its emission is written; the record and the partitions' emitted end wait for the files")
    func recordWaitsForDelivery() async throws {
        let dir = try TemporaryDirectory(prefix: "analytics-writer")
        defer { dir.remove() }
        let exchange = GlobalWindowExchange(store: try LocalFileStore(root: dir.path))
        let steps = try ClaimTests.reports(steps: 2)
        let lake = ClaimTests.Lake()
        let published = SinkTests.Publications()
        let gate = Gate()
        let coordinator = GlobalWindowCoordinator(
            configuration: ClaimTests.configuration, expected: [.logs: Set(ClaimTests.sources)], store: nil,
            exchange: exchange, exchangeIntervalMicros: 0, writesBeside: true) { p in
            await gate.pass()
            published.add(p)
            lake.write(p)
        }
        var emitted: [Int64] = []
        for p in 0..<3 {
            emitted.append(await coordinator.report(ClaimTests.sources[p], stream: .logs, watermark: steps[0][p].watermark,
                                                    parts: steps[0][p].parts, knownEmitted: .min))
        }
        let first = steps[0].map(\.watermark).min()!
        // The third report emitted the first slice's windows: claimed, handed over, not delivered.
        #expect(await coordinator.emitted(.logs) == first)
        #expect(try await exchange.claimStarts(.logs).count == 1, "the range is claimed")
        #expect(emitted == [.min, .min, .min], "no partition may drop windows not yet written")
        #expect(published.items.withLock { $0.isEmpty })
        #expect(await exchange.readEmitted(.logs) == nil, "no record before the files")
        let deadline = ContinuousClock.now + .seconds(30)
        while gate.waiting == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(gate.waiting == 1, "the delivery runs beside the reports")

        gate.open()
        await coordinator.finish()
        #expect(published.items.withLock { $0.map(\.fileName) } == ["part-logs-global-0-000000000000-\(first).json"])
        #expect(await exchange.readEmitted(.logs)?.upTo == first, "recorded once delivered")

        for p in 0..<3 {
            emitted[p] = await coordinator.report(ClaimTests.sources[p], stream: .logs, watermark: steps[1][p].watermark,
                                                  parts: steps[1][p].parts, knownEmitted: .min)
        }
        await coordinator.finish()
        let end = steps[1].map(\.watermark).min()!
        let all = published.items.withLock { $0 }
        ClaimTests.expectChain(all, through: end)
        #expect(all.count == 2)
        ClaimTests.expectOneRowPerWindow(lake.rows, through: end)
        #expect(await exchange.readEmitted(.logs)?.upTo == end)
        // The next report learns it all may be dropped.
        let after = await coordinator.report(ClaimTests.sources[0], stream: .logs, watermark: steps[1][0].watermark,
                                             parts: nil, knownEmitted: .min)
        #expect(after == end)
    }
}
