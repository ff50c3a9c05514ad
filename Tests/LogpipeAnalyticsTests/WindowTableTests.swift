@testable import LogpipeAnalytics
import LogpipeGenerator
import Testing

/// `WindowTable` moves slots down and rebuilds its index at every close, and remembers the
/// previous row's slot: checked here against a dictionary on random rows (interleaved keys,
/// late rows into older windows of a sliding spec) and random closes and drops.
@Suite("Window table: slots, close and drop against a model")
struct WindowTableTests {
    @Test("slots, close and drop over sliding windows equal a dictionary, for small and large ids and late rows")
    func windowTableModel() {
        let spec = WindowSpec.sliding(seconds: 180, every: 60)
        let minute: Int64 = 60_000_000
        var random = SeededRandom(seed: 11)
        var table = WindowTable<Int64>(spec: spec)
        var model: [TimeWindowKey: Int64] = [:]
        var now: Int64 = 1_000 * minute
        var watermark: Int64 = .min
        var closedCount = 0
        let bigID: UInt32 = 1 << 20
        for round in 0..<400 {
            let batch = UInt64(round + 1)
            var times: [Int64] = []
            var ids: [UInt32] = []
            for _ in 0..<random.below(200) {
                now += Int64(random.below(2_000_000))
                // Mostly on time; some rows reach back up to 6 minutes (older windows of
                // the same phase as open newer ones), never behind the watermark.
                let t = random.below(8) == 0 ? max(now - Int64(random.below(6)) * minute, watermark + 1) : now
                times.append(t)
                let id = UInt32(random.below(30))
                ids.append(random.below(5) == 0 ? bigID + id : id)
            }
            var slots: [Int32] = []
            let admitted = [Bool](repeating: true, count: times.count)
            for k in 0..<spec.windowsPerRecord {
                table.assignSlots(times, ids: ids, admitted: admitted, k: k, batch: batch, into: &slots) { 0 }
                for (row, s) in slots.enumerated() where s >= 0 {
                    table.states[Int(s)] += 1
                    let start = spec.lastStart(times[row]) - Int64(k) * spec.slideMicros
                    #expect(table.starts[Int(s)] == start && table.ids[Int(s)] == ids[row])
                    model[TimeWindowKey(start: start, id: ids[row]), default: 0] += 1
                }
            }
            // Close (or drop) what ends before a watermark a few minutes behind.
            watermark = max(watermark, now - Int64(random.below(8)) * minute)
            let due = model.filter { $0.key.start + spec.sizeMicros <= watermark }
            if round % 2 == 0 {
                let closed = table.close(upTo: watermark, batch: batch)
                let expected = due.sorted { ($0.key.start, $0.key.id) < ($1.key.start, $1.key.id) }
                #expect(closed.map { TimeWindowKey(start: $0.start, id: $0.id) } == expected.map(\.key))
                #expect(closed.map(\.state) == expected.map(\.value))
            } else {
                table.drop(upTo: watermark)
            }
            closedCount += due.count
            for key in due.keys { model[key] = nil }
            #expect(table.count == model.count)
            for s in 0..<table.count {
                #expect(model[TimeWindowKey(start: table.starts[s], id: table.ids[s])] == table.states[s])
            }
        }
        #expect(closedCount > 1_000 && model.count > 10)
    }
}
